"""The one entry point after an order is stored: every path (poll, webhook, CSV, manual,
release of a hold) calls ``process``. Rules and risk checks plug in here (issue 4)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Order
from . import allocation, orders
from .actor import Actor


def process(session: Session, order: Order, actor: Actor) -> Order:
    """Move an order as far as it can go on its own. No commit (runs in the caller's
    transaction)."""
    if order.status == "cancelled" or order.is_held:
        return order
    if order.fulfilled_by_channel:
        if order.status == "new":
            orders.transition(session, order, "shipped", actor, "fulfilled by the channel")
        return order
    if order.status in allocation.ALLOCATABLE_STATUSES:
        allocation.allocate_order(session, order, actor)
    return order
