"""Resolving sync conflicts: what a person decides about something a channel sent that
could not be applied on its own (DESIGN.md "Sync conflict", issue 3 point 4).

Every resolution is one transaction, is recorded on the conflict (status, resolution, note,
who, when) and in the audit log, and writes an order event when an order is involved:

- ``take_remote``  (local_edit): the channel's value replaces Waybill's, through the import's
  own code path (``importing.apply_channel_values``); the field leaves ``local_edits``.
- ``keep_local``   (local_edit): Waybill's value stays and so does the field in
  ``local_edits``, so the next import still notices a new channel value.
- ``map_sku``      (unknown_sku): a lasting SKU alias (``catalog.map_sku``); every open
  unknown-SKU conflict of that SKU is resolved, the lines of the held orders get their
  product, and an order with no unknown line left loses its unknown_sku hold (releasing the
  last hold runs the pipeline: allocation).
- ``retry``        (invalid_payload): the kept payload is normalised and imported again.
- ``discard``      (any kind): nothing to do, with the reason why.
- ``close``        (any kind): the API's generic resolved/discarded with a note.

``bulk`` applies one resolution to many conflicts, each in its own transaction, and says
which succeeded and why the others did not.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Channel, Product, SyncConflict, normalize_sku
from app.models.base import utcnow
from app.services.core import audit
from app.services.inventory import catalog
from app.services.core import events
from app.services.channels import importing
from app.services.orders import actions as orders
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.paging import CappedPage
from app.services.core.bulk import BulkResult, apply_each
from app.services.core.errors import Conflict, DomainError, InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional

log = logging.getLogger(__name__)

OUTCOMES = ("resolved", "discarded")
# Which resolutions apply to which kind of conflict (discard applies to all).
RESOLUTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    "local_edit": ("take_remote", "keep_local", "discard"),
    "unknown_sku": ("map_sku", "discard"),
    "invalid_payload": ("retry", "discard"),
    "duplicate": ("discard",),
    "stock_drift": ("push_again", "accept_channel", "discard"),  # channels/stock_drift.py
}
RESOLUTION_LABELS = {
    "take_remote": "take the channel's value", "keep_local": "keep Waybill's value",
    "map_sku": "map the SKU", "retry": "retry the import", "discard": "discard",
    "push_again": "push our figure again", "accept_channel": "accept the channel's figure",
}
BULK_ACTIONS = ("take_remote", "keep_local", "retry", "discard")
MAX_BULK = 500
MONEY_FIELDS = frozenset({"subtotal", "shipping_total", "tax_total", "discount_total", "total"})
NOTE_MAX = 2000


def resolutions_for(kind: str) -> tuple[str, ...]:
    return RESOLUTIONS_BY_KIND.get(kind, ("discard",))


# --- shared steps ------------------------------------------------------------------------

def _load_open(session: Session, conflict_id, resolution: str | None = None) -> SyncConflict:
    """The conflict, row-locked; NotFound, InvalidTransition when it is closed, and
    ValidationFailed when ``resolution`` does not apply to its kind."""
    try:
        conflict_id = validation.identifier(conflict_id, "id")
    except ValidationFailed:
        raise NotFound(f"Sync conflict {str(conflict_id)[:40]} not found") from None
    conflict = session.get(SyncConflict, conflict_id, with_for_update=True)
    if conflict is None:
        raise NotFound(f"Sync conflict {conflict_id} not found")
    if conflict.status != "open":
        raise InvalidTransition(f"Sync conflict {conflict_id} is already {conflict.status}",
                                errors={"status": [f"is {conflict.status}"]})
    if resolution and resolution not in resolutions_for(conflict.kind):
        kinds = [k for k, allowed in RESOLUTIONS_BY_KIND.items() if resolution in allowed]
        raise ValidationFailed(
            f"Sync conflict {conflict.id} is {conflict.kind.replace('_', ' ')}: "
            f"{RESOLUTION_LABELS.get(resolution, resolution)} applies to "
            f"{' / '.join(k.replace('_', ' ') for k in kinds)} conflicts only",
            errors={"kind": [f"is {conflict.kind}"]})
    return conflict


def _record(session: Session, conflict: SyncConflict, status: str, resolution: str,
            note: str | None, actor: Actor, *, order_message: str | None = None,
            data: dict | None = None) -> SyncConflict:
    """Close a conflict: who, when, how and why, in the audit log and on its order."""
    conflict.status, conflict.resolution = status, resolution
    conflict.resolution_note = note
    conflict.resolved_by, conflict.resolved_at = actor.label, utcnow()
    audit.record(session, actor, "sync_conflict", conflict.id, resolution,
                 {"status": {"old": "open", "new": status}, "note": note, **(data or {})})
    if conflict.order_id is not None:
        order = conflict.order or orders.get_order(session, conflict.order_id)
        message = order_message or (
            f"Sync conflict #{conflict.id} ({conflict.kind.replace('_', ' ')}) {status}"
            + (f": {note}" if note else ""))
        events.order_event(session, order, actor, "sync_conflict", message,
                           {"conflict_id": conflict.id, "kind": conflict.kind,
                            "resolution": resolution, "note": note, **(data or {})})
    return conflict


def _note(note, *, required: bool = False, field_name: str = "note") -> str | None:
    return validation.text(note, field_name, max_length=NOTE_MAX, required=required)


# --- the generic close (API) -------------------------------------------------------------

@transactional
def close(session: Session, conflict_id: int, outcome: str, note: str | None,
          actor: Actor) -> SyncConflict:
    """Resolved (what was done, in the note) or discarded (why nothing is needed: the
    note is required)."""
    if outcome not in OUTCOMES:
        raise ValidationFailed.field("status", f"must be one of {', '.join(OUTCOMES)}")
    note = _note(note, required=outcome == "discarded")
    conflict = _load_open(session, conflict_id)
    return _record(session, conflict, outcome, outcome, note, actor)


@transactional
def discard(session: Session, conflict_id: int, reason: str, actor: Actor, *,
            field_name: str = "reason") -> SyncConflict:
    """Nothing needs doing about this conflict; ``reason`` says why (required; an error
    names it ``field_name``, the caller's word for it). A local-edit field stays in
    ``local_edits``, a held order stays held."""
    reason = _note(reason, required=True, field_name=field_name)
    conflict = _load_open(session, conflict_id, "discard")
    return _record(session, conflict, "discarded", "discarded", reason, actor)


# --- local edits -------------------------------------------------------------------------

def _remote_value(conflict: SyncConflict):
    value = (conflict.remote_value or {}).get("value")
    if conflict.field in MONEY_FIELDS and value is not None:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise ValidationFailed.field("remote_value", f"{value!r} is not an amount") from None
    return value


def _local_edit_siblings(session: Session, conflict: SyncConflict) -> list[SyncConflict]:
    """The other open local-edit conflicts of the same order and field (each import that
    changed the order while the field stayed locally edited made one), oldest first."""
    return list(session.scalars(
        select(SyncConflict).where(
            SyncConflict.order_id == conflict.order_id, SyncConflict.field == conflict.field,
            SyncConflict.kind == "local_edit", SyncConflict.status == "open",
            SyncConflict.id != conflict.id)
        .order_by(SyncConflict.id).with_for_update()))


def _local_edit_order(session: Session, conflict: SyncConflict):
    if conflict.order_id is None:
        raise ValidationFailed.field("order", f"sync conflict {conflict.id} has no order")
    if conflict.field not in importing.CHANNEL_FIELDS:
        raise ValidationFailed.field("field", f"{conflict.field!r} is not a channel-owned field")
    return orders.get_order(session, conflict.order_id, for_update=True)


@transactional
def take_remote(session: Session, conflict_id: int, actor: Actor,
                note: str | None = None) -> SyncConflict:
    """Apply the channel's value to the order (the newest one the channel sent for that
    field, when several conflicts of the same field are open: they are all answered)."""
    note = _note(note)
    conflict = _load_open(session, conflict_id, "take_remote")
    order = _local_edit_order(session, conflict)
    siblings = _local_edit_siblings(session, conflict)
    newest = max([conflict, *siblings], key=lambda c: c.id)
    value = _remote_value(newest)
    changes = importing.apply_channel_values(session, order, {conflict.field: value}, actor)
    edits = dict(order.local_edits or {})
    edits.pop(conflict.field, None)
    order.local_edits = edits
    importing.release_payment_holds(session, order, changes, actor)
    field_label = conflict.field.replace("_", " ")
    for other in [conflict, *siblings]:
        _record(session, other, "resolved", "take_remote",
                note if other is conflict else f"answered with sync conflict #{conflict.id}",
                actor,
                order_message=(f"Sync conflict #{other.id}: took the channel's {field_label}"
                               + (f": {note}" if note and other is conflict else "")),
                data={"field": conflict.field, "value_from": newest.id})
    return conflict


@transactional
def keep_local(session: Session, conflict_id: int, actor: Actor,
               note: str | None = None) -> SyncConflict:
    """Keep Waybill's value. The field stays in ``local_edits``: the next import that brings
    a different channel value raises a new conflict rather than overwriting it."""
    note = _note(note)
    conflict = _load_open(session, conflict_id, "keep_local")
    order = _local_edit_order(session, conflict)
    siblings = _local_edit_siblings(session, conflict)
    field_label = conflict.field.replace("_", " ")
    kept = conflict.field in (order.local_edits or {})
    for other in [conflict, *siblings]:
        _record(session, other, "resolved", "keep_local",
                note if other is conflict else f"answered with sync conflict #{conflict.id}",
                actor,
                order_message=(f"Sync conflict #{other.id}: kept Waybill's {field_label}"
                               + (f": {note}" if note and other is conflict else "")),
                data={"field": conflict.field, "still_local_edit": kept})
    return conflict


# --- unknown SKUs ------------------------------------------------------------------------

@dataclass
class MapSkuResult:
    sku: str  # the normalised channel SKU
    product_id: int
    product_sku: str
    alias_id: int | None  # None when the SKU is the product's own SKU
    channel_id: int | None  # the alias's channel (None: every channel)
    conflict_ids: list[int] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)  # orders whose lines got the product
    released_order_ids: list[int] = field(default_factory=list)  # unknown_sku hold released


@transactional
def map_sku(session: Session, product_id: int, actor: Actor, *, conflict_id: int | None = None,
            sku: str | None = None, channel_id: int | None = None,
            all_channels: bool = False, note: str | None = None) -> MapSkuResult:
    """Map a channel SKU to a product for good, and resolve what it blocked.

    The SKU is the conflict's (``conflict_id``) or ``sku``. The alias is scoped to the
    conflict's channel (or ``channel_id``) unless ``all_channels``. Every open unknown_sku
    conflict of that SKU (case-insensitive) in that scope is resolved; each of their orders
    gets the product on the matching lines and, once no line is unknown, loses its
    unknown_sku hold (the last hold released runs the pipeline, which allocates).
    """
    note = _note(note)
    source = None
    if conflict_id is not None:
        source = _load_open(session, conflict_id, "map_sku")
        sku = source.sku
        if channel_id is None:
            channel_id = source.channel_id
    key = normalize_sku(sku)
    if not key:
        raise ValidationFailed.field("sku", "is required (this conflict has no SKU to map)")
    if all_channels:
        channel_id = None
    elif channel_id is not None and session.get(Channel, channel_id) is None:
        raise ValidationFailed.field("channel_id", f"unknown channel {channel_id}")
    try:
        product = session.get(Product, int(product_id))
    except (TypeError, ValueError):
        product = None
    if product is None:
        raise ValidationFailed.field("product", f"unknown product {product_id}")

    owner = session.scalar(select(Product).where(Product.sku == key))
    if owner is not None and owner.id != product.id:
        raise ValidationFailed.field(
            "sku", f"{key} is the SKU of product {owner.sku}: it cannot mean {product.sku}")
    alias = None
    if owner is None:
        alias = catalog.map_sku(session, key, product.id, actor, channel_id=channel_id)

    query = (select(SyncConflict)
             .where(SyncConflict.kind == "unknown_sku", SyncConflict.status == "open",
                    func.upper(func.trim(SyncConflict.sku)) == key)
             .order_by(SyncConflict.id).with_for_update())
    if channel_id is not None:
        query = query.where(SyncConflict.channel_id == channel_id)
    matched = [c for c in session.scalars(query) if normalize_sku(c.sku) == key]
    if source is not None and source not in matched:
        matched.insert(0, source)

    result = MapSkuResult(sku=key, product_id=product.id, product_sku=product.sku,
                          alias_id=alias.id if alias else None, channel_id=channel_id)
    scope = "every channel" if channel_id is None else "its channel"
    # Per channel, the product the SKU now resolves to (a channel's own alias wins).
    resolved_by_channel: dict[int | None, int | None] = {}
    order_ids: list[int] = []
    for conflict in matched:
        if conflict.channel_id not in resolved_by_channel:
            resolved_by_channel[conflict.channel_id] = catalog.resolve_skus(
                session, conflict.channel_id, [key]).get(key)
        if conflict.order_id is not None and conflict.order_id not in order_ids:
            order_ids.append(conflict.order_id)
        _record(session, conflict, "resolved", "map_sku",
                note or f"{key} mapped to {product.sku} ({scope})", actor,
                order_message=f"Sync conflict #{conflict.id}: SKU {conflict.sku!r} mapped to "
                              f"{product.sku}",
                data={"sku": key, "product_id": product.id, "alias_id": result.alias_id})
        result.conflict_ids.append(conflict.id)

    for order_id in sorted(order_ids):  # lock orders in key order
        order = orders.get_order(session, order_id, for_update=True)
        target = resolved_by_channel.get(order.channel_id)
        if target is None:
            continue
        touched = False
        for line in order.lines:
            if line.product_id is None and normalize_sku(line.sku) == key:
                line.product_id = target
                touched = True
        if touched:
            result.order_ids.append(order.id)
        unknown_left = any(line.product_id is None for line in order.lines)
        if not unknown_left and any(h.reason == "unknown_sku" for h in order.open_holds):
            session.flush()
            orders.release_hold(session, order.id, actor, reason="unknown_sku",
                                note=f"SKU {key} mapped to {product.sku}")
            result.released_order_ids.append(order.id)
    return result


def unknown_sku_count(session: Session, sku: str | None, channel_id: int | None = None) -> int:
    """How many open unknown_sku conflicts share this SKU (case-insensitive), bounded."""
    key = normalize_sku(sku)
    if not key:
        return 0
    inner = (select(SyncConflict.id)
             .where(SyncConflict.kind == "unknown_sku", SyncConflict.status == "open",
                    func.upper(func.trim(SyncConflict.sku)) == key))
    if channel_id is not None:
        inner = inner.where(SyncConflict.channel_id == channel_id)
    return session.scalar(select(func.count()).select_from(inner.limit(10_000).subquery()))


# --- invalid payloads --------------------------------------------------------------------

@transactional
def retry(session: Session, conflict_id: int, actor: Actor) -> SyncConflict:
    """Normalise the kept payload with the channel's normaliser and import it again; the
    conflict is resolved when that works and left open (nothing stored) when it does not."""
    from connectors.errors import InvalidPayload
    from connectors.registry import normalizer_for

    from app.services.channels import sync

    conflict = _load_open(session, conflict_id, "retry")
    channel = conflict.channel
    if channel is None:
        raise ValidationFailed.field("channel", f"sync conflict {conflict.id} has no channel")
    try:
        normalize = normalizer_for(channel.kind)
    except ValueError:
        if channel.kind == "amazon":
            raise ValidationFailed(
                "An Amazon order cannot be rebuilt from its kept payload alone (its items come "
                "from a second call): use \"Re-pull one order\" on the channel page with "
                f"order id {conflict.external_id or '…'}, then discard this conflict.",
                errors={"kind": ["amazon payloads cannot be re-normalised"]}) from None
        raise ValidationFailed.field("channel", f"{channel.kind} payloads cannot be "
                                                "re-normalised") from None
    payload = conflict.raw_payload
    try:
        normalized = normalize(payload)
    except (InvalidPayload, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationFailed(f"Sync conflict {conflict.id}: the payload is still invalid: {exc}",
                               errors={"raw_payload": [str(exc)]}) from None
    try:
        result = sync._import_with_retry(session, channel, normalized, actor)
    except DomainError as err:
        raise ValidationFailed(f"Sync conflict {conflict.id}: the import failed again: "
                               f"{err.message}", errors=err.errors) from None
    except Exception as exc:  # noqa: BLE001 — said to the user, nothing stored
        log.warning("retry of sync conflict %s failed: %s", conflict.id, exc)
        raise Conflict(f"Sync conflict {conflict.id}: the import failed again: "
                       f"{type(exc).__name__}: {exc}") from None
    order = result.order
    conflict.order_id = order.id if order is not None else None
    if order is not None:
        conflict.order = order
    how = {"created": "imported", "updated": "applied to the order",
           "unchanged": "already up to date"}[result.outcome]
    return _record(session, conflict, "resolved", "retry", f"re-imported: {how}", actor,
                   order_message=f"Sync conflict #{conflict.id}: payload re-imported ({how})",
                   data={"outcome": result.outcome})


# --- many at once ------------------------------------------------------------------------

def _ids(values) -> list[int]:
    ids: list[int] = []
    for value in values or ():
        try:
            number = validation.identifier(value, "ids")
        except ValidationFailed:
            raise ValidationFailed.field("ids", f"{str(value)[:40]!r} is not a conflict id") from None
        if number not in ids:
            ids.append(number)
    return ids


def _answered_in_batch(session: Session, conflict_id: int, done: list[int], actor: Actor) -> bool:
    """Was this conflict closed a moment ago as a sibling of one resolved in this batch
    (take_remote/keep_local answer every open conflict of the same order and field)?"""
    session.rollback()
    conflict = session.get(SyncConflict, conflict_id)
    note = (conflict.resolution_note or "") if conflict is not None else ""
    return (conflict is not None and conflict.resolved_by == actor.label
            and any(note == f"answered with sync conflict #{other}" for other in done))


def bulk(session: Session, action: str, conflict_ids, actor: Actor, *,
         reason: str | None = None) -> BulkResult:
    """Apply one resolution to many conflicts, each in its own transaction: one that cannot
    be resolved (wrong kind, already closed, still invalid...) is reported with why and
    does not stop the others."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed.field("action", f"must be one of {', '.join(BULK_ACTIONS)}")
    ids = _ids(conflict_ids)
    if not ids:
        raise ValidationFailed.field("ids", "select at least one conflict")
    if len(ids) > MAX_BULK:
        raise ValidationFailed.field("ids", f"at most {MAX_BULK} conflicts at once")
    reason = _note(reason, required=action == "discard",
                   field_name="reason" if action == "discard" else "note")
    result = BulkResult(action)

    def resolve(conflict_id: int) -> None:
        try:
            if action == "discard":
                discard(session, conflict_id, reason, actor)
            elif action == "take_remote":
                take_remote(session, conflict_id, actor, reason)
            elif action == "keep_local":
                keep_local(session, conflict_id, actor, reason)
            else:
                retry(session, conflict_id, actor)
        except InvalidTransition:
            if not _answered_in_batch(session, conflict_id, result.succeeded, actor):
                raise

    return apply_each(session, result, ids, resolve)


