"""Stock drift: what a channel shows against what we last pushed there (issue 20).

``check`` reads back what the channel shows (the connector's ``read_inventory``, in pages
within the channel's limits), keeps it on each listing (``channel_quantity``,
``channel_read_at``: the product page shows it) and opens a ``stock_drift`` sync conflict for
a listing whose figure differs from the one we last pushed while no push of it is in flight
(one open conflict per listing). A Shopify push whose ``compareQuantity`` was stale opens one
too (stock_push).

A person resolves it by pushing again (``push_again``: our figure wins) or by accepting the
channel's figure (``accept_channel``: the difference becomes a counted stock adjustment, with
the person's reason, in a warehouse that serves the channel — then pushed as usual).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Channel, Listing, SyncConflict
from app.models.base import utcnow
from app.models.notifications import OutboxMessage
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.core.transaction import transactional
from app.services.inventory import atp, stock

from . import conflicts, stock_push


@dataclass
class DriftResult:
    read: int = 0
    drifted: int = 0
    opened: list = field(default_factory=list)  # conflict ids


def shown_by_listing(channel: Channel, listings: list[Listing], connector) -> dict[int, int | None]:
    """{listing id: what the channel shows} (Shopify: summed over the locations we push to)."""
    if channel.kind == "shopify":
        locations = sorted({loc for row in listings for loc in (row.last_pushed_locations or {})})
        levels = connector.read_inventory(locations)
        return {row.id: (sum(levels.get((row.inventory_item_id, loc), 0) for loc in row.last_pushed_locations)
                         if row.last_pushed_locations else None) for row in listings}
    shown = connector.read_inventory()
    key = (lambda row: row.sku) if channel.kind == "amazon" else (lambda row: row.external_key)
    return {row.id: shown.get(key(row)) for row in listings}


def in_flight(session: Session, channel: Channel) -> set[int]:
    """Listings with a push waiting or being sent."""
    payloads = session.scalars(select(OutboxMessage.payload).where(
        OutboxMessage.topic == stock_push.TOPIC, OutboxMessage.target == channel.code,
        OutboxMessage.status.in_(("pending", "sending"))))
    return {int(p["listing_id"]) for p in payloads if p and "listing_id" in p}


@transactional
def check(session: Session, channel: Channel, connector) -> DriftResult:
    """Read the channel back and open a conflict per drifted listing (see the module doc)."""
    listings = session.scalars(select(Listing).where(Listing.channel_id == channel.id,
                                                     Listing.product_id.is_not(None))).all()
    shown = shown_by_listing(channel, listings, connector)
    busy, now, result = in_flight(session, channel), utcnow(), DriftResult()
    for row in listings:
        figure = shown.get(row.id)
        row.channel_quantity, row.channel_read_at = figure, now
        result.read += 1
        if row.last_pushed_quantity is None or row.id in busy or figure == row.last_pushed_quantity:
            continue
        result.drifted += 1
        conflict = stock_push.open_drift_conflict(session, row, shown=figure)
        if conflict is not None:
            result.opened.append(conflict.id)
    return result


# --- resolving -------------------------------------------------------------------------------------

def _listing_of(session: Session, conflict: SyncConflict) -> Listing:
    listing = session.get(Listing, int((conflict.local_value or {}).get("listing_id") or 0))
    if listing is None or listing.product_id is None:
        raise ValidationFailed.field("listing", "the listing of this conflict is gone or unmatched")
    return listing


@transactional
def push_again(session: Session, conflict_id, actor: Actor, note: str | None = None) -> SyncConflict:
    """Our figure wins: the listing is pushed again (without comparing with the channel's)."""
    note = validation.text(note, "note", max_length=2000, required=False)
    conflict = conflicts._load_open(session, conflict_id, "push_again")
    listing = _listing_of(session, conflict)
    listing.last_pushed_locations = None  # nothing safe to compare with: overwrite
    channel = session.get(Channel, listing.channel_id)
    stock_push.queue(session, listing.id, channel.code)
    return conflicts._record(session, conflict, "resolved", "push_again", note, actor,
                             data={"listing_id": listing.id})


def _warehouse_for(session: Session, channel: Channel, product_id: int, delta: int) -> int:
    """A serving warehouse to book the difference in: the one with most available (a loss
    must fit in it)."""
    serving = atp.StockRules.of(channel).serving()
    stock_by_warehouse = atp.available_by_warehouse(session, [product_id], serving).get(product_id, {})
    if not stock_by_warehouse:
        raise ValidationFailed.field("warehouse", "no warehouse serving this channel stocks the product")
    warehouse_id, available = max(stock_by_warehouse.items(), key=lambda kv: (kv[1], -kv[0]))
    if delta < 0 and available < -delta:
        raise ValidationFailed.field("quantity", f"the channel's figure would take {-delta} unit(s); "
                                                 f"the best warehouse has {available} available")
    return warehouse_id


@transactional
def accept_channel(session: Session, conflict_id, reason: str, actor: Actor) -> SyncConflict:
    """The channel's figure is right: book the difference (channel − last pushed) as a
    counted adjustment with ``reason`` (required), then push as usual."""
    reason = validation.text(reason, "reason", max_length=500)
    conflict = conflicts._load_open(session, conflict_id, "accept_channel")
    listing = _listing_of(session, conflict)
    shown = (conflict.remote_value or {}).get("quantity")
    if shown is None or listing.last_pushed_quantity is None:
        raise ValidationFailed.field("quantity", "the channel's figure is unknown: push again instead")
    delta = int(shown) - int(listing.last_pushed_quantity)
    channel = session.get(Channel, listing.channel_id)
    if delta:
        warehouse_id = _warehouse_for(session, channel, listing.product_id, delta)
        stock.adjust(session, warehouse_id, listing.product_id, delta,
                     f"{reason} (accepted {channel.code}'s figure, sync conflict #{conflict.id})", actor)
    listing.last_pushed_locations = None
    stock_push.queue(session, listing.id, channel.code)
    return conflicts._record(session, conflict, "resolved", "accept_channel", reason, actor,
                             data={"listing_id": listing.id, "delta": delta})
