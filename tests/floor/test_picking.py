"""Pick lists: chosen by filters, walking order, one live list per order, scans refused and
short picks counted through the ledger and sent back to allocation."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Order, StockMovement
from app.services.core.errors import InvalidTransition, ValidationFailed
from app.services.fulfilment import documents, picking
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from tests.services.test_invariants import assert_invariants


def test_walking_order_is_natural():
    bins = ["B1-1", "A2-10", None, "A2-9", "a10-1", "A9-2"]
    assert sorted(bins, key=picking.walking_key) == ["A2-9", "A2-10", "A9-2", "a10-1", "B1-1", None]


def test_create_takes_allocated_unheld_orders_in_walking_order(floor, actor):
    session, picker = floor.session, actor("warehouse")
    first = floor.order([("MUG", 2), ("TEE", 1)])
    second = floor.order([("CAP", 1)])
    held = floor.order([("TEE", 1)])
    orders.place_hold(session, held.id, "manual", "wait", actor("admin"))
    preview = picking.preview(session, floor.warehouse.id, {})
    assert preview["orders"] == 2 and preview["units"] == 4
    pick_list = picking.create(session, floor.warehouse.id, {}, picker)
    stops = picking.walk(pick_list)
    assert [s["bin"] for s in stops] == ["A2-9", "A2-10", "B1-1"]
    assert stops[1]["slots"] == [{"slot": 1, "quantity": 2, "order_id": first.id}]
    session.expire_all()
    assert session.get(Order, first.id).status == "picking" and session.get(Order, second.id).status == "picking"
    assert session.get(Order, held.id).status == "allocated"
    # an order is in one live list at most: nothing is left to make another
    with pytest.raises(ValidationFailed) as err:
        picking.create(session, floor.warehouse.id, {}, picker)
    assert "filters" in err.value.errors
    import io

    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(
        documents.pick_list_pdf(session, pick_list.id))).pages)
    assert f"Pick list {pick_list.code}" in text and "A2-10" in text and "MUG" in text
    assert f"slot 2\n{second.order_number}" in text


def test_filters_single_item_and_max_units(floor, actor):
    floor.order([("MUG", 2)])
    single = floor.order([("CAP", 1)])
    pick_list = picking.create(floor.session, floor.warehouse.id, {"single_item": True}, actor("warehouse"))
    assert {l.order_id for l in pick_list.lines} == {single.id}
    with pytest.raises(ValidationFailed) as err:
        picking.create(floor.session, floor.warehouse.id, {"max_units": "x"}, actor("warehouse"))
    assert "filters.max_units" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        picking.create(floor.session, floor.warehouse.id, {"colour": "red"}, actor("warehouse"))
    assert "filters.colour" in err.value.errors


def test_scans_refuse_wrong_and_surplus_items(floor, actor):
    session, picker = floor.session, actor("warehouse")
    floor.order([("MUG", 2)])
    pick_list = picking.create(session, floor.warehouse.id, {}, picker)
    with pytest.raises(picking.WrongScan) as err:
        picking.scan_item(session, pick_list.id, "A2-10", "4006381333948", picker)  # a TEE at the MUG bin
    assert "item" in err.value.errors
    with pytest.raises(picking.WrongScan):
        picking.scan_item(session, pick_list.id, "Z9-9", "MUG", picker)
    assert picking.scan_item(session, pick_list.id, "A2-10", "4006381333931", picker)["status"] == "picking"
    assert picking.scan_item(session, pick_list.id, "A2-10", "MUG", picker)["status"] == "done"
    with pytest.raises(picking.WrongScan) as err:
        picking.scan_item(session, pick_list.id, "A2-10", "MUG", picker)
    assert "one too many" in err.value.errors["item"][0]


def test_short_pick_counts_the_loss_and_reallocates_the_rest(floor, make, actor):
    session, picker = floor.session, actor("warehouse")
    other = make.warehouse("ATL", "US", priority=200)
    inventory.receive(session, other.id, floor.products["MUG"].id, 5, actor("admin"))
    inventory.adjust(session, floor.warehouse.id, floor.products["MUG"].id, -7, "recount", actor("admin"))
    order = floor.order([("MUG", 3)])
    pick_list = picking.create(session, floor.warehouse.id, {}, picker)
    picking.scan_item(session, pick_list.id, "A2-10", "MUG", picker)  # found 1 of 3
    result = picking.short_pick(session, pick_list.id, "A2-10", "MUG", picker)
    assert result["shorts"][0]["missing"] == 2 and result["status"] == "done"
    session.expire_all()
    count = session.scalar(select(StockMovement).where(StockMovement.reason == "count"))
    assert count.on_hand_delta == -2 and count.actor == picker.label and count.order_id == order.id
    order = session.get(Order, order.id)
    assert order.status == "allocated"  # the missing 2 reserved at ATL, the picked 1 still at EWR
    assert sorted((a.warehouse_id, a.quantity) for a in order.allocations if a.status == "open") == \
        sorted([(floor.warehouse.id, 1), (other.id, 2)])
    assert pick_list.lines[0].quantity_picked == 1
    assert_invariants(session)


def test_cancel_puts_orders_back(floor, actor):
    session, picker = floor.session, actor("warehouse")
    order = floor.order([("TEE", 1)])
    pick_list = picking.create(session, floor.warehouse.id, {}, picker)
    picking.cancel(session, pick_list.id, picker)
    session.expire_all()
    assert session.get(Order, order.id).status == "allocated"
    with pytest.raises(InvalidTransition):
        picking.cancel(session, pick_list.id, picker)
    again = picking.create(session, floor.warehouse.id, {}, picker)  # free for a new list
    assert again.lines[0].order_id == order.id
