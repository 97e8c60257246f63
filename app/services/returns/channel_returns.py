"""Returns a channel runs itself (Amazon: the buyer asks on Amazon, Amazon authorizes and gives
the label), read from the channel (the connector's ``fetch_returns``) and recorded as returns
of ``source`` channel, so the warehouse expects the parcels and receives, inspects and
disposes of them as any return. The channel's RMA id is the return's RMA number (what the
parcel shows, what the receiving station scans), so reading the same report again changes
nothing: an RMA already recorded is skipped (its tracking number filled in when it was
missing). The customer is told by the channel, not by us (notify.return_mail)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Order, Return
from app.services.core.actor import Actor
from app.services.core.transaction import transactional
from app.services.returns import actions, policy

# Amazon's return reason codes (the report's "Return Reason") -> our reason codes, by the
# first part found in the code; any other is "other" with Amazon's code as its note
AMAZON_REASONS = (("SMALL", "too_small"), ("LARGE", "too_large"), ("BIG", "too_large"),
                  ("DEFECTIVE", "defective"), ("DAMAGED", "damaged"), ("NOT_AS_DESCRIBED", "not_as_described"),
                  ("DIFFERENT_PRODUCT", "wrong_item"), ("SWITCHEROO", "wrong_item"), ("MISSING_PARTS", "defective"),
                  ("MISSED_ESTIMATED_DELIVERY", "late"), ("UNWANTED", "changed_mind"),
                  ("NO_LONGER_NEEDED", "changed_mind"), ("ORDERED_WRONG_ITEM", "changed_mind"),
                  ("BETTER_PRICE", "changed_mind"), ("UNAUTHORIZED_PURCHASE", "changed_mind"))
# the channel's request statuses that are not authorized yet (any other: the channel authorized it)
NOT_YET_AUTHORIZED = {"pending", "requested", "pendingapproval", "pending approval"}


@dataclass
class ImportSummary:
    created: list[str] = field(default_factory=list)  # RMA numbers recorded now
    known: int = 0  # already recorded (a report read again)
    skipped: list[str] = field(default_factory=list)  # why an RMA could not be recorded


def reason_code(channel_reason: str) -> str:
    text = (channel_reason or "").upper()
    return next((code for part, code in AMAZON_REASONS if part in text), "other")


def import_returns(session: Session, channel, items, actor: Actor) -> ImportSummary:
    """Record the channel's returned items (``ChannelReturnItem``), one return per RMA, each
    in its own transaction (one that cannot be recorded does not stop the others)."""
    summary = ImportSummary()
    by_rma: dict[str, list] = {}
    for item in items:
        by_rma.setdefault(item.rma_id, []).append(item)
    for rma, rows in by_rma.items():
        outcome = _import_one(session, channel.id, rma, rows, actor)
        if outcome == "created":
            summary.created.append(rma)
        elif outcome == "known":
            summary.known += 1
        else:
            summary.skipped.append(f"{rma}: {outcome}")
    return summary


@transactional
def _import_one(session: Session, channel_id: int, rma: str, rows: list, actor: Actor) -> str:
    rma = rma[:32]
    known = session.scalar(select(Return).where(Return.rma_number == rma).with_for_update())
    if known is not None:
        if not known.label_tracking and rows[0].tracking_number:
            known.label_tracking, known.label_carrier = rows[0].tracking_number[:64], _carrier(rows[0])
        return "known"
    order = session.scalar(select(Order).where(Order.channel_id == channel_id,
                                               Order.external_id == rows[0].order_external_id))
    if order is None:
        return f"order {rows[0].order_external_id} is not in Waybill"
    if order.fulfilled_by_channel:
        return f"the channel ships order {order.order_number} and takes its returns back itself"
    lines = _lines(session, order, rows)
    if not lines:
        return f"nothing of order {order.order_number} is left to return"
    ret = actions.create_return(session, order.id, lines, None, actor, source="channel", rma_number=rma)
    ret.label_tracking, ret.label_carrier = (rows[0].tracking_number or "")[:64] or None, _carrier(rows[0])
    if ret.status == "requested" and rows[0].status.strip().lower() not in NOT_YET_AUTHORIZED:
        actions.authorize(session, ret.id, actor)
    return "created"


def _carrier(row) -> str | None:
    # the channel's carrier name, never one of our carrier account codes (which have no ":"):
    # the tracking pass does not poll the channel's label with our accounts
    return f"channel:{row.carrier}"[:32] if row.carrier else None


def _lines(session: Session, order, rows) -> dict:
    """{order line id: {"quantity", "reason", "note"}} for the rows' SKUs, each at most what
    was shipped and is not back or on its way."""
    left = {line_id: units for line_id, (units, _why) in actions.units_left(session, order).items()}
    known = {r.code for r in policy.reasons(session)}
    lines: dict = {}
    for row in rows:
        line = next((l for l in order.lines if (l.sku or "").lower() == row.sku.lower()
                     and left.get(l.id, 0) > lines.get(l.id, {}).get("quantity", 0)), None)
        if line is None:
            continue
        quantity = min(row.quantity, left[line.id] - lines.get(line.id, {}).get("quantity", 0))
        code = reason_code(row.reason)
        code = code if code in known else "other"
        entry = lines.setdefault(line.id, {"quantity": 0, "reason": code,
                                           "note": f"{row.reason} (the channel's reason)" if row.reason else
                                           "no reason given on the channel"})
        entry["quantity"] += quantity
    return {line_id: entry for line_id, entry in lines.items() if entry["quantity"] > 0}
