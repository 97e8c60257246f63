"""Order actions that run the lifecycle again: re-allocation (give back the reservations
and route afresh) and the bulk actions of the orders list (hold, release, re-allocate,
cancel), each order in its own transaction."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Order
from app.models.orders import HOLD_REASONS
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import DomainError, InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.lifecycle import pipeline
from app.services.orders import actions as orders


REALLOCATABLE_STATUSES = frozenset({"new", "allocated", "partially_allocated", "backordered"})


@transactional
def reallocate(session: Session, order_id: int, actor: Actor):
    """Give back an order's reservations and allocate it afresh (after stock moved, a
    warehouse changed, or to consolidate a split). Only before picking, never while held."""
    order = orders.get_order(session, order_id, for_update=True)
    if order.status not in REALLOCATABLE_STATUSES:
        raise InvalidTransition(
            f"Order {order.order_number} is {order.status}: only orders not yet picking can "
            "be re-allocated")
    if order.is_held:
        reasons = ", ".join(h.reason for h in order.open_holds)
        raise InvalidTransition(f"Order {order.order_number} is on hold ({reasons})")
    orders.release_allocations(session, order, actor, "re-allocation")
    for line in order.lines:
        line.quantity_backordered = 0
    orders.transition(session, order, "new", actor, "re-allocation")
    session.flush()
    pipeline.process(session, order, actor)
    return order


BULK_ACTIONS = ("hold", "release", "reallocate", "cancel")
BULK_MAX_ORDERS = 500


def bulk(session: Session, action: str, ids, actor: Actor, *, reason: str | None = None,
         hold_reason: str = "manual") -> dict:
    """Run one action on many orders, each order in its own transaction: one that fails
    (shipped, not held, stale...) is reported with why and does not stop the others.
    ``reason``: the cancellation reason (required for cancel), the hold's note (required
    for hold), the release note. Returns {"action", "succeeded": [...], "failed": [...]}."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed.field("action", f"must be one of {', '.join(BULK_ACTIONS)}")
    if not isinstance(ids, (list, tuple)) or not ids:
        raise ValidationFailed.field("ids", "select at least one order")
    if len(ids) > BULK_MAX_ORDERS:
        raise ValidationFailed.field("ids", f"at most {BULK_MAX_ORDERS} orders at once")
    clean_ids = []
    for value in ids:
        try:
            clean_ids.append(validation.identifier(value, "ids"))
        except ValidationFailed:
            raise ValidationFailed.field("ids", f"'{str(value)[:40]}' is not an order id") from None
    clean_ids = list(dict.fromkeys(clean_ids))
    if action == "hold":
        if hold_reason not in HOLD_REASONS:
            raise ValidationFailed.field("hold_reason",
                                         f"must be one of {', '.join(HOLD_REASONS)}")
    if action in ("hold", "cancel"):
        reason = validation.text(reason, "reason", max_length=500)
    else:
        reason = validation.text(reason, "reason", max_length=500, required=False)
    numbers = dict(session.execute(select(Order.id, Order.order_number)
                                   .where(Order.id.in_(clean_ids))).all())
    session.rollback()  # end the read: each order below is its own write transaction
    result = {"action": action, "succeeded": [], "failed": []}
    for order_id in clean_ids:
        entry = {"id": order_id, "order_number": numbers.get(order_id)}
        try:
            if order_id not in numbers:
                raise NotFound(f"Order {order_id} not found")
            if action == "hold":
                orders.place_hold(session, order_id, hold_reason or "manual", reason, actor)
            elif action == "release":
                orders.release_hold(session, order_id, actor, note=reason)
            elif action == "reallocate":
                reallocate(session, order_id, actor)
            else:
                orders.cancel_order(session, order_id, reason, actor)
        except DomainError as err:
            result["failed"].append({**entry, "message": err.message, "code": err.code})
        else:
            result["succeeded"].append(entry)
    return result
