"""Returns: open an RMA (Support or the customer), authorize or reject it, scan it back in,
inspect and dispose of each line, refund what the policy says (DESIGN.md "Returns, refunds,
exchanges"). Every change of state publishes ``return.changed`` (outbound webhooks, mails)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Allocation, OrderLine, Refund, Return, ReturnLine, Warehouse
from app.models.base import utcnow
from app.models.returns import DISPOSITIONS, GRADES
from app.services.core import domain_events, events, outbox, settings
from app.services.orders import queries, refunds
from connectors import currencies
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.returns import policy


# --- opening -----------------------------------------------------------------------------------

def _line_request(value, default_reason, key) -> tuple:
    """A line's request: units, or {"quantity", "reason", "note"}."""
    if isinstance(value, dict):
        return value.get("quantity"), value.get("reason") or default_reason, value.get("note")
    return value, default_reason, None


def _add_lines(session: Session, ret: Return, order, requested: dict, default_reason, limits: dict) -> list:
    lines = {line.id: line for line in order.lines}
    used = []
    for key, value in requested.items():
        try:
            line = lines.get(validation.identifier(key, "lines"))
        except ValidationFailed:
            line = None
        if line is None:
            raise ValidationFailed.field("lines", f"line {key} is not on this order")
        qty, code, note = _line_request(value, default_reason, key)
        qty = validation.quantity(qty, f"lines.{key}")
        left, why = limits.get(line.id, (0, "not shipped yet"))
        if qty > left:
            raise ValidationFailed.field(f"lines.{key}", why or f"only {left} shipped unit(s) can be returned")
        row = policy.reason(session, code, f"lines.{key}.reason")
        note = validation.text(note, f"lines.{key}.note", max_length=1000, required=row.needs_note)
        ret.lines.append(ReturnLine(order_line_id=line.id, quantity=qty, reason_code=row.code, note=note))
        used.append(row)
    return used


def _limits(session: Session, order, source: str) -> dict:
    """Units each line may give back: the customer within the policy; staff (and a channel that
    runs its own returns) up to what was shipped and is not back or on its way (they may make
    exceptions to the window)."""
    if source == "customer":
        return {o.line.id: (o.left, o.why_not) for o in policy.offers(session, order)}
    return units_left(session, order)


def units_left(session: Session, order) -> dict:
    """{order line id: (units shipped and not back or on their way, None)}."""
    pending = policy.pending_units(session, order.id)
    return {line.id: (max(line.quantity_shipped - line.quantity_returned - pending.get(line.id, 0), 0), None)
            for line in order.lines}


@transactional
def create_return(session: Session, order_id: int, quantities: dict, reason: str | None,
                  actor: Actor, *, source: str = "staff", rma_number: str | None = None) -> Return:
    """Open a return: ``quantities`` maps order line id -> units or {"quantity", "reason",
    "note"}; ``reason``: the reason code of lines without their own; ``rma_number``: the
    channel's, for a return the channel runs (else RMA-<order>-<n>). Authorized at once when
    worth less than the policy's automatic authorization amount."""
    order = orders.get_order(session, order_id, for_update=True)
    if not quantities:
        raise ValidationFailed.field("lines", "choose at least one line to return")
    count = session.scalar(select(func.count(Return.id)).where(Return.order_id == order.id)) or 0
    limits = _limits(session, order, source)
    policy.reasons(session)  # (the defaults written before the new return is in the session)
    ret = Return(order=order, rma_number=rma_number or f"RMA-{order.id}-{count + 1}", status="requested",
                 source=source, created_by=actor.label, created_at=utcnow())
    session.add(ret)
    used = _add_lines(session, ret, order, quantities, reason, limits)
    ret.reason = ", ".join(dict.fromkeys(r.label for r in used))
    session.add(ret)
    session.flush()
    events.return_created(session, order, actor, ret)
    _changed(session, ret, None, actor)
    below = settings.get(session, "return_auto_authorize_below") or Decimal("0")
    if below and policy.breakdown(session, ret).total < below:
        _authorize(session, ret, actor)
    return ret


