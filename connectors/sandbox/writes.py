"""What a seller writes back to a channel, applied to the sandbox's own order state.

Channel-neutral: each API's handler (Shopify GraphQL, WooCommerce REST, Amazon
``confirmShipment`` and feeds) turns its request into one of these calls and its answer into
the API's shape. Each refuses what the real APIs refuse (``Refused``): shipping more units
than are left, touching a cancelled fulfilment, cancelling an order with shipped units,
refunding more than was paid and not yet refunded. The caller holds ``state.lock``.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Optional

from .state import SandboxState, SimOrder, SimRefund


class Refused(Exception):
    def __init__(self, code: str, message: str, field: Optional[list] = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field or []


def _line(order: SimOrder, line_id: int):
    line = next((li for li in order.lines if li.line_id == line_id), None)
    if line is None:
        raise Refused("INVALID_LINE_ITEM", f"line item {line_id} is not on order {order.number}")
    return line


def fulfil(state: SandboxState, order: SimOrder, lines: dict[int, int], *, company: str = "",
           number: str = "", url: str = "", reference: Optional[str] = None,
           notify: bool = False) -> dict:
    """A fulfilment of ``lines`` (line id -> units) with its tracking."""
    if order.cancelled:
        raise Refused("ORDER_CANCELLED", f"order {order.number} is cancelled")
    if order.fba:
        raise Refused("FULFILLED_BY_AMAZON", "the channel fulfils this order itself")
    if not lines or any(units <= 0 for units in lines.values()):
        raise Refused("INVALID_QUANTITY", "a fulfilment needs at least one unit of each line it names")
    for line_id, units in lines.items():
        line = _line(order, line_id)
        left = line.quantity - line.cancelled - order.shipped_units(line)
        if units > left:
            raise Refused("GREATER_THAN_FULFILLABLE",
                          f"cannot fulfil {units} of line {line_id}: {left} left to fulfil")
    now = state.clock.tick()
    for line_id, units in lines.items():
        _line(order, line_id).shipped += units
    state.fulfillment_seq += 1
    fulfillment = {"id": 4_500_000_000 + state.fulfillment_seq, "status": "success",
                   "lines": dict(lines), "company": company or "", "number": number or "",
                   "url": url or "", "reference": reference, "notify": bool(notify),
                   "created_at": now.isoformat().replace("+00:00", "Z"), "tracking_updates": 0}
    order.fulfillments.append(fulfillment)
    if all(order.shipped_units(li) >= li.quantity - li.cancelled for li in order.lines):
        order.fulfilled, order.fulfilled_at = True, now
    _touch(order, now)
    return fulfillment


def find_fulfillment(order: SimOrder, fulfillment_id: int) -> dict:
    found = next((f for f in order.fulfillments if f["id"] == fulfillment_id), None)
    if found is None:
        raise Refused("NOT_FOUND", f"fulfillment {fulfillment_id} does not exist")
    return found


def update_tracking(state: SandboxState, order: SimOrder, fulfillment_id: int, *, company: str,
                    number: str, url: str) -> dict:
    fulfillment = find_fulfillment(order, fulfillment_id)
    if fulfillment["status"] == "cancelled":
        raise Refused("FULFILLMENT_CANCELLED", "a cancelled fulfillment's tracking cannot change")
    fulfillment.update(company=company or "", number=number or "", url=url or "")
    fulfillment["tracking_updates"] += 1
    _touch(order, state.clock.tick())
    return fulfillment


def cancel_fulfillment(state: SandboxState, order: SimOrder, fulfillment_id: int) -> dict:
    fulfillment = find_fulfillment(order, fulfillment_id)
    if fulfillment["status"] == "cancelled":
        raise Refused("FULFILLMENT_CANCELLED", "the fulfillment is already cancelled")
    for line_id, units in fulfillment["lines"].items():
        _line(order, line_id).shipped -= units
    fulfillment["status"] = "cancelled"
    order.fulfilled, order.fulfilled_at = False, None
    _touch(order, state.clock.tick())
    return fulfillment


def cancel(state: SandboxState, order: SimOrder, reason: str, *, refund: bool = True) -> None:
    if order.cancelled:
        raise Refused("ALREADY_CANCELLED", f"order {order.number} is already cancelled")
    if order.fulfilled or any(order.shipped_units(li) for li in order.lines):
        raise Refused("ORDER_HAS_FULFILLMENTS",
                      f"order {order.number} has shipped units: it cannot be cancelled")
    now = state.clock.tick()
    if refund:
        state._cancel(order, now, reason)
    else:
        order.cancelled_at, order.cancel_reason = now, reason
    _touch(order, now)


def refundable(order: SimOrder) -> Decimal:
    if order.payment != "paid":
        return Decimal("0")
    return order.total - order.refunded


def refund(state: SandboxState, order: SimOrder, amount: Decimal, *, reason: str = "",
           lines: Optional[dict[int, int]] = None, reference: Optional[str] = None,
           shipping: Decimal = Decimal("0")) -> SimRefund:
    if amount <= 0:
        raise Refused("INVALID_AMOUNT", "a refund amount must be positive", ["amount"])
    left = refundable(order)
    if amount > left:
        raise Refused("REFUND_EXCEEDS_PAID",
                      f"refund of {amount} is more than the {left} left to refund", ["amount"])
    for line_id, units in (lines or {}).items():
        line = _line(order, line_id)
        already = sum(r.lines.get(line_id, 0) for r in order.refunds)
        if units > line.quantity - already:
            raise Refused("INVALID_QUANTITY",
                          f"cannot refund {units} of line {line_id}: {line.quantity - already} left")
    now = state.clock.tick()
    state.refund_seq += 1
    made = SimRefund(8_800_000 + state.refund_seq, amount, now, reason or "", lines=dict(lines or {}),
                     reference=reference, shipping=shipping)
    order.refunds.append(made)
    _touch(order, now)
    return made


def _touch(order: SimOrder, now) -> None:
    order.updated_at = now
    order.version += 1
