"""No input gets a 500 (issue 10, point 3): one validation mechanism — the request guard
(app/request_guard.py), the bounded input schemas (BoundedSchemaMeta), the bounded
validation primitives and the list checks — answers every hostile value with a 422 naming
the field (or a 404 for an id that cannot exist), and stores nothing.

The sweeps walk the URL map, the APIs and the schemas, so a new endpoint is covered
without a line here. They run on both databases; PostgreSQL is where these inputs used to
fail (an INTEGER of 2**31, NUL in text, a negative OFFSET)."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from marshmallow import fields
from marshmallow.validate import Range
from sqlalchemy import func, select, text

from app.api import APIS
from app.api.base import WaybillModelApi
from app.api.schemas.common import InSchema
from app.extensions import db
from app.models import Setting
from app.services.core import settings as settings_service
from tests.api.conftest import assert_error

BIG = 2**31            # one beyond PostgreSQL's INTEGER
HUGE = 10**30
NUL = "bad\u0000text"
SURROGATE = "bad\ud800text"
# integer ids only: a `<key_uuid>` (API keys) names a UUID, not a row number
ID_PARAM_RE = re.compile(r"<(?:int:)?((?:\w*_)?(?:pk|id))>")


# Sign-in state, not data a request stores: a test's own sign-in writes a session row.
SIGN_IN_TABLES = frozenset({"login_sessions", "login_attempts"})


def _table_counts() -> dict[str, int]:
    """Rows per domain table: 'nothing stored' is these staying equal."""
    counts = {}
    for table in db.metadata.sorted_tables:
        if not table.name.startswith("ab_") and table.name not in SIGN_IN_TABLES:
            counts[table.name] = db.session.scalar(select(func.count()).select_from(table))
    db.session.commit()
    return counts


@pytest.fixture
def unchanged(world):
    """Asserts, after the test, that no domain table gained or lost a row."""
    before = _table_counts()
    yield world
    assert _table_counts() == before


def _id_rules(app, prefix: str):
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix) or not ID_PARAM_RE.search(rule.rule):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rules.append((method, ID_PARAM_RE.sub(str(BIG), rule.rule)))
    return rules


# --- ids in the URL: 404 -------------------------------------------------------------------

def test_every_api_path_id_beyond_integer_is_not_found(app, api, unchanged):
    rules = _id_rules(app, "/api/v1/")
    assert len(rules) > 30
    for method, url in rules:
        response = api.open(method, url, json={} if method in ("POST", "PUT") else None)
        body = assert_error(response, 404, code="not_found")
        assert "2147483648" in body["message"], (method, url, body)


def test_every_page_path_id_beyond_integer_is_not_found(app, browser, unchanged):
    client = browser("admin")
    rules = [(m, u) for m, u in _id_rules(app, "/") if not u.startswith(("/api/", "/webhooks/"))]
    assert len(rules) > 30
    for method, url in rules:
        if method == "POST":
            response = client.post(url, data={"csrf_token": client.csrf_token})
        else:
            response = client.get(url)
        assert response.status_code == 404, (method, url, response.status_code)


# --- numbers in bodies: 422 naming the field -----------------------------------------------

def _body_cases(w, version):
    order = w.order_id
    return [
        ("POST", "/api/v1/stock_level/{level}/adjust", {"delta": BIG, "reason": "count"}, "delta"),
        ("POST", "/api/v1/stock_level/{level}/adjust", {"delta": -BIG - 1, "reason": "x"}, "delta"),
        ("POST", "/api/v1/stock_level/receive",
         {"warehouse_id": BIG, "product_id": w.p1.id, "quantity": 1}, "warehouse_id"),
        ("POST", "/api/v1/stock_level/receive",
         {"warehouse_id": w.wh1.id, "product_id": w.p1.id, "quantity": BIG}, "quantity"),
        ("POST", "/api/v1/warehouse/", {"code": "W9", "name": "n", "country": "US",
                                         "priority": BIG}, "priority"),
        ("PUT", "/api/v1/warehouse/{wh}", {"priority": -BIG - 5}, "priority"),
        ("POST", "/api/v1/product/", {"sku": "N-1", "name": "n", "price": "1e30"}, "price"),
        ("POST", "/api/v1/product/", {"sku": "N-2", "name": "n", "reorder_point": BIG},
         "reorder_point"),
        ("POST", "/api/v1/order/bulk", {"action": "hold", "ids": [order, BIG], "reason": "x"},
         "ids"),
        ("POST", "/api/v1/order/bulk", {"action": "cancel", "ids": [HUGE], "reason": "x"}, "ids"),
        ("POST", "/api/v1/sync_conflict/bulk", {"action": "discard", "ids": [BIG],
                                                "reason": "x"}, "ids.0"),
        ("POST", f"/api/v1/order/{order}/release", {"hold_id": BIG}, "hold_id"),
        ("POST", f"/api/v1/order/{order}/lines", {"expected_version": BIG}, "expected_version"),
        ("POST", f"/api/v1/order/{order}/lines",
         {"expected_version": version, "remove": [BIG]}, "remove"),
        ("POST", f"/api/v1/order/{order}/lines",
         {"expected_version": version, "quantities": {str(BIG): 1}}, "quantities"),
        ("POST", f"/api/v1/order/{order}/cancel_lines",
         {"expected_version": version, "lines": {str(BIG): 1}, "reason": "x"}, "lines"),
        ("POST", f"/api/v1/shipment/order/{order}/ship", {"warehouse_id": BIG}, "warehouse_id"),
        ("POST", "/api/v1/return/", {"order_id": BIG, "lines": {"1": 1}}, "order_id"),
        ("POST", "/api/v1/return/", {"order_id": order, "lines": {"1": BIG}}, "lines.1"),
        ("POST", "/api/v1/sku_alias/", {"alias": "a-1", "product_id": BIG}, "product_id"),
        ("POST", "/api/v1/sync_conflict/1/resolve",
         {"resolution": "map_sku", "product_id": BIG}, "product_id"),
        ("PUT", "/api/v1/setting/ship_by_days", {"value": BIG}, "ship_by_days"),
        ("PUT", "/api/v1/setting/risk_review_threshold", {"value": "1e30"},
         "risk_review_threshold"),
    ]


def test_numbers_no_column_holds_are_refused_naming_the_field(api, unchanged):
    w = unchanged
    level = api.get("/api/v1/stock_level/?q=(page_size:1)").json["ids"][0]
    version = api.get(f"/api/v1/order/{w.order_id}").json["result"]["version"]
    for method, url, body, field in _body_cases(w, version):
        url = url.format(level=level, wh=w.wh1.id)
        response = api.open(method, url, json=body)
        assert response.status_code == 422, (url, body, response.json)
        error = assert_error(response, 422, code="validation_failed")
        assert any(f == field or f.startswith(field + ".") for f in error["errors"]), \
            (url, error)


# --- text that cannot be stored: 422 naming the field --------------------------------------

TEXT_CASES = [
    ("POST", "/api/v1/order/{order}/note", lambda v: {"text": v}, "text"),
    ("POST", "/api/v1/order/{order}/hold", lambda v: {"note": v}, "note"),
    ("POST", "/api/v1/order/{order}/cancel", lambda v: {"reason": v}, "reason"),
    ("POST", "/api/v1/order/{order}/edit",
     lambda v: {"expected_version": 1, "shipping_address": {"line1": v, "city": "Paris",
                                                            "country": "FR"}},
     "shipping_address.line1"),
    ("POST", "/api/v1/product/", lambda v: {"sku": "T-1", "name": v}, "name"),
    ("POST", "/api/v1/stock_level/{level}/adjust", lambda v: {"delta": 1, "reason": v},
     "reason"),
    ("PUT", "/api/v1/warehouse/{wh}", lambda v: {"name": v}, "name"),
    ("POST", "/api/v1/order/bulk", lambda v: {"action": "hold", "ids": [1], "reason": v},
     "reason"),
    ("POST", "/api/v1/security/login", lambda v: {"username": v, "password": "x",
                                                   "provider": "db"}, "username"),
]


@pytest.mark.parametrize("value", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_text_with_nul_or_surrogate_is_refused_naming_the_field(api, unchanged, value):
    w = unchanged
    level = api.get("/api/v1/stock_level/?q=(page_size:1)").json["ids"][0]
    for method, url, body, field in TEXT_CASES:
        url = url.format(order=w.order_id, level=level, wh=w.wh1.id)
        response = api.open(method, url, json=body(value))
        error = assert_error(response, 422, field=field, code="validation_failed")
        assert "character" in error["message"], error


@pytest.mark.parametrize("url", ["/api/v1/search/?q={v}", "/search?q={v}", "/search/?q={v}",
                                 "/api/v1/order/?q=(filters:!((col:order_number,opr:eq,value:'{v}')))",
                                 '/api/v1/order/?q={{"filters":[{{"col":"order_number","opr":"eq","value":"a\\u0000b"}}]}}'])
def test_nul_in_a_query_argument_is_refused(api, browser, url):
    url = url.format(v="a%00b")
    response = api.get(url) if url.startswith("/api/") else browser("support").get(url)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    if url.startswith("/api/"):
        body = assert_error(response, 422)
        assert any(f == "q" or f.startswith("q.") for f in body["errors"]), body


def test_html_form_with_nul_is_refused_and_stores_nothing(browser, unchanged):
    client = browser("admin")
    response = client.post(f"/orders/{unchanged.order_id}/note",
                           data={"csrf_token": client.csrf_token, "text": NUL})
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)


# --- lists: paging, sorting and filter values ----------------------------------------------

def _list_apis(app):
    return [v for v in app.appbuilder.baseviews
            if type(v) in APIS and isinstance(v, WaybillModelApi)]


LIST_ARGS = [("(page:-1)", "q.page"), ("(page:99999999999999999999)", "q.page"),
             ("(page_size:-1)", "q.page_size"), ("(page_size:0)", "q.page_size"),
             ("(page_size:100001)", "q.page_size")]


def test_every_api_list_refuses_pages_out_of_range(app, api):
    views = _list_apis(app)
    assert len(views) >= 12
    for view in views:
        for q, field in LIST_ARGS:
            response = api.get(f"/api/v1/{view.resource_name}/?q={q}")
            assert_error(response, 422, field=field, code="validation_failed")
        response = api.get(f"/api/v1/{view.resource_name}/?q=(order_column:no_such_column)")
        assert_error(response, 400, field="q")


def test_every_numeric_api_filter_refuses_a_number_no_column_holds(app, api):
    checked = 0
    for view in _list_apis(app):
        for column, operators in view.search_operators.items():
            if not (view.datamodel.is_relation(column) or view.datamodel.is_integer(column)):
                continue
            value = f"!({BIG})" if operators[0] in ("in", "not_in") else str(BIG)
            q = f"(filters:!((col:{column},opr:{operators[0]},value:{value})))"
            response = api.get(f"/api/v1/{view.resource_name}/?q={q}")
            assert_error(response, 422, field="q.filters.0.value")
            checked += 1
    assert checked >= 15


def _html_list_views(app):
    for view in app.appbuilder.baseviews:
        endpoint = f"{type(view).__name__}.list"
        if endpoint in app.view_functions and getattr(view, "order_columns", None) is not None:
            yield view


def test_every_html_list_refuses_bad_paging_and_sort_arguments(app, browser):
    client = browser("admin")
    checked = 0
    for view in _html_list_views(app):
        name = type(view).__name__
        url = app.url_map.bind("localhost").build(f"{name}.list")
        for args, field in ((f"page_{name}=-1", f"page_{name}"),
                            (f"page_{name}=99999999999999999999", f"page_{name}"),
                            (f"psize_{name}=-1", f"psize_{name}"),
                            (f"psize_{name}=99999999999", f"psize_{name}"),
                            (f"_oc_{name}=no_such_column&_od_{name}=asc", f"_oc_{name}"),
                            ("page=-1", "page")):
            response = client.get(f"{url}?{args}")
            assert response.status_code == 422, (url, args, response.status_code)
        checked += 1
    assert checked >= 15


def test_fab_file_downloads_are_not_found(app, browser):
    client = browser("admin")
    downloads = [r.rule for r in app.url_map.iter_rules() if r.endpoint.endswith(".download")]
    assert "/users/download/<string:filename>" in downloads
    for rule in downloads:
        response = client.get(rule.replace("<string:filename>", "x.csv"))
        # 403 where the admin role holds no permission on the view (FAB's own lists)
        assert response.status_code in (403, 404), rule
    assert client.get("/users/download/x.csv").status_code == 404


# --- settings: bounds declared with each definition ---------------------------------------

NUMERIC_SETTINGS = [d for d in settings_service.DEFINITIONS.values() if d.kind in ("int", "decimal")]


@pytest.mark.parametrize("definition", NUMERIC_SETTINGS, ids=lambda d: d.key)
def test_every_numeric_setting_has_bounds_enforced(api, definition):
    assert definition.minimum is not None and definition.maximum is not None
    url = f"/api/v1/setting/{definition.key}"
    for bad in (definition.maximum + 1, definition.minimum - 1, BIG, "1e30"):
        value = str(bad) if definition.kind == "decimal" else bad
        assert_error(api.put(url, json={"value": value}), 422, field=definition.key)
    top = str(definition.maximum) if definition.kind == "decimal" else definition.maximum
    response = api.put(url, json={"value": top})
    assert response.status_code == 200, response.json
    assert str(response.json["result"]["value"]) == str(top)
    assert str(response.json["result"]["maximum"]) == str(definition.maximum)


def test_ship_by_days_of_a_million_is_refused_and_a_stored_one_reads_as_default(
        api, session, actor):
    assert_error(api.put("/api/v1/setting/ship_by_days", json={"value": 1_000_000}), 422,
                 field="ship_by_days")
    # a value stored before the bounds existed does not break readers (every import)
    session.add(Setting(key="ship_by_days", value=BIG, updated_by="legacy",
                        updated_at=func.now()))
    session.commit()
    assert settings_service.get(session, "ship_by_days") == 2


# --- the schemas: every number field of every input schema is bounded ---------------------

def _all_in_schemas(cls=InSchema):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_in_schemas(sub)


def test_every_input_number_field_has_its_columns_range():
    checked = 0
    for schema in _all_in_schemas():
        for name, field in schema._declared_fields.items():
            inner = field.inner if isinstance(field, fields.List) else (
                field.value_field if isinstance(field, fields.Dict) else field)
            if isinstance(inner, (fields.Integer, fields.Decimal)):
                ranges = [v for v in inner.validators if isinstance(v, Range)]
                assert ranges, f"{schema.__name__}.{name} has no range"
                if isinstance(inner, fields.Integer):
                    assert ranges[0].max <= 2**31 - 1 and ranges[0].min >= -(2**31)
                else:
                    assert ranges[0].max <= Decimal("1e10")
                checked += 1
    assert checked >= 20


def test_messages_are_sentences_with_field_keys_kept(api, world):
    response = api.post(f"/api/v1/order/{world.order_id}/cancel", json={})
    body = assert_error(response, 422, field="reason", code="validation_failed")
    assert body["message"].rstrip(".") == "Enter a reason"
    level = api.get("/api/v1/stock_level/?q=(page_size:1)").json["result"][0]
    response = api.post(f"/api/v1/stock_level/{level['id']}/adjust",
                        json={"delta": -(level["on_hand"] + 317), "reason": "count"})
    body = assert_error(response, 422, field="delta")
    assert body["message"].startswith("That would leave -317 on hand while")
    response = api.post(f"/api/v1/order/{world.order_id}/edit",
                        json={"expected_version": 999, "email": "a@example.com"})
    body = assert_error(response, 409, field="expected_version", code="stale_version")
    assert body["message"].startswith("Someone else changed order")
    assert "reload it and try again" in body["message"]


@pytest.mark.parametrize("url, field", [
    ("/sync-conflicts/list/?channel=2147483648", "channel"),
    ("/sync-conflicts/list/?page=99999999999", "page"),
    ("/rules/list/?page=-3", "page"),
    ("/customers/list/?page=abc", "page"),
])
def test_our_own_list_arguments_are_bounded(browser, url, field):
    response = browser("admin").get(url)
    assert response.status_code == 422, (url, response.status_code)


@pytest.mark.parametrize("q, status", [
    ("(filters:!((col:status,opr:in,value:!f)))", 422),
    ('{"filters":[{"col":"placed_at","opr":"lt","value":"2803-11-13T03:24:58.3340+12:42"}]}', 200),
    ("(filters:!((col:placed_at,opr:gt,value:'not a date')))", 422),
])
def test_list_filter_values_of_the_wrong_shape(api, q, status):
    response = api.get(f"/api/v1/order/?q={q}")
    assert response.status_code == status, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("q, status, field", [
    # a number where a boolean column is filtered (PostgreSQL: boolean = double precision)
    ('{"filters":[{"col":"active","opr":"eq","value":-1.5e308}]}', 422, "q.filters.0.value"),
    ('{"filters":[{"col":"active","opr":"eq","value":true}]}', 200, None),
    # an argument FAB would ignore, an operator the list does not offer (found by schemathesis)
    ('{"filtres":[]}', 422, "q.filtres"),
    ('{"filters":[{"col":"sku","opr":"nope","value":"x"}]}', 400, "q"),
    # a JSON q whose text holds + & %: FAB decoded it twice
    ('{"filters":[{"col":"sku","opr":"eq","value":"A+B&C%41"}]}', 200, None),
])
def test_list_arguments_found_by_schemathesis(api, make, q, status, field):
    from urllib.parse import quote

    make.product("A+B&C%41")
    response = api.get(f"/api/v1/product/?q={quote(q)}")
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if field:
        assert field in response.get_json()["errors"]
    elif "A+B" in q:
        assert [row["sku"] for row in response.get_json()["result"]] == ["A+B&C%41"]
