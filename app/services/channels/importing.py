"""Import of channel orders: idempotent upsert by (channel, external id).

A payload hash makes an unchanged order write nothing. Channel updates are applied with
events; a field Waybill changed locally (``local_edits``) that the channel also changed
becomes a sync conflict instead of a silent overwrite. Everything after the upsert is
``pipeline.process``.

Units the channel cancelled on a line (``NormalizedLine.quantity_cancelled``, cumulative)
are cancelled through ``order_edits.cancel_units_in_tx`` (reservations given back, events);
units that already shipped are not, an event says so once; after a local line edit they
become a ``lines`` conflict. Channel tags replace the channel's earlier tags; tags rules
added stay. Importing the same channel state again changes nothing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from connectors.base import NormalizedAddress, NormalizedOrder

from app.models import Channel, Order, OrderEvent, OrderLine, Refund, SyncConflict, normalize_sku
from app.models.base import utcnow
from app.services.inventory import catalog
from app.services.orders import customers, ship_by
from app.services.core import domain_events, events
from app.services.core import fx
from app.services.orders import edits as order_edits
from app.services.orders import actions as orders
from app.services.lifecycle import pipeline
from app.services.orders import addresses
from app.services.core import settings
from app.services.channels import storable
from app.services.core.actor import Actor
from app.services.core.jsonable import to_jsonable
from app.services.core.transaction import transactional

# Fields the channel owns; a remote change to one of them is applied (or, when also
# edited locally, turned into a conflict).
VALUE_FIELDS = (
    "email", "customer_name", "shipping_address", "billing_address", "financial_status",
    "channel_status", "subtotal", "shipping_total", "tax_total", "discount_total", "fees_total",
    "total", "charges", "shipping_method", "tags",
)
# ``lines``: the units the channel cancelled, {line external id: units} (NormalizedLine.
# quantity_cancelled). Only ever more cancelled units: a channel cannot un-cancel here.
LINES = "lines"
CHANNEL_FIELDS = VALUE_FIELDS + (LINES,)
CHANNEL_LINE_CANCEL_REASON = "cancelled on the channel"


@dataclass
class ImportResult:
    order: Order | None
    outcome: str  # created | updated | unchanged


def channel_fulfillment(normalized: NormalizedOrder) -> str:
    """The order's fulfillment status at import: what the channel says has shipped, for an
    order the channel fulfils (FBA) or already fulfilled; ours to set otherwise."""
    return normalized.channel_fulfillment if normalized.fulfilled_by_channel else "unfulfilled"


def encode_payload(raw) -> str:
    """The payload as canonical ASCII JSON: what its hash is of, and what tells
    storable.json_payload whether it has anything to escape."""
    return json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))


def digest_of(encoded: str) -> str:
    return hashlib.sha256(encoded.encode()).hexdigest()


def payload_hash(raw) -> str:
    return digest_of(encode_payload(raw))


def _address(address: NormalizedAddress | None) -> dict | None:
    if address is None:
        return None
    data = {k: v for k, v in address.as_dict().items() if v not in (None, "")}
    return data or None


def _channel_values(normalized: NormalizedOrder) -> dict:
    return {
        "email": customers.normalize_email(normalized.email),
        "customer_name": normalized.customer_name,
        "shipping_address": _address(normalized.shipping_address),
        "billing_address": _address(normalized.billing_address),
        "financial_status": normalized.financial_status,
        "channel_status": normalized.channel_status,
        "subtotal": normalized.subtotal, "shipping_total": normalized.shipping_total,
        "tax_total": normalized.tax_total, "discount_total": normalized.discount_total,
        "fees_total": normalized.fees_total, "total": normalized.total,
        "charges": to_jsonable(normalized.charges) or None,
        "shipping_method": normalized.shipping_method,
        "tags": list(normalized.tags or []),
    }


def created_payload(order_id: int, channel: Channel, actor: Actor) -> dict:
    """``order.created``: an order came in from a channel (both import paths)."""
    return {"order_id": order_id, "channel": channel.code, "actor": actor}


@transactional
def import_order(session: Session, channel: Channel, normalized: NormalizedOrder,
                 actor: Actor) -> ImportResult:
    # A value its column cannot hold would make the database refuse the write: refuse the
    # order here instead, before anything is written (the caller quarantines it).
    storable.check_order(normalized)
    encoded = encode_payload(normalized.raw if normalized.raw is not None else repr(normalized))
    digest = digest_of(encoded)
    order = session.scalar(
        select(Order).where(Order.channel_id == channel.id,
                            Order.external_id == str(normalized.external_id))
        .options(selectinload(Order.lines), selectinload(Order.holds))
    )
    if order is None:
        return ImportResult(_create(session, channel, normalized, digest, actor, encoded),
                            "created")
    if order.payload_hash == digest:
        return ImportResult(order, "unchanged")
    if (normalized.updated_at and order.channel_updated_at
            and normalized.updated_at < order.channel_updated_at):
        return ImportResult(order, "unchanged")  # an older copy arriving late
    _update(session, channel, order, normalized, digest, actor, encoded)
    return ImportResult(order, "updated")


def _create(session: Session, channel: Channel, normalized: NormalizedOrder, digest: str,
            actor: Actor, encoded: str | None = None) -> Order:
    values = _channel_values(normalized)
    products = catalog.resolve_skus(session, channel.id, [l.sku for l in normalized.lines])
    customer = customers.find_or_create(session, values["email"], normalized.customer_name,
                                        (normalized.shipping_address or NormalizedAddress()).phone)
    shipping = values["shipping_address"] or {}
    promise = normalized.ship_by or ship_by.Calendar(session).ship_by(normalized.placed_at, channel,
                                                                      normalized.shipping_method)
    order = Order(
        channel_id=channel.id, external_id=str(normalized.external_id),
        order_number=str(normalized.order_number), customer=customer,
        phone=shipping.get("phone"), ship_country=shipping.get("country"),
        currency=normalized.currency.upper(),
        total_base=fx.to_base(session, normalized.total, normalized.currency.upper(),
                              normalized.placed_at),
        placed_at=normalized.placed_at, channel_updated_at=normalized.updated_at,
        ship_by=promise, status="new", fulfilled_by_channel=normalized.fulfilled_by_channel,
        fulfillment_status=channel_fulfillment(normalized),
        raw_payload=storable.json_payload(normalized.raw, encoded), payload_hash=digest,
        local_edits={},
        risk_signals=to_jsonable(normalized.risk or {}),
        ship_address_key=addresses.address_key(values["shipping_address"]), **values,
    )
    for line in normalized.lines:
        order.lines.append(OrderLine(
            external_id=line.external_id, sku=line.sku, title=line.title[:255],
            product_id=products.get(normalize_sku(line.sku)), quantity=line.quantity,
            unit_price=line.unit_price, subtotal=line.subtotal, tax=line.tax, discount=line.discount,
            # units the channel had already cancelled (nothing is reserved yet)
            quantity_cancelled=min(max(line.quantity_cancelled or 0, 0), max(line.quantity, 0)),
        ))
    session.add(order)
    session.flush()
    events.imported(session, order, actor, channel.code)
    domain_events.publish(session, "order.created", created_payload(order.id, channel, actor))
    cancelled_before = [{"line_id": line.id, "sku": line.sku, "quantity": line.quantity_cancelled}
                        for line in order.lines if line.quantity_cancelled]
    if cancelled_before:
        parts = ", ".join(f"{c['quantity']}× {c['sku']}" for c in cancelled_before)
        events.order_event(session, order, actor, "lines_cancelled",
                           f"Cancelled {parts}: {CHANNEL_LINE_CANCEL_REASON} before import",
                           {"lines": cancelled_before, "reason": CHANNEL_LINE_CANCEL_REASON,
                            "source": "channel"})
    _record_refunds(session, order, normalized, actor)
    if normalized.cancelled or (order.lines and not any(l.quantity_open > 0 for l in order.lines)):
        orders.cancel_in_tx(session, order,
                            normalized.cancel_reason or CHANNEL_LINE_CANCEL_REASON, actor)
        return order
    _initial_holds(session, channel, order, normalized, actor)
    pipeline.process(session, order, actor)
    return order


def _initial_holds(session, channel, order, normalized, actor) -> None:
    if order.fulfilled_by_channel:
        return
    for line in order.lines:
        if line.product_id is None:
            orders.place_hold_in_tx(session, order, "unknown_sku",
                                    f"SKU {line.sku!r} matches no product", actor)
            session.add(SyncConflict(
                channel_id=channel.id, order_id=order.id, kind="unknown_sku",
                external_id=order.external_id, sku=line.sku,
                remote_value={"sku": line.sku, "title": line.title},
                raw_payload=order.raw_payload, error=f"Unknown SKU {line.sku!r}",
                created_at=utcnow(),
            ))
    if order.financial_status == "pending" and settings.get(session, "payment_hold"):
        orders.place_hold_in_tx(session, order, "payment", "not paid yet", actor)
    twin = find_cross_channel_duplicate(session, order)
    if twin is not None:
        orders.place_hold_in_tx(session, order, "duplicate",
                                f"same e-mail and lines as {twin.order_number} on another channel", actor)
        session.add(SyncConflict(
            channel_id=channel.id, order_id=order.id, kind="duplicate",
            external_id=order.external_id,
            local_value={"order_id": twin.id, "order_number": twin.order_number,
                         "channel_id": twin.channel_id},
            remote_value={"order_id": order.id, "order_number": order.order_number},
            raw_payload=order.raw_payload,
            error=f"Suspected duplicate of order {twin.order_number}", created_at=utcnow(),
        ))


def _line_signature(order: Order) -> list[tuple]:
    return sorted((f"product:{line.product_id}" if line.product_id
                   else f"sku:{normalize_sku(line.sku) or line.title}", line.quantity)
                  for line in order.lines)


def find_cross_channel_duplicate(session: Session, order: Order) -> Order | None:
    """An order from another channel with the same e-mail and the same lines, placed within
    the duplicate window (a customer who checked out twice, or a channel double-send)."""
    if not order.email or not order.lines:
        return None
    window = timedelta(minutes=settings.get(session, "duplicate_window_minutes"))
    candidates = session.scalars(
        select(Order).where(
            func.lower(Order.email) == order.email.lower(), Order.id != order.id,
            Order.channel_id != order.channel_id, Order.status != "cancelled",
            Order.placed_at.between(order.placed_at - window, order.placed_at + window))
        .options(selectinload(Order.lines)).limit(20)
    ).all()
    signature = _line_signature(order)
    return next((other for other in candidates if _line_signature(other) == signature), None)


def _update(session: Session, channel: Channel, order: Order, normalized: NormalizedOrder,
            digest: str, actor: Actor, encoded: str | None = None) -> None:
    remote = _channel_values(normalized)
    remote["tags"] = merged_tags(session, order, remote["tags"])
    changes, conflicts = {}, []  # changes: {field: the channel's new value}
    for field in VALUE_FIELDS:
        new, old = remote[field], getattr(order, field)
        if _same(old, new):
            continue
        if field in (order.local_edits or {}):
            conflicts.append(field)
            _local_edit_conflict(session, channel, order, normalized, field, old, new)
            continue
        changes[field] = new
    order.payload_hash = digest
    order.raw_payload = storable.json_payload(normalized.raw, encoded)
    order.channel_updated_at = normalized.updated_at or order.channel_updated_at
    changes = apply_channel_values(session, order, changes, actor)
    _follow_channel_fulfillment(session, order, normalized, actor)
    _record_refunds(session, order, normalized, actor)
    if normalized.cancelled and order.status != "cancelled" and "status" not in order.local_edits:
        if order.status in orders.SHIPPED_STATUSES:
            events.order_event(session, order, actor, "channel_cancel_refused",
                               "The channel cancelled this order, but it has already shipped")
        else:
            orders.cancel_in_tx(session, order,
                                normalized.cancel_reason or CHANNEL_LINE_CANCEL_REASON, actor)
        return
    remote_lines = remote_line_cancellations(normalized)
    if order.status != "cancelled" and _pending_line_cancellations(order, remote_lines):
        if LINES in (order.local_edits or {}):
            old = {line.external_id: line.quantity_cancelled for line in order.lines
                   if line.external_id in remote_lines}
            if not _open_conflict_with(session, order, LINES, remote_lines):
                _local_edit_conflict(session, channel, order, normalized, LINES, old, remote_lines,
                                     error="lines were changed in Waybill and units were "
                                           "cancelled on the channel")
        else:
            changes.update(apply_channel_values(session, order, {LINES: remote_lines}, actor))
    release_payment_holds(session, order, changes, actor)


def _local_edit_conflict(session, channel, order, normalized, field, old, new, *,
                         error: str | None = None) -> SyncConflict:
    conflict = SyncConflict(
        channel_id=channel.id, order_id=order.id, kind="local_edit",
        external_id=order.external_id, field=field,
        local_value={"value": to_jsonable(old), **order.local_edits[field]},
        remote_value={"value": to_jsonable(new)}, raw_payload=storable.json_payload(normalized.raw),
        error=error or f"{field} was changed in Waybill and on the channel", created_at=utcnow(),
    )
    session.add(conflict)
    return conflict


def _open_conflict_with(session, order, field, value) -> bool:
    """An open local-edit conflict of this order and field already holds this channel value."""
    remote_values = session.scalars(select(SyncConflict.remote_value).where(
        SyncConflict.order_id == order.id, SyncConflict.field == field,
        SyncConflict.kind == "local_edit", SyncConflict.status == "open"))
    wanted = to_jsonable(value)
    return any((remote or {}).get("value") == wanted for remote in remote_values)


# --- lines the channel cancelled ----------------------------------------------------------

def remote_line_cancellations(normalized: NormalizedOrder) -> dict[str, int]:
    """{line external id: units the channel says are cancelled}, for the lines whose
    channel says (``NormalizedLine.quantity_cancelled`` not None)."""
    return {str(line.external_id): max(int(line.quantity_cancelled), 0)
            for line in normalized.lines
            if line.external_id is not None and line.quantity_cancelled is not None}


def _pending_line_cancellations(order: Order, remote: dict) -> list[tuple[OrderLine, int, int]]:
    """(line, the channel's cancelled units, how many of them Waybill has not cancelled yet)
    for each line where the channel cancelled more than Waybill did."""
    by_external_id = {line.external_id: line for line in order.lines if line.external_id}
    pending = []
    for external_id, units in (remote or {}).items():
        line = by_external_id.get(str(external_id))
        if line is None:
            continue
        target = min(int(units), line.quantity)
        if target > line.quantity_cancelled:
            pending.append((line, target, target - line.quantity_cancelled))
    return pending


def _reported_shipped_cancellations(session: Session, order: Order) -> set[tuple]:
    data = session.scalars(select(OrderEvent.data).where(
        OrderEvent.order_id == order.id, OrderEvent.type == "channel_lines_cancel_refused"))
    return {(entry.get("line_id"), entry.get("channel_cancelled"))
            for item in data for entry in (item or {}).get("lines") or []}


def _apply_line_cancellations(session: Session, order: Order, remote: dict,
                              actor: Actor) -> dict:
    """Cancel here the units the channel cancelled (through order_edits: reservations given
    back, a ``lines_cancelled`` event, the order cancelled when nothing open is left). Units
    that have already shipped are not cancelled: a ``channel_lines_cancel_refused`` event
    says so, once per line and channel quantity. Returns what was done. No commit."""
    pending = _pending_line_cancellations(order, remote)
    if not pending or order.status == "cancelled":
        return {}
    cancellable = order.status in order_edits.LINE_CANCELLABLE_STATUSES
    wanted, refused = {}, []
    for line, target, missing in pending:
        units = min(missing, line.quantity_open) if cancellable else 0
        if units:
            wanted[line] = units
        if missing > units:
            refused.append({"line_id": line.id, "sku": line.sku, "channel_cancelled": target,
                            "shipped_units": missing - units})
    result = {}
    if refused:
        reported = _reported_shipped_cancellations(session, order)
        refused = [r for r in refused if (r["line_id"], r["channel_cancelled"]) not in reported]
    if wanted:
        result["cancelled"] = [{"line_id": line.id, "sku": line.sku, "quantity": units}
                               for line, units in wanted.items()]
        order_edits.cancel_units_in_tx(session, order, wanted, CHANNEL_LINE_CANCEL_REASON, actor,
                                       local_edit=False, data={"source": "channel"})
    if refused:
        result["refused"] = refused
        parts = ", ".join(f"{r['shipped_units']}× {r['sku']}" for r in refused)
        events.order_event(
            session, order, actor, "channel_lines_cancel_refused",
            f"The channel cancelled {parts}, but those units have already shipped",
            {"lines": refused})
    return result


def apply_channel_values(session: Session, order: Order, values: dict, actor: Actor) -> dict:
    """Set channel-owned fields (CHANNEL_FIELDS) to the channel's values, with what follows
    from them (ship country, base-currency total) and one ``channel_update`` event. The one
    code path for applying a channel's value: import, and "take the channel's value" of a
    local-edit conflict. ``lines`` ({line external id: cancelled units}) cancels the units
    the channel cancelled (its own events). Returns {field: {"old", "new"}} of what changed
    (``lines``: what was cancelled and refused). No commit."""
    changes = {}
    for field, new in values.items():
        if field not in CHANNEL_FIELDS:
            raise ValueError(f"{field} is not a channel-owned field")
        if field == LINES:
            continue
        old = getattr(order, field)
        if _same(old, new):
            continue
        changes[field] = {"old": to_jsonable(old), "new": to_jsonable(new)}
        setattr(order, field, new)
    if "shipping_address" in changes:
        order.ship_country = (order.shipping_address or {}).get("country")
        addresses.refresh_address_key(order)
    if "total" in changes:
        order.total_base = fx.to_base(session, order.total, order.currency, order.placed_at)
    if changes:
        events.updated_from_channel(session, order, actor, changes)
    if values.get(LINES):
        done = _apply_line_cancellations(session, order, values[LINES], actor)
        if done:
            changes[LINES] = done
    return changes


# --- tags ---------------------------------------------------------------------------------

def rule_added_tags(session: Session, order: Order) -> set[str]:
    """Tags Waybill's rules put on the order (the ``tags_added`` of its ``rule_fired``
    events)."""
    return {tag for data in session.scalars(select(OrderEvent.data).where(
                OrderEvent.order_id == order.id, OrderEvent.type == "rule_fired"))
            for tag in (data or {}).get("tags_added") or []}


def merged_tags(session: Session, order: Order, channel_tags: list) -> list:
    """The order's tags after a channel update: the channel's tags (they replace what it
    sent before) followed by the tags Waybill added that the channel does not send."""
    channel_tags = list(dict.fromkeys(channel_tags or []))
    extra = [tag for tag in (order.tags or []) if tag not in channel_tags]
    if not extra:
        return channel_tags
    ours = rule_added_tags(session, order)
    return channel_tags + [tag for tag in extra if tag in ours]


def release_payment_holds(session: Session, order: Order, changes: dict, actor: Actor) -> None:
    """A channel value that says the order is paid releases its payment hold (and the
    pipeline continues when that was the last hold)."""
    if changes.get("financial_status", {}).get("new") not in ("paid", "authorized"):
        return
    payment_holds = [h for h in order.open_holds if h.reason == "payment"]
    for hold in payment_holds:
        hold.released_at, hold.released_by = utcnow(), actor.label
        hold.release_note = "payment captured"
        events.hold_released(session, order, actor, "payment", "payment captured")
    if payment_holds:
        pipeline.process(session, order, actor)


def _follow_channel_fulfillment(session, order, normalized, actor) -> None:
    """An order the channel fulfils (FBA) ships when the channel says so, not before: its
    fulfillment status follows the channel's, and the order moves to shipped once the channel
    has shipped all of it (the pipeline left it waiting as new, taking no stock)."""
    if not order.fulfilled_by_channel or order.status == "cancelled":
        return
    remote = channel_fulfillment(normalized)
    if remote != order.fulfillment_status:
        events.order_event(session, order, actor, "channel_fulfillment",
                           f"The channel reports the order {remote}",
                           {"old": order.fulfillment_status, "new": remote})
        order.fulfillment_status = remote
    if remote == "fulfilled" and order.status == "new":
        orders.transition(session, order, "shipped", actor, "fulfilled by the channel")


def _record_refunds(session, order, normalized, actor) -> None:
    known = {r.external_id for r in session.scalars(select(Refund).where(Refund.order_id == order.id))}
    for refund in normalized.refunds:
        if refund.reason and "[waybill-" in refund.reason:
            continue  # one Waybill pushed: its own row gets the channel's id (channels.writeback)
        if refund.external_id and refund.external_id in known:
            continue
        row = Refund(order_id=order.id, amount=refund.amount, currency=order.currency,
                     reason=refund.reason, status="succeeded", external_id=refund.external_id,
                     source="channel",
                     created_by=actor.label, created_at=refund_time(refund, normalized))
        session.add(row)
        session.flush()
        events.refunded(session, order, actor, row)


def refund_time(refund, normalized: NormalizedOrder):
    """When a refund happened: the channel's date, or, where the payload has none (a
    WooCommerce webhook's embedded refunds), the channel's last change of the order, which
    the refund caused or followed; the import time only when the channel gives neither."""
    return refund.created_at or normalized.updated_at or utcnow()


def _same(old, new) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        try:
            return Decimal(str(old)) == Decimal(str(new))
        except Exception:
            return False
    return old == new
