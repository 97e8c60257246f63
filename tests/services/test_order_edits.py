"""Cancelling lines and editing lines before picking (issue 4, points 6 and 7): each
re-reserves atomically, writes an event, checks the order's version and keeps the ledger
true."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import Order, OrderEvent, OrderLine, StockLevel, StockMovement
from app.services.fulfilment import shipments as fulfillment
from app.services.orders import edits as order_edits
from app.services.orders import actions as orders
from app.services.core.errors import InvalidTransition, StaleVersion, ValidationFailed
from tests.services.test_invariants import assert_invariants


@pytest.fixture
def shop(make):
    wh1 = make.warehouse("W1", "US", priority=10)
    wh2 = make.warehouse("W2", "US", priority=20)
    make.product("A-1", stock={wh1: 10})
    make.product("B-2", stock={wh1: 2, wh2: 3})
    make.product("C-3", stock={wh2: 4})
    channel = make.channel()
    return type("Shop", (), dict(wh1=wh1, wh2=wh2, channel=channel))


def reload(session, order_id) -> Order:
    session.expire_all()
    return session.get(Order, order_id)


def reserved(session, sku) -> int:
    from app.models import Product

    return session.scalar(select(func.coalesce(func.sum(StockLevel.reserved), 0))
                          .join(Product, Product.id == StockLevel.product_id)
                          .where(Product.sku == sku))


def last_event(session, order_id) -> OrderEvent:
    return session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id)
                           .order_by(OrderEvent.id.desc())).first()


def line_of(order, sku) -> OrderLine:
    return next(line for line in order.lines if line.sku == sku)


# --- cancel lines ---------------------------------------------------------------------------

def test_cancel_part_of_a_line_keeps_the_rest_reserved(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 3, "5"), ("C-3", 1, "7")])
    assert order.status == "allocated" and reserved(session, "A-1") == 3
    line = line_of(order, "A-1")
    movements = session.scalar(select(func.count()).select_from(StockMovement))
    order_edits.cancel_lines(session, order.id, {line.id: 2}, "customer changed mind",
                             order.version, actor("support"))
    order = reload(session, order.id)
    line = line_of(order, "A-1")
    assert (line.quantity_cancelled, line.quantity_open, line.quantity_allocated) == (2, 1, 1)
    assert reserved(session, "A-1") == 1 and order.status == "allocated"
    # release of 3 and re-reservation of 1: two ledger rows
    assert session.scalar(select(func.count()).select_from(StockMovement)) == movements + 2
    event = last_event(session, order.id)
    assert event.type == "lines_cancelled" and "2× A-1" in event.message
    assert event.data["lines"][0]["released"] == 2
    assert "lines" in order.local_edits
    assert_invariants(session)


def test_cancel_every_open_unit_cancels_the_order(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5"), ("C-3", 1, "7")])
    ids = {line.sku: line.id for line in order.lines}
    order_edits.cancel_lines(session, order.id, {ids["A-1"]: 2, ids["C-3"]: 1}, "out of stock",
                             order.version, actor("support"))
    order = reload(session, order.id)
    assert order.status == "cancelled" and order.cancel_reason == "out of stock"
    assert reserved(session, "A-1") == 0 and reserved(session, "C-3") == 0
    assert_invariants(session)


def test_cancel_a_backordered_line_makes_the_order_allocated(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 1, "5"), ("C-3", 6, "7")])  # only 4 of C-3
    assert order.status == "partially_allocated"
    line = line_of(order, "C-3")
    assert line.quantity_backordered == 2
    order_edits.cancel_lines(session, order.id, {line.id: 2}, "backorder dropped",
                             order.version, actor("support"))
    order = reload(session, order.id)
    line = line_of(order, "C-3")
    assert (line.quantity_backordered, line.quantity_allocated) == (0, 4)
    assert order.status == "allocated" and reserved(session, "C-3") == 4
    assert_invariants(session)


def test_cancel_shrinks_a_split_line_in_the_last_warehouse_first(session, make, shop, actor):
    from app.services.core import settings

    settings.set_value(session, "allow_split", True, actor())
    order = make.order(shop.channel, [("B-2", 4, "5")])  # 2 in W1 + 2 of 3 in W2 (when split)
    line = line_of(order, "B-2")
    before = line.quantity_allocated
    order_edits.cancel_lines(session, order.id, {line.id: 1}, "one less", order.version,
                             actor("support"))
    order = reload(session, order.id)
    line = line_of(order, "B-2")
    assert line.quantity_open == 3
    assert line.quantity_allocated == min(before, 3)
    assert_invariants(session)


def test_cancel_refuses_shipped_units_and_says_why(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    admin = actor()
    fulfillment.start_picking(session, order.id, admin)
    fulfillment.mark_packed(session, order.id, admin)
    fulfillment.ship(session, order.id, admin, carrier="UPS", tracking_number="1Z1")
    order = reload(session, order.id)
    line = order.lines[0]
    with pytest.raises(InvalidTransition) as err:
        order_edits.cancel_lines(session, order.id, {line.id: 1}, "too late", order.version,
                                 actor("support"))
    assert "shipped" in err.value.message and "return" in err.value.message
    assert err.value.status == 409


def test_cancel_refuses_more_than_open_on_a_partly_shipped_line(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    line = order.lines[0]
    order_edits.cancel_lines(session, order.id, {line.id: 1}, "one", order.version, actor())
    order = reload(session, order.id)
    with pytest.raises(ValidationFailed) as err:
        order_edits.cancel_lines(session, order.id, {line.id: 2}, "two", order.version, actor())
    assert f"lines.{line.id}" in err.value.errors
    assert "only 1" in err.value.errors[f"lines.{line.id}"][0]


def test_cancel_lines_checks_version_and_input(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    line = order.lines[0]
    stale = order.version
    orders.place_hold(session, order.id, "manual", "check", actor())
    with pytest.raises(StaleVersion) as err:
        order_edits.cancel_lines(session, order.id, {line.id: 1}, "x", stale, actor())
    assert "Someone else changed" in err.value.message
    order = reload(session, order.id)
    with pytest.raises(ValidationFailed) as err:
        order_edits.cancel_lines(session, order.id, {line.id: -1}, "x", order.version, actor())
    assert f"lines.{line.id}" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        order_edits.cancel_lines(session, order.id, {999999: 1}, "x", order.version, actor())
    assert "lines.999999" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        order_edits.cancel_lines(session, order.id, {line.id: 1}, "", order.version, actor())
    assert "reason" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        order_edits.cancel_lines(session, order.id, {line.id: 0}, "x", order.version, actor())
    assert "lines" in err.value.errors
    order = reload(session, order.id)
    assert order.lines[0].quantity_cancelled == 0 and reserved(session, "A-1") == 2
    assert_invariants(session)


def test_cancel_lines_while_picking_keeps_the_rest_reserved(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 3, "5")])
    fulfillment.start_picking(session, order.id, actor())
    order = reload(session, order.id)
    order_edits.cancel_lines(session, order.id, {order.lines[0].id: 1}, "short pick",
                             order.version, actor())
    order = reload(session, order.id)
    assert order.status == "picking" and order.lines[0].quantity_allocated == 2
    assert reserved(session, "A-1") == 2
    assert_invariants(session)


def test_whole_order_cancel_from_the_channel_still_releases(session, make, shop, actor):
    from tests.factories import normalized_order
    from app.services.channels import importing
    from app.services.core.actor import Actor

    order = make.order(shop.channel, [("A-1", 2, "5")], external_id="X-1")
    again = normalized_order([("A-1", 2, "5")], external_id="X-1", cancelled=True,
                             cancel_reason="buyer cancelled")
    importing.import_order(session, shop.channel, again, Actor.channel(shop.channel.code))
    order = reload(session, order.id)
    assert order.status == "cancelled" and reserved(session, "A-1") == 0
    assert_invariants(session)


# --- edit lines -----------------------------------------------------------------------------

def test_raise_a_quantity_re_reserves(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    line = order.lines[0]
    order_edits.change_line_quantity(session, order.id, line.id, 5, order.version,
                                     actor("support"))
    order = reload(session, order.id)
    line = order.lines[0]
    assert (line.quantity, line.quantity_allocated) == (5, 5)
    assert reserved(session, "A-1") == 5 and order.status == "allocated"
    assert order.subtotal == Decimal("25.00")
    event = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                     OrderEvent.type == "lines_edited")).one()
    assert "A-1 2 → 5" in event.message and event.actor == "user:support"
    assert order.local_edits["lines"]["by"] == "user:support"
    assert_invariants(session)


def test_raise_beyond_stock_backorders_the_rest(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    order_edits.change_line_quantity(session, order.id, order.lines[0].id, 12, order.version,
                                     actor())
    order = reload(session, order.id)
    line = order.lines[0]
    assert (line.quantity_allocated, line.quantity_backordered) == (10, 2)
    assert order.status == "partially_allocated"
    assert_invariants(session)


def test_lower_a_quantity_gives_stock_back(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 4, "5")])
    order_edits.change_line_quantity(session, order.id, order.lines[0].id, 1, order.version,
                                     actor())
    order = reload(session, order.id)
    assert order.lines[0].quantity_allocated == 1 and reserved(session, "A-1") == 1
    assert order.status == "allocated"
    assert_invariants(session)


def test_add_a_line_by_sku_with_price(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 1, "5")])
    order_edits.add_line(session, order.id, "c-3", 2, "7.50", order.version, actor("support"))
    order = reload(session, order.id)
    added = line_of(order, "C-3")
    assert (added.quantity, added.unit_price, added.quantity_allocated) == (2, Decimal("7.50"), 2)
    assert order.status == "allocated" and reserved(session, "C-3") == 2
    assert order.subtotal == Decimal("20.00")
    assert last_event(session, order.id).type in ("lines_edited", "allocated", "status_changed")
    assert_invariants(session)


def test_remove_a_line_releases_it(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 1, "5"), ("C-3", 6, "7")])
    assert order.status == "partially_allocated"
    order_edits.remove_line(session, order.id, line_of(order, "C-3").id, order.version, actor())
    order = reload(session, order.id)
    removed = line_of(order, "C-3")
    assert removed.quantity_open == 0 and removed.quantity_allocated == 0
    assert removed.quantity_backordered == 0
    assert reserved(session, "C-3") == 0 and order.status == "allocated"
    assert_invariants(session)


def test_removing_every_line_cancels_the_order(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 1, "5")])
    order_edits.remove_line(session, order.id, order.lines[0].id, order.version, actor())
    order = reload(session, order.id)
    assert order.status == "cancelled" and reserved(session, "A-1") == 0
    assert_invariants(session)


def test_edit_of_a_held_order_keeps_it_held_and_allocates_on_release(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 1, "5"), ("C-3", 1, "7")])
    orders.place_hold(session, order.id, "manual", "wait", actor())
    order = reload(session, order.id)
    order_edits.change_line_quantity(session, order.id, line_of(order, "A-1").id, 3,
                                     order.version, actor())
    order = reload(session, order.id)
    assert order.is_held and order.status in ("new", "partially_allocated")
    assert line_of(order, "A-1").quantity_allocated == 0
    assert line_of(order, "C-3").quantity_allocated == 1  # untouched lines keep theirs
    assert_invariants(session)
    orders.release_hold(session, order.id, actor(), note="ok")
    order = reload(session, order.id)
    assert order.status == "allocated" and line_of(order, "A-1").quantity_allocated == 3
    assert_invariants(session)


def test_several_changes_at_once_are_all_or_nothing(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5"), ("C-3", 1, "7")])
    before = order.version
    with pytest.raises(ValidationFailed) as err:
        order_edits.edit_lines(session, order.id, actor(), expected_version=order.version,
                               quantities={line_of(order, "A-1").id: 3},
                               add=[{"sku": "NOPE", "quantity": 1, "unit_price": "1"},
                                    {"sku": "C-3", "quantity": -1, "unit_price": "1"},
                                    {"sku": "C-3", "quantity": 0, "unit_price": "1"}])
    assert "unknown SKU" in err.value.errors["add.0.sku"][0]
    assert "negative" in err.value.errors["add.1.quantity"][0]
    assert "zero" in err.value.errors["add.2.quantity"][0]
    order = reload(session, order.id)
    assert order.version == before and line_of(order, "A-1").quantity == 2
    assert len(order.lines) == 2 and reserved(session, "A-1") == 2
    assert_invariants(session)


@pytest.mark.parametrize("value, message", [(0, "remove the line"), (-2, "negative"),
                                            ("x", "whole number")])
def test_bad_quantities_name_the_field(session, make, shop, actor, value, message):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    line = order.lines[0]
    with pytest.raises(ValidationFailed) as err:
        order_edits.change_line_quantity(session, order.id, line.id, value, order.version,
                                         actor())
    assert message in err.value.errors[f"quantities.{line.id}"][0]


def test_stale_edit_is_refused(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    stale = order.version
    order_edits.change_line_quantity(session, order.id, order.lines[0].id, 3, stale, actor())
    order = reload(session, order.id)
    with pytest.raises(StaleVersion) as err:
        order_edits.change_line_quantity(session, order.id, order.lines[0].id, 1, stale, actor())
    assert err.value.status == 409 and "reload" in err.value.message
    assert reload(session, order.id).lines[0].quantity == 3
    with pytest.raises(ValidationFailed) as err:
        order_edits.change_line_quantity(session, order.id, order.lines[0].id, 1, None, actor())
    assert "expected_version" in err.value.errors


def test_edit_refused_once_picking_started(session, make, shop, actor):
    order = make.order(shop.channel, [("A-1", 2, "5")])
    fulfillment.start_picking(session, order.id, actor())
    order = reload(session, order.id)
    with pytest.raises(InvalidTransition) as err:
        order_edits.add_line(session, order.id, "C-3", 1, "1", order.version, actor())
    assert "before picking" in err.value.message


def test_random_edits_keep_the_ledger_true(session, make, shop, actor):
    import random

    rng = random.Random(7)
    admin = actor()
    ids = [make.order(shop.channel, [(rng.choice(["A-1", "B-2", "C-3"]), rng.randrange(1, 4), "5")
                                     for _ in range(2)]).id for _ in range(6)]
    for _ in range(40):
        order = reload(session, rng.choice(ids))
        open_lines = [l for l in order.lines if l.quantity_open > 0]
        try:
            op = rng.choice(["qty", "add", "remove", "cancel"])
            if op == "qty" and open_lines:
                line = rng.choice(open_lines)
                order_edits.change_line_quantity(session, order.id, line.id,
                                                 line.quantity + rng.choice([-1, 1, 2]),
                                                 order.version, admin)
            elif op == "add":
                order_edits.add_line(session, order.id, rng.choice(["A-1", "B-2", "C-3"]),
                                     rng.randrange(1, 4), "3", order.version, admin)
            elif op == "remove" and open_lines:
                order_edits.remove_line(session, order.id, rng.choice(open_lines).id,
                                        order.version, admin)
            elif open_lines:
                line = rng.choice(open_lines)
                order_edits.cancel_lines(session, order.id, {line.id: 1}, "random",
                                         order.version, admin)
        except (ValidationFailed, InvalidTransition):
            session.rollback()
        assert_invariants(session)
