"""Returns and refunds: create an RMA, receive it (restocking), refund."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Allocation, OrderLine, Refund, Return, ReturnLine
from app.models.base import utcnow
from app.services.core import domain_events, events
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional


@transactional
def create_return(session: Session, order_id: int, quantities: dict, reason: str | None,
                  actor: Actor) -> Return:
    """Open a return for shipped units: ``quantities`` maps order line id -> units."""
    order = orders.get_order(session, order_id, for_update=True)
    reason = validation.text(reason, "reason", max_length=1000, required=False)
    lines = {line.id: line for line in order.lines}
    if not quantities:
        raise ValidationFailed.field("lines", "choose at least one line to return")
    count = session.scalar(select(func.count(Return.id)).where(Return.order_id == order.id)) or 0
    ret = Return(order=order, rma_number=f"RMA-{order.id}-{count + 1}", status="authorized",
                 reason=reason, created_by=actor.label, created_at=utcnow())
    session.add(ret)
    for line_id, qty in quantities.items():
        try:
            line = lines.get(validation.identifier(line_id, "lines"))
        except ValidationFailed:
            line = None
        if line is None:
            raise ValidationFailed.field("lines", f"line {line_id} is not on this order")
        qty = validation.quantity(qty, f"lines.{line_id}")
        if qty > line.quantity_shipped - line.quantity_returned:
            raise ValidationFailed.field(
                f"lines.{line_id}",
                f"only {line.quantity_shipped - line.quantity_returned} shipped unit(s) can be returned")
        ret.lines.append(ReturnLine(order_line_id=line.id, quantity=qty))
    session.add(ret)
    session.flush()
    events.return_created(session, order, actor, ret)
    _changed(session, ret, None, actor)
    return ret


@transactional
def receive_return(session: Session, return_id: int, actor: Actor) -> Return:
    """Returned goods arrived: count them back and restock to the warehouse they left."""
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id} not found")
    if ret.status not in ("requested", "authorized"):
        raise InvalidTransition(f"Return {ret.rma_number} is {ret.status}")
    for rl in ret.lines:
        line: OrderLine = rl.line
        line.quantity_returned += rl.quantity
        if rl.restock and line.product_id:
            warehouse_id = session.scalar(
                select(Allocation.warehouse_id).where(Allocation.order_line_id == line.id,
                                                      Allocation.status == "shipped").limit(1))
            if warehouse_id is not None:
                inventory.restock(session, warehouse_id, line.product_id, rl.quantity, actor,
                                  reference=ret.rma_number, order_id=ret.order_id)
    old = ret.status
    ret.status, ret.received_at = "received", utcnow()
    events.return_received(session, ret.order, actor, ret)
    _changed(session, ret, old, actor)
    return ret


@transactional
def refund(session: Session, order_id: int, amount, reason: str | None, actor: Actor,
           return_id: int | None = None) -> Refund:
    order = orders.get_order(session, order_id, for_update=True)
    amount = validation.decimal(amount, "amount", positive=True).quantize(Decimal("0.01"))
    already = session.scalar(select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.order_id == order.id, Refund.status == "succeeded")) or Decimal(0)
    total = order.total or Decimal(0)
    if Decimal(str(already)) + amount > total:
        raise ValidationFailed.field("amount", f"refunds would exceed the order total {total}")
    row = Refund(order_id=order.id, return_id=return_id, amount=amount, currency=order.currency,
                 reason=validation.text(reason, "reason", max_length=1000, required=False),
                 status="succeeded", created_by=actor.label, created_at=utcnow())
    session.add(row)
    session.flush()
    order.financial_status = "refunded" if Decimal(str(already)) + amount >= total else "partially_refunded"
    if row.return_id:
        ret = session.get(Return, row.return_id)
        if ret is not None and ret.status == "received":
            ret.status = "refunded"
            _changed(session, ret, "received", actor)
    events.refunded(session, order, actor, row)
    return row


def _changed(session: Session, ret: Return, old: str | None, actor: Actor) -> None:
    """``return.changed`` (outbound webhooks, notifications): a return was opened
    (``from`` None) or moved on."""
    domain_events.publish(session, "return.changed", {
        "return_id": ret.id, "order_id": ret.order_id, "from": old, "to": ret.status,
        "actor": actor})
