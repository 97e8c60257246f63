"""/api/v1/order/: list, show and the actions hold, release, cancel, note, edit."""
from __future__ import annotations

import prison
import pytest
from sqlalchemy import func, select

from app.models import Order, OrderEvent, OrderHold, StockMovement
from app.services.fulfilment import shipments as fulfillment
from app.services.core.actor import Actor

from .conftest import assert_error

ROLES = ("admin", "support", "warehouse", "operations", "viewer")


def events_of(session, order_id, type_=None):
    query = select(OrderEvent).where(OrderEvent.order_id == order_id)
    if type_:
        query = query.where(OrderEvent.type == type_)
    session.expire_all()
    return session.scalars(query).all()


def count(session, model, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


# --- reading ------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_orders(api, world, role):
    listing = api.get("/api/v1/order/", as_=role)
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["count"] == 1
    row = body["result"][0]
    assert row["order_number"] == world.order.order_number
    assert row["channel"] == {"code": "shop"}
    assert row["open_holds"] == 0 and row["is_held"] is False
    assert row["total"] == "24.98"
    assert api.get(f"/api/v1/order/{world.order_id}", as_=role).status_code == 200


def test_anonymous_gets_401_with_the_error_body(api, world):
    assert_error(api.get("/api/v1/order/", as_=None), 401, code="unauthorized")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/hold", {}, as_=None), 401)


def test_show_has_lines_holds_allocations_and_events(api, world):
    body = api.get(f"/api/v1/order/{world.order_id}").get_json()
    order = body["result"]
    assert body["id"] == world.order_id
    assert [l["product_sku"] for l in order["lines"]] == ["SKU-1", "SKU-2"]
    assert order["lines"][0]["unit_price"] == "9.99"
    assert order["status"] == "allocated" and order["version"] >= 1
    assert order["holds"] == []
    assert {a["warehouse_code"] for a in order["allocations"]} == {"WH1"}
    assert {e["type"] for e in order["events"]} >= {"imported", "allocated"}
    assert order["channel_code"] == "shop"
    assert "raw_payload" not in order


def test_unknown_order_is_404(api, world):
    assert_error(api.get("/api/v1/order/999999"), 404, code="not_found")
    for action in ("hold", "release", "cancel", "note", "edit"):
        body = {"reason": "x", "text": "x", "expected_version": 1,
                "shipping_address": {"line1": "a", "city": "b", "country": "US"}}
        body = {k: v for k, v in body.items() if k in {
            "hold": {"reason"}, "release": set(), "cancel": {"reason"}, "note": {"text"},
            "edit": {"expected_version", "shipping_address"}}[action]}
        if action == "hold":
            body = {}
        assert_error(api.post(f"/api/v1/order/999999/{action}", body), 404)


def test_list_shows_open_hold_counts_without_n_plus_1(api, world, count_queries):
    for _ in range(12):
        order = world.make.order(world.channel, [("SKU-2", 1, "1.00")])
        api.post(f"/api/v1/order/{order.id}/hold", {"reason": "review"}, as_="support")
    api.get("/api/v1/order/")  # warm up (token, permissions)
    with count_queries() as few:
        small = api.get("/api/v1/order/?q=(page_size:2)")
    with count_queries() as many:
        big = api.get("/api/v1/order/?q=(page_size:13)")
    assert small.status_code == big.status_code == 200
    assert len(big.get_json()["result"]) == 13
    assert len(many.domain()) == len(few.domain()) <= 4, many.domain()
    held = [r for r in big.get_json()["result"] if r["is_held"]]
    assert len(held) == 12 and all(r["open_holds"] == 1 for r in held)


def test_list_filters_only_on_allowed_columns_and_operators(api, world):
    other = world.make.order(world.channel, [("SKU-2", 1, "1.00")])
    api.post(f"/api/v1/order/{other.id}/cancel", {"reason": "test"}, as_="support")
    rows = api.get("/api/v1/order/?q=(filters:!((col:status,opr:eq,value:cancelled)))")
    assert [r["id"] for r in rows.get_json()["result"]] == [other.id]
    by_number = api.get("/api/v1/order/", query_string={"q": prison.dumps(
        {"filters": [{"col": "order_number", "opr": "eq", "value": other.order_number}]})})
    assert by_number.get_json()["count"] == 1
    # "contains" would scan the table: not offered
    assert_error(api.get("/api/v1/order/?q=(filters:!((col:email,opr:ct,value:x)))"), 400, "q")
    assert_error(api.get("/api/v1/order/?q=(filters:!((col:order_number,opr:ct,value:x)))"),
                 400, "q")
    assert_error(api.get("/api/v1/order/?q=(order_column:total,order_direction:asc)"), 400, "q")


def test_page_size_defaults_to_25_and_is_capped_at_200(api, world, app):
    from app.api.orders import OrderApi

    assert OrderApi.page_size == 25 and OrderApi.max_page_size == 200
    body = api.get("/api/v1/order/?q=(page_size:100000)").get_json()
    assert body["count"] == 1


# --- hold / release ------------------------------------------------------------------------

@pytest.mark.parametrize("role,allowed", [("admin", True), ("support", True),
                                          ("operations", True), ("warehouse", False),
                                          ("viewer", False)])
def test_hold_permissions(api, world, session, role, allowed):
    response = api.post(f"/api/v1/order/{world.order_id}/hold",
                        {"reason": "manual", "note": "call the customer"}, as_=role)
    if allowed:
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["result"]["is_held"] is True
        assert len(events_of(session, world.order_id, "hold_placed")) == 1
    else:
        assert_error(response, 403, code="forbidden")
        assert count(session, OrderHold) == 0


def test_hold_then_release_writes_events_and_continues(api, world, session):
    held = api.post(f"/api/v1/order/{world.order_id}/hold", as_="support")  # no body: manual
    assert held.status_code == 200
    hold = held.get_json()["result"]["holds"][0]
    assert hold["reason"] == "manual" and hold["open"] is True
    assert hold["placed_by"] == "user:support"
    released = api.post(f"/api/v1/order/{world.order_id}/release",
                        {"hold_id": hold["id"], "note": "customer confirmed"}, as_="operations")
    assert released.status_code == 200, released.get_json()
    order = released.get_json()["result"]
    assert order["is_held"] is False
    assert order["holds"][0]["released_by"] == "user:operations"
    event = events_of(session, world.order_id, "hold_released")[0]
    assert event.actor == "user:operations" and event.user_id is not None


def test_hold_with_unknown_reason_is_422_and_stores_nothing(api, world, session):
    response = api.post(f"/api/v1/order/{world.order_id}/hold", {"reason": "bored"},
                        as_="support")
    assert_error(response, 422, "reason", "validation_failed")
    assert count(session, OrderHold) == 0
    assert events_of(session, world.order_id, "hold_placed") == []


def test_hold_with_oversized_note_or_unknown_field_is_422(api, world, session):
    assert_error(api.post(f"/api/v1/order/{world.order_id}/hold", {"note": "x" * 2001}),
                 422, "note")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/hold", {"colour": "red"}),
                 422, "colour")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/hold", {"note": 12}), 422, "note")
    assert count(session, OrderHold) == 0


