"""Units a channel cancels on an existing order (Shopify: line_items[].current_quantity after
an order edit or a partial cancel) are cancelled in Waybill through order_edits: their
reservations are given back and events written; units that already shipped are not
cancelled but said; a local line edit quarantines the change; importing again converges.
Channel tags replace the channel's own tags and leave the tags rules added."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import Order, OrderEvent, StockLevel, SyncConflict
from app.services.channels import conflicts
from app.services.fulfilment import shipments as fulfillment
from app.services.core import fx
from app.services.channels import importing
from app.services.orders import edits as order_edits
from app.services.orders import actions as orders
from app.services.lifecycle import rules
from app.services.core.actor import Actor
from connectors.sandbox.state import RATES
from jobs import pull_orders
from tests.factories import normalized_order
from tests.services.test_invariants import assert_invariants

_revision = iter(range(1, 10_000))


@pytest.fixture
def shop(make):
    wh1 = make.warehouse("W1", "US", priority=10)
    wh2 = make.warehouse("W2", "US", priority=20)
    make.product("A-1", stock={wh1: 10})
    make.product("B-2", stock={wh1: 1, wh2: 2})
    channel = make.channel("shop")
    return type("Shop", (), dict(wh1=wh1, wh2=wh2, channel=channel))


def first_import(session, channel, lines, **extra):
    normalized = normalized_order(lines, **extra)
    result = importing.import_order(session, channel, normalized, Actor.channel(channel.code))
    return result.order, normalized


def channel_sends(session, channel, base, units: dict | None = None, **changes):
    """The channel sends the order again, later and changed: ``units`` {line index:
    the line's cancelled units as the channel reports them}, other NormalizedOrder fields
    in ``changes``. A new raw payload each time (so the payload hash never short-cuts)."""
    normalized = copy.deepcopy(base)
    for index, cancelled in (units or {}).items():
        normalized.lines[index].quantity_cancelled = cancelled
    for name, value in changes.items():
        setattr(normalized, name, value)
    revision = next(_revision)
    normalized.updated_at = base.updated_at + timedelta(minutes=revision)
    normalized.raw = {**base.raw, "revision": revision,
                      "cancelled": [line.quantity_cancelled for line in normalized.lines],
                      "tags": list(normalized.tags)}
    return importing.import_order(session, channel, normalized, Actor.channel(channel.code))


def reload(session, order_id) -> Order:
    session.expire_all()
    return session.get(Order, order_id)


def reserved(session, product_sku) -> int:
    from app.models import Product

    return session.scalar(select(func.coalesce(func.sum(StockLevel.reserved), 0))
                          .join(Product, Product.id == StockLevel.product_id)
                          .where(Product.sku == product_sku))


def events_of(session, order_id, type_) -> list[OrderEvent]:
    return list(session.scalars(select(OrderEvent).where(
        OrderEvent.order_id == order_id, OrderEvent.type == type_).order_by(OrderEvent.id)))


def line_of(order, sku):
    return next(line for line in order.lines if line.sku == sku)


def ship_everything(session, order_id, admin, **kwargs):
    fulfillment.start_picking(session, order_id, admin)
    fulfillment.mark_packed(session, order_id, admin)
    return fulfillment.ship(session, order_id, admin, carrier="UPS", tracking_number="1Z1",
                            **kwargs)


# --- cancelled units ------------------------------------------------------------------------

def test_channel_reduces_a_line_and_waybill_cancels_those_units(session, shop):
    order, base = first_import(session, shop.channel, [("A-1", 3, "5"), ("B-2", 1, "7")])
    assert order.status == "allocated" and reserved(session, "A-1") == 3

    result = channel_sends(session, shop.channel, base, units={0: 2, 1: 0})
    assert result.outcome == "updated"
    order = reload(session, order.id)
    a = line_of(order, "A-1")
    assert (a.quantity, a.quantity_cancelled, a.quantity_allocated) == (3, 2, 1)
    assert line_of(order, "B-2").quantity_cancelled == 0
    assert reserved(session, "A-1") == 1 and order.status == "allocated"
    [event] = events_of(session, order.id, "lines_cancelled")
    assert event.actor == "channel:shop"
    assert event.message == "Cancelled 2× A-1: cancelled on the channel"
    assert event.data["source"] == "channel" and event.data["lines"][0]["released"] == 2
    # the channel made this change: nothing waits to be pushed back
    assert "lines" not in order.local_edits and order.synced_to_channel
    assert_invariants(session)


def test_importing_again_converges(session, shop):
    order, base = first_import(session, shop.channel, [("A-1", 3, "5")])
    channel_sends(session, shop.channel, base, units={0: 1})
    version = reload(session, order.id).version
    # a later payload with the same cancellations (another field changed): nothing more
    channel_sends(session, shop.channel, base, units={0: 1}, financial_status="paid")
    channel_sends(session, shop.channel, base, units={0: 1}, shipping_method="Express")
    order = reload(session, order.id)
    assert line_of(order, "A-1").quantity_cancelled == 1
    assert reserved(session, "A-1") == 2
    assert len(events_of(session, order.id, "lines_cancelled")) == 1
    assert order.version > version  # the shipping method did change
    # and the identical payload twice: unchanged, no write at all
    normalized = copy.deepcopy(base)
    normalized.lines[0].quantity_cancelled = 3
    normalized.updated_at = base.updated_at + timedelta(days=1)
    normalized.raw = {**base.raw, "all": "gone"}
    actor = Actor.channel("shop")
    assert importing.import_order(session, shop.channel, normalized, actor).outcome == "updated"
    version = reload(session, order.id).version
    again = importing.import_order(session, shop.channel, copy.deepcopy(normalized), actor)
    assert again.outcome == "unchanged" and reload(session, order.id).version == version
    assert_invariants(session)


def test_every_unit_cancelled_on_the_channel_cancels_the_order(session, shop):
    order, base = first_import(session, shop.channel, [("A-1", 2, "5"), ("B-2", 1, "7")])
    channel_sends(session, shop.channel, base, units={0: 2})
    assert reload(session, order.id).status == "allocated"
    channel_sends(session, shop.channel, base, units={0: 2, 1: 1})
    order = reload(session, order.id)
    assert order.status == "cancelled" and order.cancel_reason == "cancelled on the channel"
    assert reserved(session, "A-1") == 0 and reserved(session, "B-2") == 0
    assert [l.quantity_cancelled for l in order.lines] == [2, 1]
    assert_invariants(session)


def test_whole_order_cancel_with_zero_current_quantities_cancels_once(session, shop):
    order, base = first_import(session, shop.channel, [("A-1", 2, "5")])
    channel_sends(session, shop.channel, base, units={0: 2}, cancelled=True,
                  cancel_reason="customer")
    order = reload(session, order.id)
    assert order.status == "cancelled" and order.cancel_reason == "customer"
    assert events_of(session, order.id, "lines_cancelled") == []
    assert len(events_of(session, order.id, "cancelled")) == 1
    assert_invariants(session)


def test_units_cancelled_before_the_first_import_are_never_reserved(session, shop):
    normalized = normalized_order([("A-1", 3, "5"), ("B-2", 1, "7")])
    normalized.lines[0].quantity_cancelled = 1
    order = importing.import_order(session, shop.channel, normalized,
                                   Actor.channel("shop")).order
    a = line_of(order, "A-1")
    assert (a.quantity_cancelled, a.quantity_allocated) == (1, 2)
    assert reserved(session, "A-1") == 2
    [event] = events_of(session, order.id, "lines_cancelled")
    assert "1× A-1" in event.message and "before import" in event.message
    # the next copy of the same state cancels nothing more
    channel_sends(session, shop.channel, normalized, units={0: 1})
    assert line_of(reload(session, order.id), "A-1").quantity_cancelled == 1
    assert len(events_of(session, order.id, "lines_cancelled")) == 1
    assert_invariants(session)


def test_channel_cancelled_units_of_a_backordered_line_shrink_the_backorder(session, shop):
    order, base = first_import(session, shop.channel, [("A-1", 14, "5")])  # 10 in stock
    assert order.status == "partially_allocated"
    channel_sends(session, shop.channel, base, units={0: 4})
    order = reload(session, order.id)
    a = line_of(order, "A-1")
    assert (a.quantity_open, a.quantity_allocated, a.quantity_backordered) == (10, 10, 0)
    assert order.status == "allocated"
    assert_invariants(session)


# --- units that already shipped ---------------------------------------------------------------

def test_shipped_units_are_not_cancelled_and_the_event_says_so_once(session, shop, actor):
    order, base = first_import(session, shop.channel, [("A-1", 2, "5")])
    ship_everything(session, order.id, actor())
    channel_sends(session, shop.channel, base, units={0: 1})
    order = reload(session, order.id)
    line = line_of(order, "A-1")
    assert (line.quantity_shipped, line.quantity_cancelled) == (2, 0)
    assert order.status == "shipped"
    [event] = events_of(session, order.id, "channel_lines_cancel_refused")
    assert event.message == "The channel cancelled 1× A-1, but those units have already shipped"
    assert event.actor == "channel:shop"
    assert event.data["lines"] == [{"line_id": line.id, "sku": "A-1", "channel_cancelled": 1,
                                    "shipped_units": 1}]
    # the same cancellation again in a later payload: no second event; a new one: one more
    channel_sends(session, shop.channel, base, units={0: 1}, shipping_method="Post")
    assert len(events_of(session, order.id, "channel_lines_cancel_refused")) == 1
    channel_sends(session, shop.channel, base, units={0: 2})
    assert len(events_of(session, order.id, "channel_lines_cancel_refused")) == 2
    assert_invariants(session)


def test_partly_shipped_line_cancels_the_open_units_and_refuses_the_shipped(session, shop, actor):
    order, base = first_import(session, shop.channel, [("B-2", 3, "7")])  # W1: 1, W2: 2
    assert {a.warehouse_id for a in order.allocations} == {shop.wh1.id, shop.wh2.id}
    ship_everything(session, order.id, actor(), warehouse_id=shop.wh1.id)
    order = reload(session, order.id)
    assert order.status == "partially_shipped" and order.lines[0].quantity_shipped == 1
    channel_sends(session, shop.channel, base, units={0: 3})
    order = reload(session, order.id)
    line = order.lines[0]
    assert (line.quantity_shipped, line.quantity_cancelled, line.quantity_open) == (1, 2, 0)
    assert order.status == "shipped"  # the unshipped rest cancelled
    assert reserved(session, "B-2") == 0
    [refused] = events_of(session, order.id, "channel_lines_cancel_refused")
    assert refused.data["lines"][0]["shipped_units"] == 1
    assert len(events_of(session, order.id, "lines_cancelled")) == 1
    assert_invariants(session)


# --- a local edit of the lines ---------------------------------------------------------------

def test_local_line_edit_quarantines_the_channel_cancellation(session, shop, actor):
    order, base = first_import(session, shop.channel, [("A-1", 3, "5"), ("B-2", 1, "7")])
    b = line_of(order, "B-2")
    order_edits.cancel_lines(session, order.id, {b.id: 1}, "customer called",
                             order.version, actor("support"))
    order = reload(session, order.id)
    assert "lines" in order.local_edits and order.status == "allocated"

    channel_sends(session, shop.channel, base, units={0: 2})
    order = reload(session, order.id)
    assert line_of(order, "A-1").quantity_cancelled == 0  # nothing applied
    assert reserved(session, "A-1") == 3
    [conflict] = session.scalars(select(SyncConflict).where(SyncConflict.order_id == order.id))
    assert (conflict.kind, conflict.field, conflict.status) == ("local_edit", "lines", "open")
    a_external = line_of(order, "A-1").external_id
    assert conflict.remote_value["value"][a_external] == 2
    assert conflict.local_value["by"] == "user:support"
    # the same channel state again: no second conflict
    channel_sends(session, shop.channel, base, units={0: 2}, shipping_method="Post")
    assert session.scalar(select(func.count()).select_from(SyncConflict)) == 1

    # "take the channel's value" cancels the units through the same path
    conflicts.take_remote(session, conflict.id, actor("operations"))
    order = reload(session, order.id)
    assert line_of(order, "A-1").quantity_cancelled == 2 and reserved(session, "A-1") == 1
    assert "lines" not in order.local_edits
    assert len(events_of(session, order.id, "lines_cancelled")) == 2  # local + channel
    assert_invariants(session)


def test_a_cancelled_order_ignores_later_line_cancellations(session, shop, actor):
    order, base = first_import(session, shop.channel, [("A-1", 3, "5")])
    orders.cancel_order(session, order.id, "fraud", actor("support"))
    channel_sends(session, shop.channel, base, units={0: 1})
    order = reload(session, order.id)
    assert order.status == "cancelled" and order.lines[0].quantity_cancelled == 3
    assert events_of(session, order.id, "channel_lines_cancel_refused") == []
    assert session.scalar(select(func.count()).select_from(SyncConflict)) == 0


# --- tags ----------------------------------------------------------------------------------

def tag_rule(session, actor, tag, **condition):
    rule = rules.create_rule(session, {
        "name": f"Tag {tag}", "stage": "on_import", "match": "all",
        "conditions": [condition or {"field": "total", "op": "gte", "value": "0"}],
        "actions": [{"type": "add_tag", "value": tag}]}, actor())
    rules.set_enabled(session, rule.id, True, actor())


def test_rule_tags_survive_channel_tag_changes(session, shop, actor):
    tag_rule(session, actor, "vip")
    order, base = first_import(session, shop.channel, [("A-1", 1, "5")], tags=["gift", "web"])
    assert order.tags == ["gift", "web", "vip"]

    channel_sends(session, shop.channel, base, tags=["web", "priority"])
    order = reload(session, order.id)
    assert order.tags == ["web", "priority", "vip"]  # gift gone (the channel's), vip stays
    [event] = events_of(session, order.id, "channel_update")
    assert event.data["changes"]["tags"] == {"old": ["gift", "web", "vip"],
                                             "new": ["web", "priority", "vip"]}
    # the same tags again: nothing changes, no new event
    channel_sends(session, shop.channel, base, tags=["web", "priority"])
    assert reload(session, order.id).tags == ["web", "priority", "vip"]
    assert len(events_of(session, order.id, "channel_update")) == 1
    # the channel drops every tag: only Waybill's stays
    channel_sends(session, shop.channel, base, tags=[])
    assert reload(session, order.id).tags == ["vip"]


def test_a_tag_the_channel_sent_first_is_the_channels(session, shop, actor):
    """A rule that found the tag already there did not add it: when the channel removes
    it, it goes."""
    tag_rule(session, actor, "gift")
    order, base = first_import(session, shop.channel, [("A-1", 1, "5")], tags=["gift"])
    assert order.tags == ["gift"]
    channel_sends(session, shop.channel, base, tags=["other"])
    assert reload(session, order.id).tags == ["other"]


# --- over HTTP: the sandbox's Shopify order edit ------------------------------------------------

def test_shopify_order_edit_pulled_over_http_cancels_units(session, sandbox, sandbox_channels,
                                                            actor):
    state, _root = sandbox
    channel = sandbox_channels["shopify"]
    for currency, per_usd in RATES.items():  # no review hold for a missing exchange rate
        if currency != "USD":
            fx.set_rate(session, currency, (1 / per_usd).quantize(Decimal("0.000001")), actor(),
                        valid_from=datetime(2000, 1, 1, tzinfo=timezone.utc))
    state.create_orders("shopify", 15)
    run = pull_orders.run(channel.code)
    assert run.status == "succeeded", run.error_message
    candidates = session.scalars(select(Order).where(
        Order.channel_id == channel.id, Order.status == "allocated")).all()
    target = candidates[0]
    external_id, line_external = target.external_id, target.lines[0].external_id
    before = target.lines[0].quantity_allocated

    state.update_orders("shopify", ids=[external_id], action="cancel_units")
    run = pull_orders.run(channel.code)
    assert run.status == "succeeded" and run.updated >= 1
    order = session.scalar(select(Order).where(Order.channel_id == channel.id,
                                               Order.external_id == external_id))
    session.refresh(order)
    line = next(l for l in order.lines if l.external_id == line_external)
    assert line.quantity_cancelled == 1
    if order.status != "cancelled":  # (a one-unit order has nothing left: cancelled)
        assert line.quantity_allocated == before - 1
    assert [e.message for e in events_of(session, order.id, "lines_cancelled")] == [
        f"Cancelled 1× {line.sku}: cancelled on the channel"]
    # the next poll (nothing changed), then another change to the same order that still
    # reports the same current_quantity: nothing more is cancelled
    assert pull_orders.run(channel.code).updated == 0
    state.update_orders("shopify", ids=[external_id], action="address")
    assert pull_orders.run(channel.code).updated == 1
    assert state.get_order("shopify", "demo", external_id).summary()["cancelled_units"][0] == 1
    session.expire_all()
    assert next(l for l in order.lines if l.external_id == line_external).quantity_cancelled == 1
    assert len(events_of(session, order.id, "lines_cancelled")) == 1
    assert_invariants(session)
