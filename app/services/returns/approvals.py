"""Refunds above the asker's limit (DESIGN.md "Returns, refunds": Support adjusts within their
limit, above it an Admin approves). ``actions.refund`` records such a refund as
``pending_approval``, its amount held against the order's cap; an Admin approves it (then it
goes on as any refund: to the channel through the outbox) or rejects it (the amount is free
again). Both lock the order first, as a refund does, then the refund: two Admins deciding at
once are served one after the other and the second finds it decided."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.models import Refund
from app.services.core import events, validation
from app.services.core.actor import Actor
from app.services.core.errors import InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.orders import actions as orders, refunds
from app.services.returns import actions

AWAITING = "pending_approval"


def awaiting(session: Session, limit: int = 200) -> list[Refund]:
    """Refunds waiting for an Admin, oldest first (the approval page and API)."""
    return list(session.scalars(select(Refund).where(Refund.status == AWAITING)
                                .options(joinedload(Refund.order), joinedload(Refund.return_))
                                .order_by(Refund.created_at, Refund.id).limit(limit)))


def _decided(session: Session, refund_id, actor: Actor) -> tuple:
    """The order and the refund, locked in that order, the refund still waiting; nobody
    approves or rejects a refund they asked for themselves."""
    found = session.get(Refund, validation.identifier(refund_id, "refund_id"))
    if found is None:
        raise NotFound(f"Refund {refund_id} not found")
    order = orders.get_order(session, found.order_id, for_update=True)
    row = session.get(Refund, found.id, with_for_update=True, populate_existing=True)
    if row.status != AWAITING:
        raise InvalidTransition(f"Refund {row.id} is {row.status}: there is nothing to decide")
    if row.created_by == actor.label:
        raise ValidationFailed.field("refund_id", "another Admin decides on a refund you asked for")
    return order, row


@transactional
def approve(session: Session, refund_id, actor: Actor) -> Refund:
    """Approved: the refund goes on as any refund does (``pending`` and a ``channel.refund``
    message, or made at once where no channel is told)."""
    order, row = _decided(session, refund_id, actor)
    # its amount was held since it was asked; what was paid may have changed since (a void)
    if refunds.counted(session, order.id) > refunds.paid(order):
        raise ValidationFailed.field("amount", f"the order no longer has {row.amount} {row.currency} left to "
                                               "refund: reject it")
    events.order_event(session, order, actor, "refund_approved",
                       f"Refund of {row.amount} {row.currency} asked by {row.created_by} approved",
                       {"refund_id": row.id, "asked_by": row.created_by, "amount": str(row.amount)})
    row.status = "pending"
    actions.send_refund(session, order, row, actor)
    return row


@transactional
def reject(session: Session, refund_id, reason, actor: Actor) -> Refund:
    """Rejected, with the reason the asker reads: the amount may be refunded again."""
    _order, row = _decided(session, refund_id, actor)
    why = validation.text(reason, "reason", max_length=1000, required=False)
    refunds.set_state(session, row, "rejected", actor, error=why)
    return row