def test_release_of_an_order_without_hold_is_409_and_unknown_hold_422(api, world, session):
    assert_error(api.post(f"/api/v1/order/{world.order_id}/release", {}), 409,
                 code="invalid_transition")
    api.post(f"/api/v1/order/{world.order_id}/hold", {"reason": "review"})
    assert_error(api.post(f"/api/v1/order/{world.order_id}/release", {"hold_id": 987654}),
                 422, "hold_id")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/release", {"hold_id": "one"}),
                 422, "hold_id")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/release", {"reason": "payment"}),
                 422, "reason")
    assert count(session, OrderHold, OrderHold.released_at.is_not(None)) == 0


def _ship(world, order_id):
    actor = Actor.system()
    fulfillment.start_picking(world.make.session, order_id, actor)
    fulfillment.mark_packed(world.make.session, order_id, actor)
    fulfillment.ship(world.make.session, order_id, actor, carrier="ups", tracking_number="1Z9")


def test_hold_of_a_shipped_order_is_409(api, world, session):
    _ship(world, world.order_id)
    assert_error(api.post(f"/api/v1/order/{world.order_id}/hold", {}), 409,
                 code="invalid_transition")
    assert count(session, OrderHold) == 0


# --- cancel ------------------------------------------------------------------------------

@pytest.mark.parametrize("role,allowed", [("admin", True), ("support", True),
                                          ("operations", False), ("warehouse", False),
                                          ("viewer", False)])
