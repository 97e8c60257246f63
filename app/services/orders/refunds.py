"""The refund's state machine, ``pending -> sent -> succeeded | failed`` (DESIGN.md "Returns,
refunds"), shared by the returns package (which creates refunds) and the channels package
(which moves them on as the channel answers): every change is on the order's timeline and
published as ``refund.changed``; a succeeded refund sets the order's financial status."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Order, Refund
from app.models.base import utcnow
from app.services.core import domain_events, events
from app.services.core.actor import Actor

# money no longer refundable: a refund waiting for an Admin's approval holds its amount, so
# approving it can never exceed what was paid
COUNTED = ("pending_approval", "pending", "sent", "succeeded")
TEXT = {"pending_approval": "awaits an Admin's approval", "pending": "requested",
        "sent": "sent to the channel", "succeeded": "confirmed", "failed": "failed",
        "rejected": "rejected"}


def paid(order: Order) -> Decimal:
    """What the buyer paid (nothing while the payment is pending or was voided)."""
    if order.financial_status in ("paid", "partially_refunded", "refunded"):
        return order.total or Decimal("0")
    return Decimal("0")


def counted(session: Session, order_id: int) -> Decimal:
    """Refunds made or under way (failed ones give the money back to refund)."""
    value = session.scalar(select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.order_id == order_id, Refund.status.in_(COUNTED)))
    return Decimal(str(value or 0))


def set_state(session: Session, refund: Refund, status: str, actor: Actor, *,
              external_id: str | None = None, error: str | None = None) -> None:
    old = refund.status
    refund.status, refund.updated_at, refund.error = status, utcnow(), error
    if external_id is not None:
        refund.external_id = external_id[:64]
    order = refund.order
    if status == "succeeded":
        done = session.scalar(select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.order_id == order.id, Refund.status == "succeeded"))
        order.financial_status = ("refunded" if Decimal(str(done or 0)) >= (order.total or Decimal("0"))
                                  else "partially_refunded")
    text = f"Refund of {refund.amount} {refund.currency} {TEXT.get(status, status)}"
    events.order_event(session, order, actor, f"refund_{status}", text + (f": {error}" if error else ""),
                       {"refund_id": refund.id, "from": old, "to": status,
                        "external_id": refund.external_id})
    published(session, refund, actor)


def published(session: Session, refund: Refund, actor: Actor) -> None:
    session.flush()
    domain_events.publish(session, "refund.changed", {"refund_id": refund.id, "order_id": refund.order_id,
                                                      "status": refund.status, "actor": actor})