def get_return(session: Session, return_id, *, for_update: bool = False) -> Return:
    ret = session.get(Return, validation.identifier(return_id, "return_id"), with_for_update=for_update)
    if ret is None:
        raise NotFound(f"Return {return_id} not found")
    return ret


def find(session: Session, code: str) -> Return:
    """A return by its RMA number, its label's tracking number or its order's number (the
    newest open one): what the receiving station scans."""
    code = (code or "").strip()
    if not code:
        raise ValidationFailed.field("code", "scan an RMA, a tracking number or an order number")
    from app.models import Order  # noqa: PLC0415 - one query per way to find it
    for where in (func.upper(Return.rma_number) == code.upper(), Return.label_tracking == code):
        found = session.scalar(select(Return).where(where).order_by(Return.id.desc()).limit(1))
        if found is not None:
            return found
    found = session.scalar(select(Return).join(Order, Order.id == Return.order_id)
                           .where(Order.order_number == code, Return.status.in_(policy.OPEN + ("received",)))
                           .order_by(Return.id.desc()).limit(1))
    if found is None:
        raise NotFound(f"No open return for {code}")
    return found


def _move(session: Session, ret: Return, allowed: tuple, to: str, actor: Actor) -> None:
    if ret.status not in allowed:
        raise InvalidTransition(f"Return {ret.rma_number} is {ret.status}")
    old, ret.status = ret.status, to
    events.order_event(session, ret.order, actor, f"return_{to}", f"Return {ret.rma_number} {to.replace('_', ' ')}",
                       {"return_id": ret.id, "from": old, "to": to})
    _changed(session, ret, old, actor)


# --- authorization -----------------------------------------------------------------------------

def label_due(session: Session, return_id) -> bool:
    """The policy says we pay the label and none was bought yet (then the caller buys it:
    fulfilment.return_labels, outside this transaction)."""
    ret = get_return(session, return_id)
    codes = {r.code: r for r in policy.reasons(session, active_only=False)}
    rows = [codes[rl.reason_code] for rl in ret.lines if rl.reason_code in codes]
    return ret.status == "authorized" and not ret.label_tracking and policy.label_paid_by_us(session, rows)


def _authorize(session: Session, ret: Return, actor: Actor) -> None:
    ret.authorized_at = utcnow()
    _move(session, ret, ("requested",), "authorized", actor)


@transactional
def authorize(session: Session, return_id, actor: Actor) -> Return:
    """Support agrees: the customer may send it (the label is bought next, ``label_due``)."""
    ret = get_return(session, return_id, for_update=True)
    _authorize(session, ret, actor)
    return ret


@transactional
def reject(session: Session, return_id, reason, actor: Actor) -> Return:
    """Refused, with the reason the customer is told."""
    ret = get_return(session, return_id, for_update=True)
    ret.rejection_reason = validation.text(reason, "reason", max_length=1000)
    _move(session, ret, ("requested",), "rejected", actor)
    return ret


@transactional
def in_transit(session: Session, return_id, actor: Actor) -> Return:
    """The return parcel is moving (its tracking, or staff): expected at the warehouse."""
    ret = get_return(session, return_id, for_update=True)
    _move(session, ret, ("authorized",), "in_transit", actor)
    return ret


# --- receiving and inspection -------------------------------------------------------------------

RECEIVABLE = ("requested", "authorized", "in_transit")


def _received(session: Session, ret: Return, actor: Actor) -> None:
    ret.received_at = utcnow()
    _move(session, ret, RECEIVABLE, "received", actor)
    events.return_received(session, ret.order, actor, ret)


def _count_back(rl: ReturnLine, units: int) -> None:
    rl.quantity_received += units
    rl.line.quantity_returned += units