def test_cancel_permissions(api, world, session, role, allowed):
    response = api.post(f"/api/v1/order/{world.order_id}/cancel", {"reason": "customer asked"},
                        as_=role)
    if allowed:
        assert response.status_code == 200
        assert response.get_json()["result"]["status"] == "cancelled"
    else:
        assert_error(response, 403)
        assert session.get(Order, world.order_id).status == "allocated"


def test_cancel_releases_reservations_and_writes_event(api, world, session):
    response = api.post(f"/api/v1/order/{world.order_id}/cancel", {"reason": "fraud"},
                        as_="support")
    order = response.get_json()["result"]
    assert order["status"] == "cancelled" and order["cancel_reason"] == "fraud"
    assert order["synced_to_channel"] is False
    cancelled = events_of(session, world.order_id, "cancelled")
    assert [e.message for e in cancelled] == ["Cancelled: fraud"]
    releases = session.scalars(select(StockMovement).where(
        StockMovement.order_id == world.order_id, StockMovement.reason == "release")).all()
    assert releases and all(m.actor == "user:support" for m in releases)


def test_cancel_needs_a_reason_and_twice_is_409(api, world, session):
    assert_error(api.post(f"/api/v1/order/{world.order_id}/cancel", {}), 422, "reason")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/cancel", {"reason": "x" * 501}),
                 422, "reason")
    assert session.get(Order, world.order_id).status == "allocated"
    assert api.post(f"/api/v1/order/{world.order_id}/cancel", {"reason": "r"}).status_code == 200
    assert_error(api.post(f"/api/v1/order/{world.order_id}/cancel", {"reason": "r"}), 409,
                 code="invalid_transition")


def test_cancel_of_a_shipped_order_is_409(api, world, session):
    _ship(world, world.order_id)
    assert_error(api.post(f"/api/v1/order/{world.order_id}/cancel", {"reason": "late"}), 409)
    assert session.get(Order, world.order_id).status == "shipped"


# --- notes --------------------------------------------------------------------------------

def test_note_is_added_to_the_timeline(api, world, session):
    response = api.post(f"/api/v1/order/{world.order_id}/note", {"text": "Left a voicemail"},
                        as_="operations")
    assert response.status_code == 200
    notes = events_of(session, world.order_id, "note")
    assert [(n.message, n.actor) for n in notes] == [("Left a voicemail", "user:operations")]
    assert response.get_json()["result"]["events"][0]["type"] == "note"


def test_note_bad_input_is_422_naming_text(api, world, session):
    assert_error(api.post(f"/api/v1/order/{world.order_id}/note", {}), 422, "text")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/note", {"text": "   "}), 422, "text")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/note", {"text": "x" * 4001}), 422,
                 "text")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/note", {"text": ["a"]}), 422, "text")
    assert events_of(session, world.order_id, "note") == []
    assert_error(api.post(f"/api/v1/order/{world.order_id}/note", {"text": "hi"},
                          as_="warehouse"), 403)


def test_bad_json_body_is_422_naming_body(api, world, session, api_headers):
    headers = {**api_headers("admin"), "Content-Type": "application/json"}
    for raw in ("{not json", "[1, 2]", '"text"'):
        response = api.post(f"/api/v1/order/{world.order_id}/note", data=raw, as_=None,
                            headers=headers)
        assert_error(response, 422, "body")
    assert events_of(session, world.order_id, "note") == []


# --- edit ----------------------------------------------------------------------------------

NEW_ADDRESS = {"name": "Ada Lovelace", "line1": "2 Side St", "city": "Shelbyville",
               "postcode": "54321", "country": "US"}


