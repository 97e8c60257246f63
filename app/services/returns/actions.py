"""Returns and refunds: create an RMA, receive it (restocking), refund."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Allocation, OrderLine, Refund, Return, ReturnLine
from app.models.base import utcnow
from app.services.core import domain_events, events, outbox
from app.services.orders import queries, refunds
from connectors import currencies
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


REFUND_TOPIC = "channel.refund"  # delivered by channels.writeback.refunds


def _refund_lines(session: Session, order, lines) -> list[dict]:
    """{order line id: units} checked against what is not refunded yet."""
    if not lines:
        return []
    if not isinstance(lines, dict):
        raise ValidationFailed.field("lines", "must map order line ids to units")
    known = {line.id: line for line in order.lines}
    already: dict[int, int] = {}
    for row in session.scalars(select(Refund).where(Refund.order_id == order.id,
                                                    Refund.status.in_(refunds.COUNTED))):
        for entry in row.lines or []:
            already[entry["line_id"]] = already.get(entry["line_id"], 0) + entry["quantity"]
    clean = []
    for key, units in lines.items():
        try:
            line = known.get(validation.identifier(key, "lines"))
        except ValidationFailed:
            line = None
        if line is None:
            raise ValidationFailed.field("lines", f"line {key} is not on this order")
        units = validation.quantity(units, f"lines.{key}")
        left = line.quantity - already.get(line.id, 0)
        if units > left:
            raise ValidationFailed.field(f"lines.{key}", f"only {left} unit(s) of this line are left to refund")
        clean.append({"line_id": line.id, "quantity": units})
    return clean


def _lines_value(order, lines: list[dict]) -> Decimal:
    """What refunded units are worth: their share of the line after discount, with tax."""
    by_id = {line.id: line for line in order.lines}
    total = Decimal("0")
    for entry in lines:
        line = by_id[entry["line_id"]]
        gross = (line.subtotal if line.subtotal is not None else line.unit_price * line.quantity)
        total += (gross - line.discount + line.tax) * entry["quantity"] / line.quantity
    return total


@transactional
def refund(session: Session, order_id: int, amount, reason: str | None, actor: Actor,
           return_id: int | None = None, *, lines: dict | None = None, shipping=None,
           limit: Decimal | None = None) -> Refund:
    """A refund of ``amount`` (or, without one, of the ``lines`` and ``shipping`` given), at
    most what was paid less what is refunded or being refunded. The order row is locked
    first, so two agents refunding one order at once are served one after the other and the
    second sees the first's refund. ``limit``: the most this actor may refund (Support's
    limit). An order written back to its channel gets a ``pending`` refund and a
    ``channel.refund`` message (``succeeded`` only when the channel confirms); any other is
    refunded at once."""
    order = orders.get_order(session, order_id, for_update=True)
    reason = validation.text(reason, "reason", max_length=1000, required=False)
    clean_lines = _refund_lines(session, order, lines)
    shipping = Decimal("0") if shipping in (None, "") else validation.decimal(shipping, "shipping", positive=False)
    if shipping < 0 or shipping > order.shipping_total:
        raise ValidationFailed.field("shipping", f"must be between 0 and the shipping paid, {order.shipping_total}")
    if amount in (None, ""):
        amount = _lines_value(order, clean_lines) + shipping
        if amount <= 0:
            raise ValidationFailed.field("amount", "give an amount, or lines or shipping to refund")
    amount = validation.decimal(amount, "amount", positive=True).quantize(currencies.quantum(order.currency))
    if limit is not None and amount > limit:
        raise ValidationFailed.field("amount", f"you may refund up to {limit} {order.currency}: ask an Admin")
    left = refunds.paid(order) - refunds.counted(session, order.id)
    if amount > left:
        raise ValidationFailed.field("amount", f"only {max(left, Decimal('0'))} {order.currency} is left to "
                                               f"refund (paid less refunded or being refunded)")
    row = Refund(order_id=order.id, return_id=return_id, amount=amount, currency=order.currency,
                 reason=reason, status="pending", source="waybill", lines=clean_lines, shipping=shipping,
                 created_by=actor.label, created_at=utcnow(), updated_at=utcnow())
    session.add(row)
    session.flush()
    if row.return_id:
        ret = session.get(Return, row.return_id)
        if ret is not None and ret.status == "received":
            ret.status = "refunded"
            _changed(session, ret, "received", actor)
    events.refunded(session, order, actor, row)
    if queries.written_back(order):
        refunds.published(session, row, actor)
        outbox.enqueue(session, REFUND_TOPIC, order.channel.code, {"refund_id": row.id},
                       dedupe_key=f"{REFUND_TOPIC}:{row.id}", group_key=queries.channel_group(order),
                       order_id=order.id)
    else:  # no channel to tell: the refund is made
        refunds.set_state(session, row, "succeeded", actor)
    return row


def _changed(session: Session, ret: Return, old: str | None, actor: Actor) -> None:
    """``return.changed`` (outbound webhooks, notifications): a return was opened
    (``from`` None) or moved on."""
    domain_events.publish(session, "return.changed", {
        "return_id": ret.id, "order_id": ret.order_id, "from": old, "to": ret.status,
        "actor": actor})