__all__ = [
    "OUTCOMES", "RESOLUTIONS_BY_KIND", "BULK_ACTIONS", "BulkResult", "MapSkuResult",
    "bulk", "close", "discard", "keep_local", "map_sku", "resolutions_for", "retry",
    "take_remote", "unknown_sku_count",
]


# --- the queue (read side) ---------------------------------------------------------------



def queue(session: Session, *, kind: str | None = None, status: str | None = "open",
          channel_id: int | None = None, sku: str | None = None, page: int = 0,
          page_size: int = 50, cap: int = 10_000) -> CappedPage:
    """Conflicts newest first, filtered by kind, status, channel and SKU (case-insensitive);
    the count stops after ``cap`` rows."""
    from sqlalchemy.orm import selectinload

    query = select(SyncConflict)
    if kind:
        query = query.where(SyncConflict.kind == kind)
    if status:
        query = query.where(SyncConflict.status == status)
    if channel_id:
        query = query.where(SyncConflict.channel_id == channel_id)
    key = normalize_sku(sku)
    if key:
        query = query.where(func.upper(func.trim(SyncConflict.sku)) == key)
    counted = query.with_only_columns(SyncConflict.id).order_by(None).limit(cap + 1).subquery()
    total = session.scalar(select(func.count()).select_from(counted))
    page = max(0, int(page))
    rows = session.scalars(
        query.options(selectinload(SyncConflict.channel), selectinload(SyncConflict.order))
        .order_by(SyncConflict.created_at.desc(), SyncConflict.id.desc())
        .offset(page * page_size).limit(page_size)).all()
    return CappedPage(list(rows), total, page, page_size, cap)