@transactional
def scan_item(session: Session, return_id, code: str, actor: Actor) -> tuple[bool, str]:
    """One item scanned back (its SKU): counted on its line, the return received at the first.
    An item not on the return is refused and kept as an extra on the return."""
    ret = get_return(session, return_id, for_update=True)
    code = validation.text(code, "code", max_length=128)
    if ret.status not in RECEIVABLE + ("received",):
        raise InvalidTransition(f"Return {ret.rma_number} is {ret.status}")
    match = [rl for rl in ret.lines if (rl.line.sku or "").lower() == code.lower()]
    line = next((rl for rl in match if rl.quantity_received < rl.quantity), None)
    if line is None:
        why = "more than the return says" if match else "not on this return"
        ret.extras = [*(ret.extras or []), {"sku": code, "why": why, "by": actor.label, "at": utcnow().isoformat()}]
        events.order_event(session, ret.order, actor, "return_extra", f"Return {ret.rma_number}: {code} {why}, "
                           "kept aside", {"return_id": ret.id, "sku": code})
        return False, f"{code}: {why} — refused, recorded as an extra item"
    _count_back(line, 1)
    if ret.status in RECEIVABLE:
        _received(session, ret, actor)
    return True, f"{code}: {line.quantity_received} of {line.quantity}"


@transactional
def receive_return(session: Session, return_id: int, actor: Actor) -> Return:
    """The whole return arrived as announced (no item-by-item scan): every unit is counted."""
    ret = get_return(session, return_id, for_update=True)
    if ret.status not in RECEIVABLE:
        raise InvalidTransition(f"Return {ret.rma_number} is {ret.status}")
    for rl in ret.lines:
        _count_back(rl, rl.quantity - rl.quantity_received)
    _received(session, ret, actor)
    return ret


def _shipped_from(session: Session, line: OrderLine) -> int | None:
    return session.scalar(select(Allocation.warehouse_id).where(Allocation.order_line_id == line.id,
                                                                Allocation.status == "shipped").limit(1))


def _inspect_line(session: Session, ret: Return, rl: ReturnLine, values: dict, actor: Actor) -> None:
    key = f"lines.{rl.id}"
    grade = values.get("grade") or "A"
    if grade not in GRADES:
        raise ValidationFailed.field(f"{key}.grade", f"must be one of {', '.join(GRADES)}")
    disposition = values.get("disposition") or ("restock" if grade in ("A", "B") else "refurbish")
    if disposition not in DISPOSITIONS:
        raise ValidationFailed.field(f"{key}.disposition", f"must be one of {', '.join(DISPOSITIONS)}")
    rl.grade, rl.disposition = grade, disposition
    rl.note = validation.text(values.get("note"), f"{key}.note", max_length=2000, required=False) or rl.note
    rl.restock = disposition == "restock"
    if not rl.restock or not rl.quantity_received or not rl.line.product_id:
        return
    warehouse_id = values.get("warehouse_id") or _shipped_from(session, rl.line)
    if warehouse_id in (None, "") or session.get(Warehouse, validation.identifier(warehouse_id, f"{key}.warehouse_id")) is None:
        raise ValidationFailed.field(f"{key}.warehouse_id", "choose the warehouse it goes back to")
    rl.warehouse_id = int(warehouse_id)
    # a `return` movement, then stock.available: waiting orders may be allocated
    inventory.restock(session, rl.warehouse_id, rl.line.product_id, rl.quantity_received, actor,
                      reference=ret.rma_number, order_id=ret.order_id)


@transactional
def inspect(session: Session, return_id, lines: dict | None, actor: Actor) -> Return:
    """Grade (A-D) and dispose of each received line: ``lines`` maps return line id ->
    {"grade", "disposition", "warehouse_id", "note"}; only restock adds stock."""
    ret = get_return(session, return_id, for_update=True)
    if ret.status != "received":
        raise InvalidTransition(f"Return {ret.rma_number} is {ret.status}: receive it first")
    lines = lines or {}
    if not isinstance(lines, dict):
        raise ValidationFailed.field("lines", "must map return line ids to grade and disposition")
    known = {str(rl.id) for rl in ret.lines}
    unknown = [k for k in lines if str(k) not in known]
    if unknown:
        raise ValidationFailed.field("lines", f"line {unknown[0]} is not on this return")
    by_key = {str(k): v for k, v in lines.items()}
    for rl in ret.lines:
        values = by_key.get(str(rl.id)) or {}
        if not isinstance(values, dict):
            raise ValidationFailed.field(f"lines.{rl.id}", "must be an object")
        _inspect_line(session, ret, rl, values, actor)
    ret.inspected_at = utcnow()
    _move(session, ret, ("received",), "inspected", actor)
    return ret


