"""The return policy (DESIGN.md "Returns, refunds, exchanges"): reason codes admins keep,
the return window per channel, what cannot be returned, who pays the label, and the refund a
return is worth.

The refund of a return is calculated from what came back (units received), per unit at the
price paid: the line's price less its own discount and less its share of the order-level
discount (spread over lines by their value after line discounts), plus its tax; the order's
shipping when a received line's reason is our fault (and shipping was not refunded yet);
minus the restocking fee (percent of the items' value after discounts) on lines whose reason
is not our fault. Support may adjust the result within their limit."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Refund, Return, ReturnLine, ReturnReason, Shipment
from app.models.base import utcnow
from app.services.core import audit, settings, validation
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.orders import refunds
from connectors import currencies

DEFAULT_REASONS = [  # code, label, our fault, needs a note (also seeded by migration 0021)
    ("damaged", "Damaged", True, False), ("defective", "Defective", True, False),
    ("wrong_item", "Wrong item sent", True, False), ("not_as_described", "Not as described", True, False),
    ("too_small", "Too small", False, False), ("too_large", "Too large", False, False),
    ("changed_mind", "Changed mind", False, False), ("late", "Arrived late", True, False),
    ("other", "Other", False, True),
]
OPEN = ("requested", "authorized", "in_transit")  # units on these are not back yet
SELF_SERVICE_EXCLUDED_KINDS = ("amazon",)  # the channel runs its own returns


# --- reason codes ---------------------------------------------------------------------------

def reasons(session: Session, *, active_only: bool = True) -> list[ReturnReason]:
    """The reason codes, in their order; the defaults are written the first time none exist."""
    if not session.scalar(select(func.count(ReturnReason.id))):
        for n, (code, label, fault, note) in enumerate(DEFAULT_REASONS):
            session.add(ReturnReason(code=code, label=label, our_fault=fault, needs_note=note, active=True,
                                     position=n))
        session.flush()
    query = select(ReturnReason).order_by(ReturnReason.position, ReturnReason.id)
    if active_only:
        query = query.where(ReturnReason.active.is_(True))
    return list(session.scalars(query))


def reason(session: Session, code, field: str = "reason") -> ReturnReason:
    known = {r.code: r for r in reasons(session)}
    if code not in known:
        raise ValidationFailed.field(field, f"must be one of {', '.join(known)}")
    return known[code]


@transactional
def save_reason(session: Session, values: dict, actor: Actor, reason_id: int | None = None) -> ReturnReason:
    """Add or change a reason code (Admin). Codes are kept, never deleted: old returns name them."""
    row = session.get(ReturnReason, reason_id) if reason_id else ReturnReason()
    if row is None:
        raise NotFound(f"Reason {reason_id} not found")
    code = validation.text(values.get("code", row.code), "code", max_length=32)
    if not code.replace("_", "").isalnum() or code.lower() != code:
        raise ValidationFailed.field("code", "lower-case letters, digits and _ only")
    clash = session.scalar(select(ReturnReason.id).where(ReturnReason.code == code))
    if clash is not None and clash != row.id:
        raise ValidationFailed.field("code", "is taken")
    row.code = code
    row.label = validation.text(values.get("label", row.label), "label", max_length=100)
    for flag in ("our_fault", "needs_note", "active"):
        if flag in values:
            setattr(row, flag, str(values[flag]).lower() in ("1", "true", "on", "yes", "y"))
    row.position = validation.integer(values.get("position", row.position or 0), "position", minimum=0,
                                      maximum=1000)
    row.our_fault, row.needs_note = bool(row.our_fault), bool(row.needs_note)
    row.active = True if row.active is None else row.active
    session.add(row)
    session.flush()
    audit.record(session, actor, "return_reason", row.id, "saved",
                 {"code": row.code, "our_fault": row.our_fault, "active": row.active})
    return row


# --- what may come back ---------------------------------------------------------------------

def _csv(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def window_days(session: Session, channel) -> int:
    for part in (settings.get(session, "return_window_by_channel") or "").split(","):
        code, _, days = part.partition("=")
        if code.strip() == channel.code and days.strip().isdigit():
            return int(days.strip())
    return settings.get(session, "return_window_days")


def pending_units(session: Session, order_id: int) -> dict[int, int]:
    """Units on returns not received yet, per order line."""
    rows = session.execute(select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
                           .join(Return, Return.id == ReturnLine.return_id)
                           .where(Return.order_id == order_id, Return.status.in_(OPEN))
                           .group_by(ReturnLine.order_line_id))
    return {line_id: int(units) for line_id, units in rows}


@dataclass
class Offer:
    line: object
    left: int  # units that may be returned now
    why_not: str | None = None


def offers(session: Session, order) -> list[Offer]:
    """Each line with the units that may be returned, or why none can."""
    pending = pending_units(session, order.id)
    skus = _csv(settings.get(session, "return_nonreturnable_skus"))
    tags = _csv(settings.get(session, "return_nonreturnable_tags"))
    order_why = None
    if tags & {str(t).lower() for t in (order.tags or [])}:
        order_why = "this order is final sale"
    elif _expired(session, order):
        order_why = f"the {window_days(session, order.channel)}-day return window has passed"
    result = []
    for line in order.lines:
        left = line.quantity_shipped - line.quantity_returned - pending.get(line.id, 0)
        why = order_why
        if why is None and (line.sku or "").lower() in skus:
            why = "this item cannot be returned"
        elif why is None and line.quantity_shipped == 0:
            why = "not shipped yet"
        elif why is None and left <= 0:
            why = "already returned"
        result.append(Offer(line, 0 if why else left, why))
    return result


def _expired(session: Session, order) -> bool:
    days = window_days(session, order.channel)
    since = session.scalar(select(func.max(func.coalesce(Shipment.delivered_at, Shipment.shipped_at)))
                           .where(Shipment.order_id == order.id))
    if days == 0:
        return True
    return since is not None and utcnow() - _aware(since) > timedelta(days=days)


def _aware(value):
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def label_paid_by_us(session: Session, reason_rows) -> bool:
    who = settings.get(session, "return_label_paid_by")
    return who == "us" or (who == "our_fault" and any(r.our_fault for r in reason_rows))


# --- what a return is worth -------------------------------------------------------------------

@dataclass
class Breakdown:
    currency: str
    items: Decimal = Decimal("0")  # price paid less the line's own discount
    discount: Decimal = Decimal("0")  # the share of the order-level discount (taken off)
    tax: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    restocking_fee: Decimal = Decimal("0")  # taken off
    exchange: Decimal = Decimal("0")  # the exchange order's value (taken off: the customer got goods)
    left: Decimal = Decimal("0")  # paid less refunded: the most that can be refunded
    lines: list = field(default_factory=list)  # [{"line_id", "quantity"}]

    @property
    def total(self) -> Decimal:
        value = self.items - self.discount + self.tax + self.shipping - self.restocking_fee - self.exchange
        return max(min(value, self.left), Decimal("0")).quantize(currencies.quantum(self.currency))

    def as_dict(self) -> dict:
        return {k: str(getattr(self, k)) for k in ("items", "discount", "tax", "shipping", "restocking_fee",
                                                   "exchange", "left", "total")} | {"currency": self.currency}


def _order_discount(order) -> Decimal:
    """The order-level discount: what the order's discount has beyond the lines' own."""
    return max((order.discount_total or Decimal("0")) - sum((l.discount for l in order.lines), Decimal("0")),
               Decimal("0"))


def _line_net(line) -> Decimal:
    gross = line.subtotal if line.subtotal is not None else line.unit_price * line.quantity
    return gross - line.discount


def _cents(value: Decimal, currency: str) -> Decimal:
    return value.quantize(currencies.quantum(currency), rounding=ROUND_HALF_UP)


def breakdown(session: Session, ret: Return, *, with_exchange: bool = True) -> Breakdown:
    order, cur = ret.order, ret.order.currency
    result = Breakdown(cur, left=refunds.paid(order) - refunds.counted(session, order.id))
    all_net = sum((_line_net(l) for l in order.lines), Decimal("0"))
    order_discount = _order_discount(order)
    fee_percent = settings.get(session, "return_restocking_fee_percent") or Decimal("0")
    codes = {r.code: r for r in reasons(session, active_only=False)}
    our_fault = False
    for rl in ret.lines:
        units = rl.quantity_received if ret.status in ("received", "inspected", "closed") else rl.quantity
        if not units:
            continue
        line = rl.line
        items = _cents(_line_net(line) * units / line.quantity, cur)
        share = _cents(order_discount * _line_net(line) / all_net * units / line.quantity, cur) if all_net else 0
        result.items += items
        result.discount += share
        result.tax += _cents(line.tax * units / line.quantity, cur)
        fault = codes.get(rl.reason_code).our_fault if rl.reason_code in codes else False
        our_fault = our_fault or fault
        if not fault:
            result.restocking_fee += _cents((items - share) * fee_percent / 100, cur)
        result.lines.append({"line_id": line.id, "quantity": units})
    if our_fault:
        refunded_shipping = session.scalar(select(func.coalesce(func.sum(Refund.shipping), 0)).where(
            Refund.order_id == order.id, Refund.status.in_(refunds.COUNTED)))
        result.shipping = max(order.shipping_total - Decimal(str(refunded_shipping or 0)), Decimal("0"))
    if with_exchange and ret.exchange_order is not None:
        result.exchange = ret.exchange_order.total or Decimal("0")
    return result
