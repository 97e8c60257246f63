"""Authentication of the REST API: JWT, API keys, the session cookie with its CSRF token;
the common error body for every refusal; OpenAPI and Swagger."""
from __future__ import annotations

import io
import json
import re

from sqlalchemy import func, select

from app.models import OrderEvent

from .conftest import assert_error, isolated

CUSTOM_ENDPOINTS = {
    "/api/v1/order/{pk}/hold": "post", "/api/v1/order/{pk}/release": "post",
    "/api/v1/order/{pk}/cancel": "post", "/api/v1/order/{pk}/note": "post",
    "/api/v1/order/{pk}/edit": "post", "/api/v1/order/{pk}/reallocate": "post",
    "/api/v1/stock_level/{pk}/adjust": "post", "/api/v1/stock_level/{pk}/bin": "post",
    "/api/v1/stock_level/receive": "post", "/api/v1/search/": "get",
    "/api/v1/shipment/order/{order_id}/pick": "post",
    "/api/v1/shipment/order/{order_id}/pack": "post",
    "/api/v1/shipment/order/{order_id}/ship": "post", "/api/v1/shipment/{pk}/tracking": "post",
    "/api/v1/return/": "post", "/api/v1/return/{pk}/receive": "post",
    "/api/v1/return/{pk}/refund": "post", "/api/v1/return/{pk}/authorize": "post",
    "/api/v1/return/{pk}/reject": "post", "/api/v1/return/{pk}/exchange": "post",
    "/api/v1/return/{pk}/exchange/paid": "post", "/api/v1/sync_conflict/{pk}/resolve": "post",
    "/api/v1/sync_conflict/bulk": "post", "/api/v1/sync_run/poll/{channel_id}": "post",
    "/api/v1/channel/{pk}/test-connection": "post", "/api/v1/channel/{pk}/repull": "post",
    "/api/v1/setting/": "get", "/api/v1/setting/{key}": "get",
    # a setting's value type depends on its key: PUT is documented once per key
    "/api/v1/setting/ship_by_days": "put", "/api/v1/setting/payment_hold": "put",
}


def notes(session, order_id):
    session.rollback()
    return session.scalar(select(func.count()).select_from(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.type == "note"))


# --- JWT --------------------------------------------------------------------------------

def test_jwt_login_and_bad_tokens(api, world):
    assert api.get("/api/v1/order/", as_="viewer").status_code == 200
    bad = api.get("/api/v1/order/", as_=None, headers={"Authorization": "Bearer not.a.jwt"})
    assert_error(bad, 401, code="unauthorized")  # Flask-JWT-Extended would say 422
    expired_like = api.post(f"/api/v1/order/{world.order_id}/note", {"text": "x"}, as_=None,
                            headers={"Authorization": "Bearer abc"})
    assert_error(expired_like, 401)
    wrong_password = api.post("/api/v1/security/login", as_=None, json={
        "username": "admin", "password": "nope", "provider": "db"})
    assert_error(wrong_password, 401)


# --- API keys ---------------------------------------------------------------------------

def _api_key(app, user, username):
    return app.appbuilder.sm.create_api_key(user(username), name="t")["key"]


def test_api_key_authenticates_with_the_users_roles(app, api, world, user, session):
    key = _api_key(app, user, "support")
    assert key.startswith("wb_")
    headers = {"Authorization": f"Bearer {key}"}
    assert api.get("/api/v1/order/", as_=None, headers=headers).status_code == 200
    note = api.post(f"/api/v1/order/{world.order_id}/note", {"text": "via key"}, as_=None,
                    headers=headers)
    assert note.status_code == 200
    assert note.get_json()["result"]["events"][0]["actor"] == "user:support"
    # support may not adjust stock, with a key either
    assert_error(api.post("/api/v1/stock_level/receive", {"quantity": 1}, as_=None,
                          headers=headers), 403)
    assert_error(api.get("/api/v1/order/", as_=None,
                         headers={"Authorization": "Bearer wb_bogus"}), 401)


# --- the session cookie and CSRF ---------------------------------------------------------

def test_cookie_write_without_csrf_token_is_refused_and_stores_nothing(browser, world,
                                                                      session):
    support = browser("support")
    assert support.get("/api/v1/order/").status_code == 200  # reads need no token
    url = f"/api/v1/order/{world.order_id}/note"
    refused = support.post(url, json={"text": "forged"})
    body = assert_error(refused, 400, "X-CSRFToken", "csrf_failed")
    assert "CSRF" in body["message"]
    wrong = support.post(url, json={"text": "forged"}, headers={"X-CSRFToken": "wrong"})
    assert_error(wrong, 400, code="csrf_failed")
    # a form post (what a hostile page can make a browser send) is refused too
    form = support.post(url, data={"text": "forged"})
    assert_error(form, 400, code="csrf_failed")
    assert notes(session, world.order_id) == 0