@transactional
def receive_and_inspect(session: Session, return_id, lines: dict | None, actor: Actor) -> Return:
    """Receive every unit and inspect in one go (the API): all or nothing."""
    receive_return(session, return_id, actor)
    return inspect(session, return_id, lines, actor)


@transactional
def close(session: Session, return_id, actor: Actor) -> Return:
    """Done with it (refunded, or nothing to refund)."""
    ret = get_return(session, return_id, for_update=True)
    _close(session, ret, actor)
    return ret


def _close(session: Session, ret: Return, actor: Actor) -> None:
    ret.closed_at = utcnow()
    _move(session, ret, ("received", "inspected"), "closed", actor)


# --- refunds ------------------------------------------------------------------------------------

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
    second sees the first's refund. ``limit``: the most this actor may refund alone (Support's
    limit): above it the refund is recorded ``pending_approval`` (its amount held) and waits
    for an Admin (returns.approvals). An order written back to its channel gets a ``pending``
    refund and a ``channel.refund`` message (``succeeded`` only when the channel confirms);
    any other is refunded at once. A refund against a received or inspected return closes it."""
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
    left = refunds.paid(order) - refunds.counted(session, order.id)
    if amount > left:
        raise ValidationFailed.field("amount", f"only {max(left, Decimal('0'))} {order.currency} is left to "
                                               f"refund (paid less refunded or being refunded)")
    approval = limit is not None and amount > limit
    row = Refund(order_id=order.id, return_id=return_id, amount=amount, currency=order.currency,
                 reason=reason, status="pending_approval" if approval else "pending", source="waybill",
                 lines=clean_lines, shipping=shipping, created_by=actor.label, created_at=utcnow(),
                 updated_at=utcnow())
    session.add(row)
    session.flush()
    if approval:
        events.order_event(session, order, actor, "refund_pending_approval",
                           f"Refund of {amount} {order.currency} asked by {actor.label} awaits an Admin's "
                           f"approval (above the refund limit of {limit})",
                           {"refund_id": row.id, "amount": str(amount), "limit": str(limit)})
        refunds.published(session, row, actor)
    else:
        send_refund(session, order, row, actor)
    return row


def send_refund(session: Session, order, row: Refund, actor: Actor) -> None:
    """A refund made (at once, or once approved): it closes its received return, and goes to
    the channel through the outbox — or, where no channel is told, it is made."""
    if row.return_id:
        ret = session.get(Return, row.return_id)
        if ret is not None and ret.status in ("received", "inspected"):
            _close(session, ret, actor)
    events.refunded(session, order, actor, row)
    if queries.written_back(order):
        refunds.published(session, row, actor)
        outbox.enqueue(session, REFUND_TOPIC, order.channel.code, {"refund_id": row.id},
                       dedupe_key=f"{REFUND_TOPIC}:{row.id}", group_key=queries.channel_group(order),
                       order_id=order.id)
    else:  # no channel to tell: the refund is made
        refunds.set_state(session, row, "succeeded", actor)


def refund_return(session: Session, return_id, actor: Actor, *, amount=None, reason: str | None = None,
                  limit: Decimal | None = None) -> Refund:
    """Refund a return by the policy's calculation (``policy.breakdown``), or ``amount`` when
    Support adjusted it. The units refunded are those received (or asked, before receipt)."""
    ret = get_return(session, return_id)
    calc = policy.breakdown(session, ret)
    lines = {entry["line_id"]: entry["quantity"] for entry in calc.lines}
    if amount in (None, ""):
        amount = calc.total
        if amount <= 0:
            raise ValidationFailed.field("amount", "nothing is left to refund on this return")
    return refund(session, ret.order_id, amount, reason or f"Return {ret.rma_number}", actor, return_id=ret.id,
                  lines=lines, shipping=calc.shipping, limit=limit)


def _changed(session: Session, ret: Return, old: str | None, actor: Actor) -> None:
    """``return.changed`` (outbound webhooks, notifications): a return was opened
    (``from`` None) or moved on."""
    domain_events.publish(session, "return.changed", {
        "return_id": ret.id, "order_id": ret.order_id, "from": old, "to": ret.status,
        "actor": actor})