def test_edit_changes_the_address_bumps_the_version_and_writes_an_event(api, world, session):
    version = api.get(f"/api/v1/order/{world.order_id}").get_json()["result"]["version"]
    response = api.post(f"/api/v1/order/{world.order_id}/edit",
                        {"expected_version": version, "shipping_address": NEW_ADDRESS,
                         "billing_address": {**NEW_ADDRESS, "line1": "3 Bill St"}},
                        as_="support")
    assert response.status_code == 200, response.get_json()
    order = response.get_json()["result"]
    assert order["shipping_address"]["line1"] == "2 Side St"
    assert order["billing_address"]["line1"] == "3 Bill St"
    assert order["version"] > version
    assert set(order["local_edits"]) == {"shipping_address", "billing_address"}
    assert len(events_of(session, world.order_id, "address_changed")) == 2


def test_edit_with_a_stale_version_is_409_and_stores_nothing(api, world, session):
    version = session.get(Order, world.order_id).version
    first = api.post(f"/api/v1/order/{world.order_id}/edit",  # someone else, a moment before
                     {"expected_version": version, "billing_address": NEW_ADDRESS})
    assert first.get_json()["result"]["version"] > version
    response = api.post(f"/api/v1/order/{world.order_id}/edit",
                        {"expected_version": version,
                         "shipping_address": {**NEW_ADDRESS, "line1": "9 Late St"}},
                        as_="support")
    assert_error(response, 409, "expected_version", "stale_version")
    session.expire_all()
    assert session.get(Order, world.order_id).shipping_address["line1"] == "1 Main St"
    assert len(events_of(session, world.order_id, "address_changed")) == 1


def test_edit_bad_input_is_422_naming_each_field_and_stores_nothing(api, world, session):
    version = session.get(Order, world.order_id).version
    url = f"/api/v1/order/{world.order_id}/edit"
    assert_error(api.post(url, {"shipping_address": NEW_ADDRESS}), 422, "expected_version")
    assert_error(api.post(url, {"expected_version": "v1", "shipping_address": NEW_ADDRESS}),
                 422, "expected_version")
    assert_error(api.post(url, {"expected_version": version}), 422, "body")
    body = assert_error(api.post(url, {
        "expected_version": version,
        "shipping_address": {**NEW_ADDRESS, "country": "USA", "line1": "x" * 300},
        "billing_address": {**NEW_ADDRESS, "planet": "Mars"},
    }), 422)
    assert {"shipping_address.country", "shipping_address.line1",
            "billing_address.planet"} <= set(body["errors"])
    # shipping valid, billing invalid: neither is stored
    assert_error(api.post(url, {"expected_version": version, "shipping_address": NEW_ADDRESS,
                                "billing_address": {"city": "x"}}), 422)
    session.expire_all()
    order = session.get(Order, world.order_id)
    assert order.version == version and order.shipping_address["line1"] == "1 Main St"
    assert events_of(session, world.order_id, "address_changed") == []


def test_edit_after_picking_is_409_and_needs_amend(api, world, session):
    version = session.get(Order, world.order_id).version
    assert_error(api.post(f"/api/v1/order/{world.order_id}/edit",
                          {"expected_version": version, "shipping_address": NEW_ADDRESS},
                          as_="operations"), 403)
    fulfillment.start_picking(session, world.order_id, Actor.system())
    version = session.get(Order, world.order_id).version
    assert_error(api.post(f"/api/v1/order/{world.order_id}/edit",
                          {"expected_version": version, "shipping_address": NEW_ADDRESS}), 409,
                 code="invalid_transition")


def test_list_count_stops_at_the_cap(api, world, app):
    for _ in range(3):
        world.make.order(world.channel, [("SKU-2", 1, "1.00")])
    app.config["OMS_LIST_COUNT_CAP"] = 2
    try:
        body = api.get("/api/v1/order/?q=(page_size:2)").get_json()
    finally:
        app.config["OMS_LIST_COUNT_CAP"] = 10000
    assert body["count"] == 2 and body["count_capped"] is True
    assert len(body["result"]) == 2
    body = api.get("/api/v1/order/?q=(page_size:2,page:1)").get_json()
    assert body["count"] == 4 and "count_capped" not in body


# --- reallocate ------------------------------------------------------------------------------