def test_cookie_write_with_the_csrf_token_is_accepted(browser, world, session):
    support = browser("support")
    accepted = support.post(f"/api/v1/order/{world.order_id}/note", json={"text": "ok"},
                            headers={"X-CSRFToken": support.csrf_token})
    assert accepted.status_code == 200, accepted.get_json()
    assert notes(session, world.order_id) == 1


def test_every_write_method_is_guarded(browser, world, session):
    ops = browser("operations")
    created = ops.post("/api/v1/warehouse/", json={"code": "X", "name": "X", "country": "US"})
    assert_error(created, 400, code="csrf_failed")
    put = ops.open("PUT", f"/api/v1/warehouse/{world.wh1.id}", json={"name": "Renamed"})
    assert_error(put, 400, code="csrf_failed")
    delete = ops.open("DELETE", f"/api/v1/warehouse/{world.wh2.id}")
    assert_error(delete, 400, code="csrf_failed")
    ok = ops.post("/api/v1/warehouse/", json={"code": "X", "name": "X", "country": "US"},
                  headers={"X-CSRFToken": ops.csrf_token})
    assert ok.status_code == 201


def test_a_bogus_bearer_token_cannot_ride_on_the_cookie(browser, world, session):
    support = browser("support")
    response = support.post(f"/api/v1/order/{world.order_id}/note", json={"text": "forged"},
                            headers={"Authorization": "Bearer forged.token.value"})
    assert_error(response, 401)
    assert notes(session, world.order_id) == 0


def test_anonymous_cookie_client_gets_401(app, world):
    client = app.test_client()
    response = isolated(app, client, "POST", f"/api/v1/order/{world.order_id}/note",
                        json={"text": "x"})
    assert_error(response, 401)


# --- the error body everywhere ------------------------------------------------------------

def test_unknown_routes_and_methods_use_the_error_body(api, world):
    assert_error(api.get("/api/v1/nothing_here/"), 404, code="not_found")
    assert_error(api.open("PATCH", f"/api/v1/order/{world.order_id}"), 405,
                 code="method_not_allowed")
    assert_error(api.post("/api/v1/order/", {"order_number": "x"}), 405)  # no generic write
    assert_error(api.get("/api/v1/order/?q=(((("), 400, "q")
    assert_error(api.post(f"/api/v1/order/{world.order_id}/note",
                          data="x" * (300 * 1024), headers={"Content-Type": "text/plain"}),
                 413, "body")


# --- OpenAPI / Swagger ---------------------------------------------------------------------

def test_openapi_lists_every_custom_endpoint(api):
    response = api.get("/api/v1/_openapi", as_="viewer")
    assert response.status_code == 200
    spec = response.get_json()
    for path, method in CUSTOM_ENDPOINTS.items():
        assert method in spec["paths"].get(path, {}), f"{method} {path} missing"
        assert spec["paths"][path][method].get("responses"), path
    hold = spec["paths"]["/api/v1/order/{pk}/hold"]["post"]
    assert hold["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/HoldIn")
    assert {"HoldIn", "EditIn", "AdjustIn", "ReceiveIn", "OrderDetail"} <= set(
        spec["components"]["schemas"])
    assert "/api/v1/channel/" in spec["paths"] and "delete" not in spec["paths"].get(
        "/api/v1/channel/{pk}", {})
    # every $ref resolves
    refs = set(re.findall(r'#/components/(schemas|responses)/([^"]+)"', json.dumps(spec)))
    assert not [(kind, name) for kind, name in refs if name not in spec["components"][kind]]
    # the channel's stored ciphertext is not even described
    assert "credentials_encrypted" not in response.get_data(as_text=True)
    channel_in = spec["components"]["schemas"]["ChannelApi.post"]["properties"]
    assert channel_in["credentials"].get("writeOnly") is True


def test_swagger_ui_is_served(browser):
    response = browser("admin").get("/swagger/v1")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()


def test_a_chunked_oversized_body_is_413(api, world, session):
    body = io.BytesIO(b'{"text": "' + b"x" * (400 * 1024) + b'"}')
    response = api.post(f"/api/v1/order/{world.order_id}/note", as_="admin", input_stream=body,
                        headers={"Content-Type": "application/json",
                                 "Transfer-Encoding": "chunked"},
                        environ_overrides={"wsgi.input_terminated": True})
    assert_error(response, 413, "body")
    assert notes(session, world.order_id) == 0
