"""Fulfilment and return actions: pick, pack, ship, tracking; create, receive, refund."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Order, OrderEvent, Refund, Return, ReturnLine, Shipment, StockLevel, StockMovement

from .conftest import assert_error


def count(session, model, *where):
    session.rollback()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def ship_it(api, order_id, as_="warehouse", **body):
    assert api.post(f"/api/v1/shipment/order/{order_id}/pick", as_=as_).status_code == 200
    assert api.post(f"/api/v1/shipment/order/{order_id}/pack", {}, as_=as_).status_code == 200
    return api.post(f"/api/v1/shipment/order/{order_id}/ship",
                    {"carrier": "ups", "tracking_number": "1Z1", **body}, as_=as_)


@pytest.mark.parametrize("role,allowed", [("admin", True), ("warehouse", True),
                                          ("support", False), ("operations", False),
                                          ("viewer", False)])
def test_pick_permissions(api, world, session, role, allowed):
    response = api.post(f"/api/v1/shipment/order/{world.order_id}/pick", as_=role)
    if allowed:
        assert response.status_code == 200
        assert response.get_json()["result"]["status"] == "picking"
    else:
        assert_error(response, 403)
        assert session.get(Order, world.order_id).status == "allocated"


def test_pick_pack_ship_and_deliver(api, world, session):
    shipped = ship_it(api, world.order_id)
    assert shipped.status_code == 201, shipped.get_json()
    shipment = shipped.get_json()["result"]
    assert shipment["tracking_number"] == "1Z1" and len(shipment["lines"]) == 2
    moves = session.scalars(select(StockMovement).where(
        StockMovement.reason == "shipment", StockMovement.order_id == world.order_id)).all()
    assert {m.on_hand_delta for m in moves} == {-2, -1}
    delivered = api.post(f"/api/v1/shipment/{shipment['id']}/tracking",
                         {"status": "delivered", "location": "Porch"}, as_="warehouse")
    assert delivered.status_code == 200
    assert delivered.get_json()["result"]["tracking_events"][0]["status"] == "delivered"
    session.rollback()
    assert session.get(Order, world.order_id).status == "delivered"


def test_fulfilment_refusals(api, world, session):
    url = f"/api/v1/shipment/order/{world.order_id}"
    assert_error(api.post(f"{url}/pack"), 409, code="invalid_transition")  # not picked
    assert_error(api.post(f"{url}/ship", {}), 409)  # not packed
    api.post(f"/api/v1/order/{world.order_id}/hold", {"reason": "review"})
    assert_error(api.post(f"{url}/pick"), 409)  # held
    assert_error(api.post(f"{url}/pick", {"now": True}), 422, "now")
    assert_error(api.post("/api/v1/shipment/order/999999/pick"), 404)
    assert count(session, Shipment) == 0


def test_ship_and_tracking_bad_input_is_422(api, world, session):
    api.post(f"/api/v1/shipment/order/{world.order_id}/pick")
    api.post(f"/api/v1/shipment/order/{world.order_id}/pack")
    url = f"/api/v1/shipment/order/{world.order_id}/ship"
    assert_error(api.post(url, {"service": "x" * 65}), 422, "service")
    assert_error(api.post(url, {"tracking_number": "x" * 65}), 422, "tracking_number")
    assert_error(api.post(url, {"warehouse_id": world.wh2.id}), 422, "warehouse_id")
    assert count(session, Shipment) == 0
    shipment_id = api.post(url, {}).get_json()["id"]
    tracking = f"/api/v1/shipment/{shipment_id}/tracking"
    assert_error(api.post(tracking, {"status": "teleported"}), 422, "status")
    assert_error(api.post(tracking, {}), 422, "status")
    assert_error(api.post(tracking, {"status": "in_transit", "location": "x" * 256}), 422,
                 "location")
    assert_error(api.post("/api/v1/shipment/999999/tracking", {"status": "in_transit"}), 404)


# --- returns --------------------------------------------------------------------------------

@pytest.fixture
def shipped(api, world):
    assert ship_it(api, world.order_id).status_code == 201
    return world


def test_return_create_receive_refund(api, shipped, session):
    line = shipped.order.lines[0]
    created = api.post("/api/v1/return/", {"order_id": shipped.order_id,
                                           "lines": {str(line.id): 1}, "reason": "too_large"},
                       as_="support")
    assert created.status_code == 201, created.get_json()
    ret = created.get_json()["result"]
    assert ret["status"] == "requested" and ret["lines"][0]["quantity"] == 1
    assert ret["lines"][0]["reason_code"] == "too_large"
    authorized = api.post(f"/api/v1/return/{ret['id']}/authorize", as_="support")
    assert authorized.get_json()["result"]["status"] == "authorized", authorized.get_json()
    level = session.scalar(select(StockLevel).where(StockLevel.product_id == shipped.p1.id,
                                                    StockLevel.warehouse_id == shipped.wh1.id))
    on_hand = level.on_hand
    received = api.post(f"/api/v1/return/{ret['id']}/receive", as_="warehouse")
    assert received.status_code == 200 and received.get_json()["result"]["status"] == "inspected"
    assert received.get_json()["result"]["lines"][0]["disposition"] == "restock"
    session.rollback()
    assert session.get(StockLevel, level.id).on_hand == on_hand + 1
    refunded = api.post(f"/api/v1/return/{ret['id']}/refund", {"amount": "9.99"}, as_="admin")
    assert refunded.status_code == 201
    assert refunded.get_json()["result"]["status"] == "closed"
    assert refunded.get_json()["result"]["refunds"][0]["amount"] == "9.99"
    types = session.scalars(select(OrderEvent.type).where(
        OrderEvent.order_id == shipped.order_id)).all()
    assert {"return_created", "return_received", "refunded"} <= set(types)


def test_return_permissions(api, shipped, session):
    line = shipped.order.lines[0]
    body = {"order_id": shipped.order_id, "lines": {str(line.id): 1}, "reason": "changed_mind"}
    for role in ("warehouse", "operations", "viewer"):
        assert_error(api.post("/api/v1/return/", body, as_=role), 403)
    ret_id = api.post("/api/v1/return/", body, as_="admin").get_json()["id"]
    for role in ("support", "operations", "viewer"):
        assert_error(api.post(f"/api/v1/return/{ret_id}/receive", as_=role), 403)
    for role in ("warehouse", "operations", "viewer"):
        assert_error(api.post(f"/api/v1/return/{ret_id}/refund", {"amount": "1"}, as_=role), 403)
        assert_error(api.post(f"/api/v1/return/{ret_id}/reject", {"reason": "no"}, as_=role), 403)
    for role in ("support", "operations", "viewer"):
        assert_error(api.post(f"/api/v1/return/{ret_id}/receive", as_=role), 403)
    assert count(session, Refund) == 0


def test_return_bad_input_is_422_or_409_and_stores_nothing(api, shipped, session):
    line = shipped.order.lines[0]
    assert_error(api.post("/api/v1/return/", {"order_id": shipped.order_id,
                                              "lines": {str(line.id): 5}}), 422, f"lines.{line.id}")
    assert_error(api.post("/api/v1/return/", {"order_id": shipped.order_id,
                                              "lines": {"abc": 1}}), 422, "lines.abc")
    assert_error(api.post("/api/v1/return/", {"order_id": shipped.order_id,
                                              "lines": {"999999": 1}}), 422, "lines")
    assert_error(api.post("/api/v1/return/", {"order_id": shipped.order_id, "lines": {}}), 422,
                 "lines")
    assert_error(api.post("/api/v1/return/", {"order_id": shipped.order_id,
                                              "lines": {str(line.id): -1}}), 422)
    assert_error(api.post("/api/v1/return/", {"lines": {str(line.id): 1}}), 422, "order_id")
    assert_error(api.post("/api/v1/return/", {"order_id": 999999,
                                              "lines": {str(line.id): 1}}), 404)
    assert count(session, Return) == 0
    assert_error(api.post("/api/v1/return/", {"order_id": shipped.order_id,
                                              "lines": {str(line.id): 1}}), 422, f"lines.{line.id}.reason")
    assert_error(api.post("/api/v1/return/", {"order_id": shipped.order_id, "reason": "other",
                                              "lines": {str(line.id): 1}}), 422, f"lines.{line.id}.note")
    assert count(session, Return) == 0
    ret_id = api.post("/api/v1/return/", {"order_id": shipped.order_id, "reason": "damaged",
                                          "lines": {str(line.id): 1}}).get_json()["id"]
    assert_error(api.post(f"/api/v1/return/{ret_id}/reject", {}), 422, "reason")
    assert_error(api.post(f"/api/v1/return/{ret_id}/refund", {"amount": "-5"}), 422, "amount")
    assert_error(api.post(f"/api/v1/return/{ret_id}/refund", {"amount": "1000"}), 422, "amount")
    assert_error(api.post(f"/api/v1/return/{ret_id}/refund", {"amount": "ten"}), 422, "amount")
    assert count(session, Refund) == 0
    assert_error(api.post(f"/api/v1/return/{ret_id}/receive", {"lines": {"999999": {"grade": "A"}}}), 422, "lines")
    rl_id = session.scalar(select(ReturnLine.id).where(ReturnLine.return_id == ret_id))
    assert_error(api.post(f"/api/v1/return/{ret_id}/receive", {"lines": {str(rl_id): {"grade": "E"}}}), 422,
                 f"lines.{rl_id}.grade")
    assert session.get(Return, ret_id).status == "requested"
    assert api.post(f"/api/v1/return/{ret_id}/receive").status_code == 200
    assert_error(api.post(f"/api/v1/return/{ret_id}/receive"), 409, code="invalid_transition")
    assert_error(api.post(f"/api/v1/return/{ret_id}/authorize"), 409, code="invalid_transition")
    assert_error(api.post("/api/v1/return/999999/receive"), 404)
    assert_error(api.post("/api/v1/return/999999/refund", {"amount": "1"}), 404)


def test_order_refund_roles_limit_and_bad_input(api, world, session):
    """POST /api/v1/order/<pk>/refund: Support up to the limit (above it, pending an Admin's
    approval), Admin any amount, never more
    than paid less refunded; the other roles 403; bad input 422 with the field, nothing stored."""
    order_id = world.order_id
    for role in ("warehouse", "operations", "viewer"):
        assert_error(api.post(f"/api/v1/order/{order_id}/refund", {"amount": "1"}, as_=role), 403)
    assert_error(api.post(f"/api/v1/order/{order_id}/refund", {"amount": "ten"}), 422, "amount")
    assert_error(api.post(f"/api/v1/order/{order_id}/refund", {"lines": {"999999": 1}}), 422, "lines")
    assert_error(api.post(f"/api/v1/order/{order_id}/refund", {}), 422, "amount")
    assert count(session, Refund) == 0
    api.put("/api/v1/setting/support_refund_limit", {"value": "5"})
    above = api.post(f"/api/v1/order/{order_id}/refund", {"amount": "6"}, as_="support")  # an Admin approves
    assert above.status_code == 201 and above.get_json()["result"]["status"] == "pending_approval"
    assert api.post(f"/api/v1/refund/{above.get_json()['id']}/reject").status_code == 200
    ok = api.post(f"/api/v1/order/{order_id}/refund", {"amount": "5", "reason": "late"}, as_="support")
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["result"]["amount"] == "5.00" and ok.get_json()["result"]["source"] == "waybill"
    line = world.order.lines[0]
    by_lines = api.post(f"/api/v1/order/{order_id}/refund", {"lines": {str(line.id): 1}}, as_="admin")
    assert by_lines.status_code == 201, by_lines.get_json()
    total = session.get(Order, order_id).total
    assert_error(api.post(f"/api/v1/order/{order_id}/refund", {"amount": str(total)}), 422, "amount")
    assert count(session, Refund) == 3  # one of them rejected
