"""What lifecycle does when the domains below it change: the orchestration they cannot
reach themselves (they may not import lifecycle). Registered at app start (``register``);
each runs in the publisher's transaction."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Order
from app.services.core import domain_events
from app.services.lifecycle import allocation, allocation_queue, pipeline


def stock_available(session: Session, payload: dict) -> None:
    """Units became available: the orders waiting for them get them, in queue order."""
    allocation_queue.allocate_waiting(session, payload["product_id"], payload["actor"])


def hold_released(session: Session, payload: dict) -> None:
    """The last hold released: the order goes on from where it stopped."""
    if payload["last"]:
        pipeline.process(session, session.get(Order, payload["order_id"]), payload["actor"])


def address_changed(session: Session, payload: dict) -> None:
    """A new destination country: the order was de-allocated; route it again."""
    if payload["rerouted"]:
        pipeline.process(session, session.get(Order, payload["order_id"]), payload["actor"])


def lines_changed(session: Session, payload: dict) -> None:
    """Lines edited: reserve what the edit left open."""
    order = session.get(Order, payload["order_id"])
    if not order.is_held and order.status in allocation.ALLOCATABLE_STATUSES:
        allocation.allocate_order(session, order, payload["actor"])


SUBSCRIPTIONS = (
    ("stock.available", stock_available),
    ("order.hold_released", hold_released),
    ("order.address_changed", address_changed),
    ("order.lines_changed", lines_changed),
)


def register() -> None:
    for name, subscriber in SUBSCRIPTIONS:
        domain_events.subscribe(name, subscriber)
