"""The pack station: every picked unit scanned, then pack, label and ship confirm in one action
(manual carrier here; with the carrier sandbox in the browser test): stock leaves through the
ledger, ``shipment.created`` is published, a short-picked order ships what was picked."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Order, Shipment, StockMovement
from app.services.core import domain_events
from app.services.core.errors import Conflict, ValidationFailed
from app.services.fulfilment import documents, packing, picking
from app.services.inventory import stock as inventory
from tests.floor.conftest import PACKAGE
from tests.services.test_invariants import assert_invariants


def _picked(floor, actor, lines):
    order = floor.order(lines)
    pick_list = picking.create(floor.session, floor.warehouse.id, {}, actor("warehouse"))
    for sku, quantity in lines:
        picking.scan_item(floor.session, pick_list.id, None, sku, actor("warehouse"), quantity)
    return order, pick_list


def test_pack_and_ship_confirm_with_the_manual_carrier(floor, actor):
    session, packer = floor.session, actor("warehouse")
    order, pick_list = _picked(floor, actor, [("MUG", 2), ("CAP", 1)])
    view = packing.station(session, f"{pick_list.code}-1")
    assert view["order_id"] == order.id
    items = {str(l["order_line_id"]): l["picked"] for l in view["lines"]}
    published = []
    domain_events.subscribe("shipment.created", lambda s, p: published.append(p["order_id"]))
    try:
        # a surplus unit, then a unit missing, are refused; nothing changes
        mug_line = next(l["order_line_id"] for l in view["lines"] if l["sku"] == "MUG")
        with pytest.raises(picking.WrongScan):
            packing.pack_and_ship(session, order.id, {**items, str(mug_line): 3}, PACKAGE, packer)
        with pytest.raises(ValidationFailed) as err:
            packing.pack_and_ship(session, order.id, {**items, str(mug_line): 1}, PACKAGE, packer)
        assert "items" in err.value.errors
        shipment = packing.pack_and_ship(session, order.id, items, PACKAGE, packer, tracking_number="1Z999")
    finally:
        domain_events._subscribers["shipment.created"].pop()
    assert published == [order.id]
    session.expire_all()
    order = session.get(Order, order.id)
    shipment = session.get(Shipment, shipment.id)
    assert order.status == "shipped" and order.shipped_on_time is (shipment.shipped_at <= order.ship_by)
    assert shipment.carrier == "manual" and shipment.pick_list_id == pick_list.id and len(shipment.packages) == 1
    moves = session.scalars(select(StockMovement).where(StockMovement.reason == "shipment",
                                                        StockMovement.order_id == order.id)).all()
    assert sorted(m.on_hand_delta for m in moves) == [-2, -1] and all(m.actor == packer.label for m in moves)
    assert documents.packing_slip_pdf(session, order.id).startswith(b"%PDF")
    with pytest.raises(Conflict):
        packing.pack_and_ship(session, order.id, items, PACKAGE, packer)
    assert_invariants(session)


def test_an_order_not_fully_picked_cannot_be_packed(floor, actor):
    order = floor.order([("MUG", 2)])
    pick_list = picking.create(floor.session, floor.warehouse.id, {}, actor("warehouse"))
    picking.scan_item(floor.session, pick_list.id, "A2-10", "MUG", actor("warehouse"))
    line = order.lines[0].id
    with pytest.raises(Conflict):
        packing.pack_and_ship(floor.session, order.id, {str(line): 1}, PACKAGE, actor("warehouse"))


def test_a_short_picked_order_ships_what_was_picked(floor, make, actor):
    session, picker = floor.session, actor("warehouse")
    other = make.warehouse("ATL", "US", priority=200)
    inventory.adjust(session, floor.warehouse.id, floor.products["TEE"].id, -7, "recount", actor("admin"))
    order = floor.order([("TEE", 3)])
    pick_list = picking.create(session, floor.warehouse.id, {}, picker)
    inventory.receive(session, other.id, floor.products["TEE"].id, 5, actor("admin"))
    picking.scan_item(session, pick_list.id, "A2-9", "TEE", picker)
    picking.short_pick(session, pick_list.id, "A2-9", "TEE", picker)
    packing.pack_and_ship(session, order.id, {str(order.lines[0].id): 1}, PACKAGE, picker)
    session.expire_all()
    order = session.get(Order, order.id)
    assert order.status == "partially_shipped" and order.lines[0].quantity_shipped == 1
    assert [(a.warehouse_id, a.quantity) for a in order.allocations if a.status == "open"] == [(other.id, 2)]
    assert_invariants(session)


def test_lookup_of_an_unknown_order_is_404(floor):
    from app.services.core.errors import NotFound

    with pytest.raises(NotFound):
        packing.station(floor.session, "NOPE-1")


def test_bulk_labels_for_a_pick_list_go_on_past_a_failure(floor, actor):
    from app.services.orders import actions as orders

    session, packer = floor.session, actor("warehouse")
    first, second = floor.order([("MUG", 1)]), floor.order([("CAP", 1)])
    pick_list = picking.create(session, floor.warehouse.id, {}, packer)
    for sku in ("MUG", "CAP"):
        picking.scan_item(session, pick_list.id, None, sku, packer)
    orders.place_hold(session, second.id, "manual", "customer called", actor("support"))
    with pytest.raises(ValidationFailed):
        packing.bulk_labels(session, pick_list.id, PACKAGE * 2, packer)
    result = packing.bulk_labels(session, pick_list.id, PACKAGE, packer)
    assert [s["order_id"] for s in result["shipped"]] == [first.id]
    assert result["failed"] == [{"order_id": second.id, "message": result["failed"][0]["message"]}]
    assert "hold" in result["failed"][0]["message"]
    session.expire_all()
    assert session.get(Order, first.id).status == "shipped" and session.get(Order, second.id).status == "picking"
