"""/api/v1/order/<pk>/lines, /<pk>/cancel_lines and /bulk: per role, 409 on a stale
version, 422 naming the field with nothing stored, OpenAPI documented."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Order, OrderEvent, StockMovement
from app.services.fulfilment import shipments as fulfillment

from .conftest import assert_error

ROLES = ("admin", "support", "warehouse", "operations", "viewer")
AMEND = {"admin", "support"}


def snapshot(session, order_id):
    session.expire_all()
    order = session.get(Order, order_id)
    return (order.version, order.status,
            sorted((l.sku, l.quantity, l.quantity_cancelled, l.quantity_allocated)
                   for l in order.lines),
            session.scalar(select(func.count()).select_from(StockMovement)),
            session.scalar(select(func.count()).select_from(OrderEvent)))


def lines_of(body):
    return {line["sku"]: line for line in body["result"]["lines"]}


@pytest.mark.parametrize("role", ROLES)
def test_edit_lines_per_role(api, world, session, role):
    order = session.get(Order, world.order_id)
    line = next(l for l in order.lines if l.sku == "sku-1")
    response = api.post(f"/api/v1/order/{world.order_id}/lines", as_=role, json={
        "expected_version": order.version, "quantities": {str(line.id): 3},
        "add": [{"sku": "SKU-2", "quantity": 1, "unit_price": "5.00"}]})
    if role not in AMEND:
        assert_error(response, 403)
        return
    assert response.status_code == 200, response.get_json()
    lines = lines_of(response.get_json())
    assert lines["sku-1"]["quantity"] == 3 and lines["sku-1"]["quantity_allocated"] == 3
    assert [l["quantity"] for l in response.get_json()["result"]["lines"]
            if l["sku"] == "SKU-2"] == [1, 1]
    assert "lines" in response.get_json()["result"]["local_edits"]
    events = [e["type"] for e in response.get_json()["result"]["events"]]
    assert "lines_edited" in events


@pytest.mark.parametrize("role", ROLES)
def test_cancel_lines_per_role(api, world, session, role):
    order = session.get(Order, world.order_id)
    line = next(l for l in order.lines if l.sku == "sku-1")
    response = api.post(f"/api/v1/order/{world.order_id}/cancel_lines", as_=role, json={
        "expected_version": order.version, "lines": {str(line.id): 1}, "reason": "asked"})
    if role not in AMEND:
        assert_error(response, 403)
        return
    assert response.status_code == 200, response.get_json()
    got = lines_of(response.get_json())["sku-1"]
    assert (got["quantity_cancelled"], got["quantity_allocated"]) == (1, 1)


def test_stale_version_is_a_409_and_stores_nothing(api, world, session):
    order = session.get(Order, world.order_id)
    line = order.lines[0]
    stale = order.version
    assert api.post(f"/api/v1/order/{world.order_id}/hold", json={"note": "x"}).status_code == 200
    before = snapshot(session, world.order_id)
    for url, body in [("lines", {"quantities": {str(line.id): 5}}),
                      ("cancel_lines", {"lines": {str(line.id): 1}, "reason": "x"})]:
        response = api.post(f"/api/v1/order/{world.order_id}/{url}", as_="support",
                            json={"expected_version": stale, **body})
        body = assert_error(response, 409, field="expected_version", code="stale_version")
        assert "Someone else changed" in body["message"]
    assert snapshot(session, world.order_id) == before


@pytest.mark.parametrize("body, field, words", [
    ({"add": [{"sku": "NOPE", "quantity": 1, "unit_price": "1"}]}, "add.0.sku", "unknown SKU"),
    ({"add": [{"sku": "SKU-2", "quantity": -1, "unit_price": "1"}]}, "add.0.quantity", "negative"),
    ({"add": [{"sku": "SKU-2", "quantity": 0, "unit_price": "1"}]}, "add.0.quantity", "zero"),
    ({"add": [{"sku": "SKU-2", "quantity": 1, "unit_price": "-1"}]}, "add.0.unit_price",
     "negative"),
    ({"quantities": {"LINE": 0}}, "quantities.LINE", "remove the line"),
    ({"quantities": {"LINE": -3}}, "quantities.LINE", "negative"),
    ({"quantities": {"999999": 2}}, "quantities", "not a line"),
    ({"remove": ["abc"]}, "remove.0", "not a line id"),
    ({}, "lines", "give quantities"),
    ({"bogus": 1}, "bogus", ""),
])
def test_bad_line_edits_are_422_naming_the_field(api, world, session, body, field, words):
    order = session.get(Order, world.order_id)
    line_id = str(order.lines[0].id)
    body = {k: ({kk.replace("LINE", line_id): vv for kk, vv in v.items()}
                if isinstance(v, dict) else v) for k, v in body.items()}
    field = field.replace("LINE", line_id)
    before = snapshot(session, world.order_id)
    response = api.post(f"/api/v1/order/{world.order_id}/lines", as_="support",
                        json={"expected_version": order.version, **body})
    error = assert_error(response, 422, field=field)
    assert words in " ".join(error["errors"][field])
    assert snapshot(session, world.order_id) == before


@pytest.mark.parametrize("body, field", [
    ({"lines": {"LINE": -1}, "reason": "x"}, "lines.LINE"),
    ({"lines": {"LINE": 99}, "reason": "x"}, "lines.LINE"),
    ({"lines": {"LINE": 1}}, "reason"),
    ({"lines": {}, "reason": "x"}, "lines"),
    ({"lines": {"LINE": 1}, "reason": "x", "expected_version": None}, "expected_version"),
])
def test_bad_line_cancellations_are_422(api, world, session, body, field):
    order = session.get(Order, world.order_id)
    line_id = str(order.lines[0].id)
    body = {"expected_version": order.version,
            **{k: ({kk.replace("LINE", line_id): vv for kk, vv in v.items()}
                   if isinstance(v, dict) else v) for k, v in body.items()}}
    before = snapshot(session, world.order_id)
    response = api.post(f"/api/v1/order/{world.order_id}/cancel_lines", as_="support",
                        json=body)
    assert_error(response, 422, field=field.replace("LINE", line_id))
    assert snapshot(session, world.order_id) == before


def test_cancelling_shipped_units_is_refused_with_why(api, world, session):
    from app.services.core.actor import Actor

    admin = Actor.system()
    fulfillment.start_picking(session, world.order_id, admin)
    fulfillment.mark_packed(session, world.order_id, admin)
    fulfillment.ship(session, world.order_id, admin, carrier="UPS", tracking_number="1Z")
    order = session.get(Order, world.order_id)
    response = api.post(f"/api/v1/order/{world.order_id}/cancel_lines", as_="support", json={
        "expected_version": order.version, "lines": {str(order.lines[0].id): 1},
        "reason": "late"})
    body = assert_error(response, 409)
    assert "return" in body["message"]


def test_edit_after_picking_is_a_409(api, world, session):
    from app.services.core.actor import Actor

    fulfillment.start_picking(session, world.order_id, Actor.system())
    order = session.get(Order, world.order_id)
    response = api.post(f"/api/v1/order/{world.order_id}/lines", as_="support", json={
        "expected_version": order.version, "remove": [order.lines[0].id]})
    body = assert_error(response, 409, code="invalid_transition")
    assert "before picking" in body["message"]


# --- bulk -------------------------------------------------------------------------------------

@pytest.fixture
def two(world):
    other = world.make.order(world.channel, [("SKU-2", 1, "5")])
    return [world.order_id, other.id]


@pytest.mark.parametrize("action, allowed", [
    ("hold", {"admin", "support", "operations"}), ("release", {"admin", "support", "operations"}),
    ("cancel", {"admin", "support"}), ("reallocate", {"admin", "operations"})])
@pytest.mark.parametrize("role", ROLES)
def test_bulk_per_role(api, two, session, role, action, allowed):
    response = api.post("/api/v1/order/bulk", as_=role, json={
        "action": action, "ids": two, "reason": "batch"})
    if role not in allowed:
        assert_error(response, 403)
        session.expire_all()
        assert [session.get(Order, i).status for i in two] == ["allocated", "allocated"]
        return
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["result"]
    assert result["action"] == action
    if action == "release":  # nothing was held
        assert not result["succeeded"] and len(result["failed"]) == 2
        assert "no open hold" in result["failed"][0]["message"]
    else:
        assert [r["id"] for r in result["succeeded"]] == two and not result["failed"]


def test_bulk_reports_failures_with_why(api, two, session, world):
    response = api.post("/api/v1/order/bulk", json={
        "action": "cancel", "ids": [*two, 999999], "reason": "fraud"})
    result = response.get_json()["result"]
    assert len(result["succeeded"]) == 2
    assert result["failed"] == [{"id": 999999, "order_number": None, "code": "not_found",
                                 "message": "Order 999999 not found"}]
    again = api.post("/api/v1/order/bulk", json={"action": "cancel", "ids": two,
                                                  "reason": "fraud"}).get_json()["result"]
    assert not again["succeeded"] and "already cancelled" in again["failed"][0]["message"]


@pytest.mark.parametrize("body, field", [
    ({"action": "explode", "ids": [1]}, "action"),
    ({"action": "cancel", "ids": []}, "ids"),
    ({"action": "cancel", "ids": [1]}, "reason"),
    ({"action": "hold", "ids": [1], "reason": "x", "hold_reason": "nope"}, "hold_reason"),
    ({"action": "hold", "ids": ["x"], "reason": "x"}, "ids.0"),
])
def test_bulk_bad_input_is_422(api, two, session, body, field):
    response = api.post("/api/v1/order/bulk", json=body)
    assert_error(response, 422, field=field)
    session.expire_all()
    assert session.get(Order, two[0]).status == "allocated"


def test_new_endpoints_are_documented(api):
    spec = api.get("/api/v1/_openapi").get_json()
    paths = spec["paths"]
    for path in ("/api/v1/order/{pk}/lines", "/api/v1/order/{pk}/cancel_lines",
                 "/api/v1/order/bulk"):
        assert paths[path]["post"]["responses"], path
    body = paths["/api/v1/order/{pk}/lines"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/EditLinesIn")
    assert "409" in paths["/api/v1/order/{pk}/cancel_lines"]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert {"EditLinesIn", "CancelLinesIn", "BulkIn", "BulkOut"} <= set(schemas)