def test_reallocate_moves_reservations_to_the_better_warehouse(api, world, session):
    api.put(f"/api/v1/warehouse/{world.wh2.id}", {"priority": 1})
    api.post("/api/v1/stock_level/receive", {"warehouse": "WH2", "sku": "SKU-1", "quantity": 10})
    for role in ("support", "warehouse", "viewer"):
        assert_error(api.post(f"/api/v1/order/{world.order_id}/reallocate", as_=role), 403)
    response = api.post(f"/api/v1/order/{world.order_id}/reallocate", as_="operations")
    assert response.status_code == 200, response.get_json()
    order = response.get_json()["result"]
    assert order["status"] == "allocated"
    open_allocations = [a for a in order["allocations"] if a["status"] == "open"]
    assert {a["warehouse_code"] for a in open_allocations} == {"WH2"}
    released = session.scalars(select(StockMovement).where(
        StockMovement.order_id == world.order_id, StockMovement.reason == "release")).all()
    assert len(released) == 2 and all(m.actor == "user:operations" for m in released)


def test_reallocate_refusals(api, world, session):
    api.post(f"/api/v1/order/{world.order_id}/hold", {"reason": "review"})
    assert_error(api.post(f"/api/v1/order/{world.order_id}/reallocate"), 409,
                 code="invalid_transition")
    api.post(f"/api/v1/order/{world.order_id}/release", {})
    assert_error(api.post(f"/api/v1/order/{world.order_id}/reallocate", {"x": 1}), 422, "x")
    assert_error(api.post("/api/v1/order/999999/reallocate"), 404)
    _ship(world, world.order_id)
    assert_error(api.post(f"/api/v1/order/{world.order_id}/reallocate"), 409)


def test_list_filters_are_per_request_not_shared(api, world, app):
    """FAB keeps one Filters object per API; a request must not leave its filters there
    (two threads would otherwise see each other's)."""
    from app.api.orders import OrderApi

    view = next(v for v in app.appbuilder.baseviews if isinstance(v, OrderApi))
    api.get("/api/v1/order/?q=(filters:!((col:status,opr:eq,value:cancelled)))")
    assert view._filters.filters == [] and view._filters.values == []
    assert api.get("/api/v1/order/").get_json()["count"] == 1


def test_edit_contact_email_moves_the_order_to_that_customer(api, world, session):
    version = session.get(Order, world.order_id).version
    response = api.post(f"/api/v1/order/{world.order_id}/edit",
                        {"expected_version": version, "email": " Ada@Example.ORG ",
                         "phone": "+1 555 0100"}, as_="support")
    assert response.status_code == 200, response.get_json()
    order = response.get_json()["result"]
    assert order["email"] == "ada@example.org" and order["phone"] == "+1 555 0100"
    assert {"email", "phone"} <= set(order["local_edits"])
    [event] = events_of(session, world.order_id, "contact_changed")
    assert event.data["changes"]["email"] == {"old": "buyer@example.com",
                                              "new": "ada@example.org"}
    customers = api.get(
        "/api/v1/customer/?q=(filters:!((col:email,opr:eq,value:'ada@example.org')))")
    assert customers.get_json()["result"][0]["id"] == order["customer_id"]


def test_edit_malformed_email_is_422_and_stores_nothing(api, world, session):
    version = session.get(Order, world.order_id).version
    url = f"/api/v1/order/{world.order_id}/edit"
    body = assert_error(api.post(url, {"expected_version": version, "email": "not-an-email",
                                       "shipping_address": NEW_ADDRESS}), 422, "email")
    assert "shipping_address" not in str(body["errors"])
    assert_error(api.post(url, {"expected_version": version, "email": ""}), 422, "email")
    assert_error(api.post(url, {"expected_version": version, "email": "a@b.c" + "x" * 300}),
                 422, "email")
    assert_error(api.post(url, {"expected_version": version, "phone": "1" * 65}), 422, "phone")
    session.rollback()
    order = session.get(Order, world.order_id)
    assert order.email == "buyer@example.com" and order.version == version
    assert order.shipping_address["line1"] == "1 Main St"
    assert events_of(session, world.order_id, "contact_changed") == []
