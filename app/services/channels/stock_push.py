"""Stock pushed to the channels (DESIGN.md "Channel write-back", issue 20).

Every stock change publishes ``stock.changed`` (inventory.stock); this module hears it and
queues one pending ``channel.inventory`` message per (channel, listing) of the product —
the outbox's dedupe key keeps it one while it waits, so a burst of changes collapses into a
single push. The message holds only the listing id: the quantity is the channel's ATP
(inventory.atp) read when it is sent.

The topic is a batch topic (core.outbox ``register_batch``): the sender hands ``send_batch``
up to ``CLAIM_SIZE`` messages of one channel, which reads their ATP, pushes them through the
channel connector in the largest calls the channel allows (``push_inventory``, paced by the
channel's limits), and records what it pushed on each listing (quantity, per location, time).

Why a change never goes missing: queued messages give up their dedupe key when the sender
claims them (``release_key_on_claim``), and the transaction that queues a change holds the
pending message's row until it commits (queued in listing order, just before the commit, so
two transactions never wait on each other in a circle). The sender skips locked rows, so the
ATP it reads always includes every change that joined the message; a change made once the
message is taken queues a new one.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.models import Channel, Listing, SyncConflict
from app.models.base import utcnow
from app.models.notifications import OutboxMessage
from app.services.core import domain_events, outbox
from app.services.core.errors import Conflict
from app.services.core.outbox import PermanentError, RetryableError, Sent
from app.services.inventory import atp
# imported first so that its before_commit (released stock offered to waiting orders, which
# may reserve and so change stock) runs before ours, which queues the pushes
from app.services.inventory import stock as _stock  # noqa: F401
from connectors.errors import ChannelRateLimited
from connectors.stock_push import StockItem

TOPIC = "channel.inventory"
# messages of one channel handed to one batch (the connector splits them in calls): Amazon
# about 20 s of its 5 calls a second, so a claim is sent well within an outbox pass;
# Shopify and WooCommerce a whole burst (a few dozen calls)
CLAIM_SIZE = {"shopify": 5000, "woocommerce": 5000, "amazon": 100}
_PENDING = "waybill_stock_push_products"


def dedupe_key(listing_id: int) -> str:
    return f"{TOPIC}:{listing_id}"


# --- queueing ----------------------------------------------------------------------------------

def on_stock_changed(session: Session, payload: dict) -> None:
    """``stock.changed``: remember the product; its listings are queued at commit."""
    product_id = payload.get("product_id")
    if product_id is not None:
        session.info.setdefault(_PENDING, set()).add(int(product_id))


@event.listens_for(Session, "before_commit")
def _queue_at_commit(session: Session) -> None:
    rounds = 0
    while session.info.get(_PENDING) and rounds < 5:
        products = session.info.pop(_PENDING)
        rounds += 1
        queue_products(session, products)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def queue_products(session: Session, product_ids) -> int:
    """Queue a push of every listing of these products on every enabled channel."""
    rows = session.execute(
        select(Listing.id, Channel.code).join(Channel, Channel.id == Listing.channel_id)
        .where(Listing.product_id.in_(sorted(set(product_ids))), Channel.enabled.is_(True))
        .order_by(Listing.id)).all()
    queue_many(session, rows)
    return len(rows)


def queue(session: Session, listing_id: int, channel_code: str) -> None:
    queue_many(session, [(listing_id, channel_code)])


def queue_many(session: Session, listings) -> None:
    """One pending message per listing (the one already waiting, if any), each held by this
    transaction until it commits (see the module doc). ``listings``: [(id, channel code)]."""
    # in listing order: concurrent transactions take the rows in one order (never in a circle),
    # and a channel's messages are claimed in listing order (a WooCommerce parent's
    # variations stay together, in one call)
    ordered = sorted(set(listings))
    wanted = {dedupe_key(listing_id): (listing_id, code) for listing_id, code in ordered}
    missing = [dedupe_key(listing_id) for listing_id, _ in ordered]
    for _ in range(5):
        outbox.enqueue_many(session, TOPIC, [(wanted[key][1], {"listing_id": wanted[key][0]}, key)
                                             for key in missing])
        held = set()
        for start in range(0, len(missing), 500):
            held.update(session.scalars(
                select(OutboxMessage.dedupe_key)
                .where(OutboxMessage.dedupe_key.in_(missing[start:start + 500]), OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id).with_for_update()))
        # a message the sender took between our insert and our lock gave its key up: anew
        missing = [key for key in missing if key not in held]
        if not missing:
            return
    raise Conflict(f"could not queue the stock pushes of {len(missing)} listing(s): try again")


def queue_all(session: Session, channel: Optional[Channel] = None) -> int:
    """Every matched listing of one channel (or every enabled one): ``flask oms push-stock``."""
    query = (select(Listing.id, Channel.code).join(Channel, Channel.id == Listing.channel_id)
             .where(Listing.product_id.is_not(None), Channel.enabled.is_(True)).order_by(Listing.id))
    if channel is not None:
        query = query.where(Channel.id == channel.id)
    rows = session.execute(query).all()
    queue_many(session, rows)
    return len(rows)


# --- sending -------------------------------------------------------------------------------------

def _locations(channel: Channel, promise: atp.Promise) -> Optional[dict]:
    """Shopify: the per-location quantities (the mapped locations, else the first active one)."""
    if channel.kind != "shopify":
        return None
    if promise.by_location is not None:
        return dict(promise.by_location)
    active = [loc["id"] for loc in channel.locations or [] if loc.get("active", True)]
    return {active[0]: promise.quantity} if active else None


def stock_items(session: Session, channel: Channel, listings: list[Listing]) -> tuple[list[StockItem], dict]:
    """What to push for these listings now, and {ref: why not} for those that cannot be."""
    promises = atp.for_channel(session, channel, [row.product_id for row in listings if row.product_id])
    items, refused = [], {}
    for row in listings:
        if row.product_id is None:
            refused[str(row.id)] = "the listing is not matched to a product"
            continue
        promise = promises[row.product_id]
        locations = _locations(channel, promise)
        if channel.kind == "shopify" and (not locations or not row.inventory_item_id):
            refused[str(row.id)] = "no Shopify location or inventory item: sync the listings"
            continue
        compare = row.last_pushed_locations if locations and row.last_pushed_locations is not None else None
        if compare is not None and set(compare) != set(locations):
            compare = None  # the location map changed: nothing safe to compare with
        items.append(StockItem(
            ref=str(row.id), quantity=promise.quantity, external_key=row.external_key,
            external_id=row.external_id, external_variant_id=row.external_variant_id,
            inventory_item_id=row.inventory_item_id, sku=row.sku, product_type=row.product_type,
            locations=locations, compare=compare))
    return items, refused


CONNECTOR = None  # tests and benchmarks may set a factory(channel) -> connector
# One connector per channel (as last edited) for the process: its session's rate limiters
# remember what was spent, so consecutive batches keep to the channel's limits.
_connectors: dict = {}
_connectors_lock = threading.Lock()


def _connector(channel: Channel):
    if CONNECTOR is not None:
        return CONNECTOR(channel)
    from jobs.pull_orders import connector_for

    key = (channel.id, channel.updated_at, channel.credentials_encrypted)
    with _connectors_lock:
        found = _connectors.get(channel.id)
        if found is None or found[0] != key:
            found = _connectors[channel.id] = (key, connector_for(channel))
        return found[1]


def claim_size(target: str) -> int:
    from app.extensions import db

    with db.engine.connect() as connection:
        kind = connection.execute(select(Channel.kind).where(Channel.code == target)).scalar()
    return CLAIM_SIZE.get(kind, 500)


def send_batch(messages: list) -> dict:
    """The ``channel.inventory`` batch handler: {message id: Sent | error}."""
    from app.extensions import db

    with Session(db.engine) as session:
        channel = session.scalar(select(Channel).where(Channel.code == messages[0].target))
        if channel is None or not channel.enabled:
            return {m.id: Sent(note="the channel is gone or disabled: not pushed") for m in messages}
        by_listing: dict[int, list] = {}
        for message in messages:
            by_listing.setdefault(int(message.payload["listing_id"]), []).append(message)
        listings = session.scalars(select(Listing).where(Listing.id.in_(sorted(by_listing)))).all()
        items, refused = stock_items(session, channel, listings)
        channel_id = channel.id
        try:
            connector = _connector(channel)
        except ValueError as exc:
            return {m.id: PermanentError(f"cannot build the connector: {exc}") for m in messages}
    result = connector.push_inventory(items) if items else None
    answers = _answers(by_listing, items, refused, result)
    if result is not None:
        _record(channel_id, items, result)
    return answers


def _answers(by_listing: dict, items: list[StockItem], refused: dict, result) -> dict:
    sent, answers = Sent(), {}
    outcome: dict[str, object] = {ref: PermanentError(why) for ref, why in refused.items()}
    if result is not None:
        outcome.update({ref: sent for ref in result.pushed})
        outcome.update({ref: PermanentError(why) for ref, why in result.refused.items()})
        outcome.update({ref: Sent(note=f"the channel's figure moved ({why}): a stock_drift conflict")
                        for ref, why in result.stale.items()})
        for ref, error in result.retry.items():
            wait = 60.0 if isinstance(error, ChannelRateLimited) else None
            outcome[ref] = RetryableError(str(error), retry_after=wait)
    for listing_id, messages in by_listing.items():
        answer = outcome.get(str(listing_id), Sent(note="the listing is gone: not pushed"))
        for message in messages:
            answers[message.id] = answer
    return answers


def _record(channel_id: int, items: list[StockItem], result) -> None:
    """What was pushed, on each listing; a stale figure opens a drift conflict."""
    from app.extensions import db
    from app.services.core.transaction import write_intent

    pushed = set(result.pushed)
    now = utcnow()
    with write_intent(), Session(db.engine) as session, session.begin():
        rows = {str(r.id): r for r in session.scalars(
            select(Listing).where(Listing.id.in_([int(i.ref) for i in items if i.ref in pushed or i.ref in result.stale])))}
        for item in items:
            row = rows.get(item.ref)
            if row is None:
                continue
            if item.ref in pushed:
                row.last_pushed_quantity, row.last_pushed_at = item.quantity, now
                row.last_pushed_locations = item.locations
            elif item.ref in result.stale:
                open_drift_conflict(session, row, shown=None, note=result.stale[item.ref])


def open_drift_conflict(session: Session, listing: Listing, *, shown, note: str | None = None) -> SyncConflict | None:
    """A ``stock_drift`` conflict for the listing (None when one is open already)."""
    existing = session.scalar(select(SyncConflict).where(
        SyncConflict.kind == "stock_drift", SyncConflict.status == "open",
        SyncConflict.channel_id == listing.channel_id, SyncConflict.external_id == listing.external_key[:64]))
    if existing is not None:
        return None
    conflict = SyncConflict(
        channel_id=listing.channel_id, kind="stock_drift", external_id=listing.external_key[:64],
        sku=listing.sku, field="quantity",
        local_value={"listing_id": listing.id, "last_pushed": listing.last_pushed_quantity,
                     "pushed_at": listing.last_pushed_at.isoformat() if listing.last_pushed_at else None},
        remote_value={"quantity": shown},
        error=note or f"the channel shows {shown}, we last pushed {listing.last_pushed_quantity}",
        created_at=utcnow())
    session.add(conflict)
    session.flush()
    return conflict


# --- reading (product and channel pages) -------------------------------------------------------

@dataclass(frozen=True)
class ListingStock:
    channel_code: str
    channel_name: str
    listing_id: int
    sku: Optional[str]
    atp: int  # what we would push now
    last_pushed: Optional[int]
    last_pushed_at: object
    channel_shows: Optional[int]  # when the drift job last read it back
    channel_read_at: object
    pending: bool  # a push is queued


def product_channels(session: Session, product_id: int) -> list[ListingStock]:
    """Per listing of the product: our ATP, what we last pushed and when, what the channel
    showed when last read back."""
    rows = session.execute(select(Listing, Channel).join(Channel, Channel.id == Listing.channel_id)
                           .where(Listing.product_id == product_id).order_by(Channel.code, Listing.id)).all()
    waiting = set(session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.dedupe_key.in_([dedupe_key(listing.id) for listing, _ in rows] or [""]),
        OutboxMessage.status == "pending")))
    result, promises = [], {}
    for listing, channel in rows:
        if channel.id not in promises:
            promises[channel.id] = atp.for_channel(session, channel, [product_id])[product_id].quantity
        result.append(ListingStock(channel.code, channel.name, listing.id, listing.sku, promises[channel.id],
                                   listing.last_pushed_quantity, listing.last_pushed_at, listing.channel_quantity,
                                   listing.channel_read_at, dedupe_key(listing.id) in waiting))
    return result


@dataclass(frozen=True)
class PushHealth:
    pending: int
    sending: int
    failed: int  # dead or uncertain
    last_push_at: object
    pushed_listings: int
    drift_conflicts: int


def push_health(session: Session, channel: Channel) -> PushHealth:
    from sqlalchemy import func

    counts = dict(session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.topic == TOPIC,
                                                        OutboxMessage.target == channel.code,
                                                        OutboxMessage.status.in_(("pending", "sending", "dead", "uncertain")))
        .group_by(OutboxMessage.status)).all())
    last, pushed = session.execute(select(func.max(Listing.last_pushed_at), func.count(Listing.last_pushed_at))
                                   .where(Listing.channel_id == channel.id)).one()
    drift = session.scalar(select(func.count(SyncConflict.id)).where(
        SyncConflict.channel_id == channel.id, SyncConflict.kind == "stock_drift", SyncConflict.status == "open"))
    return PushHealth(counts.get("pending", 0), counts.get("sending", 0),
                      counts.get("dead", 0) + counts.get("uncertain", 0), last, pushed or 0, drift or 0)


def register() -> None:
    outbox.register_batch(TOPIC, send_batch, claim_size=claim_size, release_key_on_claim=True)
    domain_events.subscribe("stock.changed", on_stock_changed)
