"""Domain events: subscribers run in the publisher's transaction, in registration order; a
failing one rolls the whole change back; lifecycle reacts to the lower domains through them."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import AuditLog, StockLevel, StockMovement
from app.services.core import audit, domain_events
from app.services.inventory import stock as inventory
from app.services.lifecycle import subscribers
from app.services.orders import actions as orders


@pytest.fixture
def subscribed():
    """subscribed(name, fn): subscribe for this test only."""
    added = []

    def add(name, subscriber):
        domain_events.subscribe(name, subscriber)
        added.append((name, subscriber))
    yield add
    for name, subscriber in added:
        domain_events.unsubscribe(name, subscriber)


def movements(session):
    return session.scalar(select(func.count()).select_from(StockMovement))


def test_subscribers_run_in_registration_order_in_the_publishers_transaction(
        session, make, actor, subscribed):
    warehouse = make.warehouse()
    product = make.product("SKU-1")
    seen = []

    def first(s, payload):
        seen.append(("first", payload["product_id"], s is session))
        audit.record(s, payload["actor"], "product", payload["product_id"], "probe")

    def second(s, payload):
        seen.append(("second", payload["product_id"], s is session))

    subscribed("stock.available", first)
    subscribed("stock.available", second)
    inventory.receive(session, warehouse.id, product.id, 3, actor())

    assert seen == [("first", product.id, True), ("second", product.id, True)]
    session.rollback()  # what the subscriber wrote was committed with the receipt
    assert session.scalar(select(func.count()).select_from(AuditLog)
                          .where(AuditLog.action == "probe")) == 1


def test_a_failing_subscriber_rolls_the_whole_change_back(session, make, actor, subscribed):
    warehouse = make.warehouse()
    product = make.product("SKU-1", stock={warehouse: 2})
    before = movements(session)

    def broken(s, payload):
        raise RuntimeError("subscriber failed")

    subscribed("stock.available", broken)
    with pytest.raises(RuntimeError, match="subscriber failed"):
        inventory.receive(session, warehouse.id, product.id, 5, actor())
    session.rollback()
    level = session.scalar(select(StockLevel).where(StockLevel.product_id == product.id))
    assert level.on_hand == 2
    assert movements(session) == before


def test_unknown_event_names_are_refused(session):
    with pytest.raises(ValueError, match="unknown domain event"):
        domain_events.publish(session, "stock.arrived", {})
    with pytest.raises(ValueError, match="unknown domain event"):
        domain_events.subscribe("order.shiped", lambda s, p: None)


def test_lifecycle_is_subscribed_once_however_often_the_app_is_made(app):
    from app import create_app  # noqa: F401  (the app fixture made one already)

    subscribers.register()
    subscribers.register()
    for name, subscriber in subscribers.SUBSCRIPTIONS:
        assert domain_events.subscribers(name).count(subscriber) == 1


def test_stock_received_allocates_waiting_orders_through_the_event(session, make, actor):
    warehouse = make.warehouse()
    product = make.product("SKU-1")
    order = make.order(make.channel(), [("SKU-1", 2, "9.99")])
    assert order.status == "backordered"

    inventory.receive(session, warehouse.id, product.id, 2, actor())
    session.refresh(order)
    assert order.status == "allocated"


def test_releasing_the_last_hold_continues_the_pipeline_through_the_event(session, make, actor):
    warehouse = make.warehouse()
    product = make.product("SKU-1")
    order = make.order(make.channel(), [("SKU-1", 1, "9.99")])
    orders.place_hold(session, order.id, "manual", "check the address", actor())
    orders.place_hold(session, order.id, "review", "check the buyer", actor())
    inventory.receive(session, warehouse.id, product.id, 5, actor())
    session.refresh(order)
    assert order.status == "backordered"  # held: the stock waits

    orders.release_hold(session, order.id, actor(), reason="manual")
    session.refresh(order)
    assert order.status == "backordered"  # one hold still open
    orders.release_hold(session, order.id, actor(), reason="review")
    session.refresh(order)
    assert order.status == "allocated"
