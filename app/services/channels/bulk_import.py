"""The page-level fast path of the import: new orders in bulk.

``import_orders`` takes one page of normalised orders and gives every order the same
outcome ``importing.import_order`` would give it, one by one, in page order:

- orders already stored whose payload is unchanged (or older) are recognised from one
  query for the whole page, and write nothing;
- orders the page brings for the first time are *prepared* in Python (values, lines, SKU
  resolution, holds, total in the base currency) from what the page reads once (settings,
  SKUs, exchange rates, warehouses), then written in one batch inside a savepoint:
  customers found or created in bulk, then multi-row INSERTs of orders, lines, refunds,
  holds, conflicts and events; then the real ``pipeline.process`` (rules, risk checks,
  allocation with its guarded reservations) on each new order, in page order — one
  implementation of the lifecycle, never a copy of it;
- everything else (updates of stored orders, an external id seen twice in the page, a
  payload that cannot be prepared) goes through the per-order path, after the batch before
  it is written, so that stock is given out in page order exactly as before;
- when a batch fails (a constraint, a concurrent insert of the same order or customer),
  its savepoint is rolled back and its orders go through the
  per-order path, where one bad order is quarantined and the rest imported.

No commit: the caller's transaction (one per page) decides.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from connectors.base import NormalizedAddress, NormalizedOrder

from app.models import (
    Customer, ExchangeRate, Order, OrderEvent, OrderHold, OrderLine, Refund, SyncConflict,
    normalize_sku,
)
from app.models.base import utcnow
from app.models.orders import email_domain_of
from app.services.inventory import catalog
from app.services.core import fx
from app.services.channels import importing, storable
from app.services.orders import addresses
from app.services.core import settings
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.jsonable import to_jsonable

log = logging.getLogger(__name__)

# sync._import_one: (session, channel, normalized, actor, stats) -> None
ImportOne = Callable[..., None]

# Tests switch the fast path off to compare it with the per-order path
# (tests/services/test_bulk_import.py runs one mixed page through both).
ENABLED = True
# Rows per IN (...) list when reading back what a batch needs.
IN_CHUNK = 500

_ORDERS = Order.__table__
_LINES = OrderLine.__table__
_EVENTS = OrderEvent.__table__
_HOLDS = OrderHold.__table__
_CONFLICTS = SyncConflict.__table__
_REFUNDS = Refund.__table__
_CUSTOMERS = Customer.__table__


@dataclass
class _Line:
    row: dict
    product_id: int | None
    quantity: int
    sku: str | None
    title: str
    cancelled: int = 0


@dataclass
class _Prepared:
    """One new order, ready to be written (ids filled in when the batch is written)."""

    normalized: NormalizedOrder
    row: dict
    lines: list[_Line]
    refunds: list[dict]
    customer: tuple  # (e-mail key, name, phone) for customers.find_or_create
    signature: list[tuple] | None = None
    holds: list[tuple[str, str]] = field(default_factory=list)  # (reason, note)
    unknown: list[_Line] = field(default_factory=list)
    twin: tuple | None = None  # (id, order_number, channel_id) of a suspected duplicate
    events: list[tuple] = field(default_factory=list)  # (type, message, data or callable)


class _PageContext:
    """What a page reads once: settings, SKUs, exchange rates."""

    def __init__(self, session: Session, channel, orders: list[NormalizedOrder], actor: Actor):
        self.session, self.channel, self.actor = session, channel, actor
        self.ship_by_days = settings.get(session, "ship_by_days")
        self.payment_hold = settings.get(session, "payment_hold")
        self.duplicate_window = timedelta(minutes=settings.get(session, "duplicate_window_minutes"))
        skus = [line.sku for o in orders for line in (o.lines or ()) if isinstance(line.sku, str)]
        self.products = catalog.resolve_skus(session, channel.id, skus)
        self.base = fx.base_currency()
        currencies = {o.currency.upper() for o in orders if isinstance(o.currency, str)} - {self.base}
        self.rates: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
        if currencies:
            rows = session.execute(
                select(ExchangeRate.currency, ExchangeRate.valid_from, ExchangeRate.rate)
                .where(ExchangeRate.currency.in_(currencies), ExchangeRate.base_currency == self.base)
                .order_by(ExchangeRate.currency, ExchangeRate.valid_from.desc())).all()
            for currency, valid_from, rate in rows:
                self.rates[currency].append((valid_from, rate))

    def rate(self, currency: str, at: datetime | None) -> Decimal | None:
        """fx.rate_for from the rates read once."""
        if currency == self.base:
            return Decimal(1)
        rates = self.rates.get(currency)
        if not rates:
            return None
        if at is not None:
            for valid_from, rate in rates:
                if valid_from <= at:
                    return rate
        return rates[0][1]

    def to_base(self, amount, currency, at) -> Decimal | None:
        if amount is None:
            return None
        rate = self.rate(currency, at)
        return None if rate is None else (amount * rate).quantize(fx.CENT)


# --- the page ------------------------------------------------------------------------------

def import_orders(session: Session, channel, orders: list[NormalizedOrder], actor: Actor,
                  stats, import_one: ImportOne) -> None:
    """Import a page's orders (counted in ``stats`` as the per-order path counts them)."""
    if not ENABLED or not orders:
        for normalized in orders:
            stats.fetched += 1
            import_one(session, channel, normalized, actor, stats)
        return
    context = None
    try:
        context = _PageContext(session, channel, orders, actor)
        existing = _existing(session, channel.id, orders)
    except Exception as exc:  # noqa: BLE001 — the per-order path quarantines what is wrong
        log.info("fast path unavailable for a page of %s: %s", channel.code, exc)
        existing = None
    if existing is None:
        for normalized in orders:
            stats.fetched += 1
            import_one(session, channel, normalized, actor, stats)
        return
    # The batch waiting to be written: new orders (_Prepared) and, in page order between
    # them, stored unchanged ones ((order id, normalized)), counted when the batch is.
    batch: list = []
    seen: set[str] = set()
    for normalized in orders:
        stats.fetched += 1
        entry = None
        try:
            external_id = str(normalized.external_id)
            if external_id not in seen:
                seen.add(external_id)
                encoded = importing.encode_payload(
                    normalized.raw if normalized.raw is not None else repr(normalized))
                digest = importing.digest_of(encoded)
                stored = existing.get(external_id)
                if stored is None:
                    entry = _prepare(context, normalized, digest, encoded)
                elif stored[1] == digest or (normalized.updated_at and stored[2]
                                             and normalized.updated_at < stored[2]):
                    entry = (stored[0], normalized)  # stored and unchanged: nothing to write
        except Exception as exc:  # noqa: BLE001
            log.debug("order %s takes the per-order path: %s", normalized.external_id, exc)
            entry = None
        if entry is not None:
            batch.append(entry)
        else:
            _write_batch(session, context, batch, stats, import_one)
            batch = []
            import_one(session, channel, normalized, actor, stats)
    _write_batch(session, context, batch, stats, import_one)


def _count(stats, outcome: str, order_id: int, normalized: NormalizedOrder) -> None:
    stats.add(outcome)
    stats.order_ids.append(order_id)
    if normalized.updated_at and (stats.max_updated_at is None
                                  or normalized.updated_at > stats.max_updated_at):
        stats.max_updated_at = normalized.updated_at


def _existing(session: Session, channel_id: int, orders) -> dict[str, tuple]:
    """{external id: (order id, payload hash, channel_updated_at)} of the page's stored orders."""
    ids = list({str(o.external_id) for o in orders})
    found = {}
    for start in range(0, len(ids), IN_CHUNK):
        rows = session.execute(
            select(Order.external_id, Order.id, Order.payload_hash, Order.channel_updated_at)
            .where(Order.channel_id == channel_id, Order.external_id.in_(ids[start:start + IN_CHUNK])))
        for external_id, *rest in rows:
            found[external_id] = tuple(rest)
    return found


# --- preparing one new order (pure Python) ---------------------------------------------------

def _prepare(context: _PageContext, normalized: NormalizedOrder, digest: str,
             encoded: str | None = None) -> _Prepared:
    """The rows importing._create would write for this order, before ids and stock.
    An order with a value its column cannot hold raises here: it takes the per-order path,
    which quarantines it, and never reaches the batch's multi-row INSERTs."""
    storable.check_order(normalized)
    values = importing._channel_values(normalized)
    shipping = values["shipping_address"] or {}
    ship_by = normalized.ship_by or normalized.placed_at + timedelta(days=context.ship_by_days)
    currency = normalized.currency.upper()
    for line in normalized.lines:
        if line.sku is not None and len(line.sku) > 128:
            raise ValueError("SKU longer than the column: the per-order path reports it")
    now = utcnow()
    row = dict(
        channel_id=context.channel.id, external_id=str(normalized.external_id),
        order_number=str(normalized.order_number), customer_id=None,
        phone=shipping.get("phone"), ship_country=shipping.get("country"), currency=currency,
        total_base=context.to_base(normalized.total, currency, normalized.placed_at),
        placed_at=normalized.placed_at, channel_updated_at=normalized.updated_at,
        ship_by=ship_by, priority=0, status="new",
        fulfilled_by_channel=normalized.fulfilled_by_channel,
        fulfillment_status=importing.channel_fulfillment(normalized),
        risk_score=None, cancelled_at=None, cancel_reason=None,
        raw_payload=storable.json_payload(normalized.raw, encoded), payload_hash=digest, local_edits={},
        risk_signals=to_jsonable(normalized.risk or {}), screened_at=None, routing=None,
        ship_address_key=addresses.address_key(values["shipping_address"]),
        email_domain=email_domain_of(values["email"]),
        version=1, created_at=now, updated_at=now, **values,
    )
    lines = []
    for line in normalized.lines:
        title = line.title[:255]
        product_id = context.products.get(normalize_sku(line.sku))
        lines.append(_Line(
            row=dict(order_id=None, external_id=line.external_id, sku=line.sku, title=title,
                     product_id=product_id, quantity=line.quantity, unit_price=line.unit_price,
                     subtotal=line.subtotal, tax=line.tax, discount=line.discount),
            product_id=product_id, quantity=line.quantity, sku=line.sku, title=title))
    actor = context.actor
    refunds = [dict(order_id=None, return_id=None, amount=r.amount, currency=currency,
                    reason=r.reason, status="succeeded", external_id=r.external_id,
                    created_by=actor.label, created_at=importing.refund_time(r, normalized))
               for r in normalized.refunds]
    phone = (normalized.shipping_address or NormalizedAddress()).phone
    prepared = _Prepared(normalized=normalized, row=row, lines=lines, refunds=refunds,
                         customer=(values["email"], normalized.customer_name, phone))
    if not normalized.cancelled and not normalized.fulfilled_by_channel:
        prepared.unknown = [l for l in lines if l.product_id is None]
        if prepared.unknown:
            note = validation.text(f"SKU {prepared.unknown[0].sku!r} matches no product", "note",
                                   max_length=2000, required=False)
            prepared.holds.append(("unknown_sku", note))
        if row["financial_status"] == "pending" and context.payment_hold:
            prepared.holds.append(("payment", "not paid yet"))
        if row["email"] and lines:
            prepared.signature = sorted(
                (f"product:{l.product_id}" if l.product_id
                 else f"sku:{normalize_sku(l.sku) or l.title}", l.quantity) for l in lines)
    return prepared


# --- writing a batch -------------------------------------------------------------------------

def _write_batch(session: Session, context: _PageContext, batch: list, stats,
                 import_one: ImportOne) -> None:
    if not batch:
        return
    new = [entry for entry in batch if isinstance(entry, _Prepared)]
    order_ids = None
    if new:
        try:
            with session.begin_nested():
                order_ids = iter(_write(session, context, new))
        except Exception as exc:  # noqa: BLE001 — one by one, each in its savepoint
            # A database refusal or a race is expected now and then; anything else is a bug.
            expected = isinstance(exc, DBAPIError)
            log.log(logging.INFO if expected else logging.WARNING,
                    "bulk import of %d orders of %s fell back to one by one: %s: %s", len(new),
                    context.channel.code, type(exc).__name__, (str(exc).splitlines() or [""])[0][:300])
    for entry in batch:
        if not isinstance(entry, _Prepared):
            _count(stats, "unchanged", entry[0], entry[1])
        elif order_ids is not None:
            _count(stats, "created", next(order_ids), entry.normalized)
        else:
            import_one(session, context.channel, entry.normalized, context.actor, stats)


def _write(session: Session, context: _PageContext, batch: list[_Prepared]) -> list[int]:
    channel, actor = context.channel, context.actor
    now = utcnow()
    _customers(session, batch, now)
    _find_twins(session, context, batch)
    for prepared in batch:
        if prepared.twin is not None:
            prepared.holds.append(("duplicate", f"same e-mail and lines as {prepared.twin[1]} "
                                                "on another channel"))
    for prepared in batch:
        _before_pipeline(context, prepared, now)

    order_ids = _insert_returning(session, _ORDERS, [p.row for p in batch])
    line_rows = []
    for prepared, order_id in zip(batch, order_ids):
        prepared.row["id"] = order_id
        for line in prepared.lines:
            line.row.update(order_id=order_id, quantity_allocated=0, quantity_backordered=0,
                            quantity_cancelled=line.cancelled, quantity_shipped=0,
                            quantity_returned=0)
            line_rows.append(line.row)
    for line_row, line_id in zip(line_rows, _insert_returning(session, _LINES, line_rows)):
        line_row["id"] = line_id
    refund_rows = []
    for prepared in batch:
        for refund in prepared.refunds:
            refund["order_id"] = prepared.row["id"]
            refund_rows.append(refund)
    if refund_rows:
        for refund, refund_id in zip(refund_rows, _insert_returning(session, _REFUNDS, refund_rows)):
            refund["id"] = refund_id

    holds, conflicts, events = [], [], []
    for prepared in batch:
        order_id, external_id = prepared.row["id"], prepared.row["external_id"]
        for reason, note in prepared.holds:
            holds.append(dict(order_id=order_id, reason=reason, note=note, placed_by=actor.label,
                              placed_at=now, released_by=None, released_at=None,
                              release_note=None))
        for line in prepared.unknown:
            conflicts.append(_conflict(
                channel_id=channel.id, order_id=order_id, kind="unknown_sku",
                external_id=external_id, sku=line.sku,
                remote_value={"sku": line.sku, "title": line.title},
                raw_payload=prepared.row["raw_payload"], error=f"Unknown SKU {line.sku!r}",
                created_at=now))
        if prepared.twin is not None:
            twin_id, twin_number, twin_channel = prepared.twin
            conflicts.append(_conflict(
                channel_id=channel.id, order_id=order_id, kind="duplicate",
                external_id=external_id,
                local_value={"order_id": twin_id, "order_number": twin_number,
                             "channel_id": twin_channel},
                remote_value={"order_id": order_id, "order_number": prepared.row["order_number"]},
                raw_payload=prepared.row["raw_payload"],
                error=f"Suspected duplicate of order {twin_number}", created_at=now))
        for type_, message, data in prepared.events:
            events.append(dict(order_id=order_id, created_at=now, actor=actor.label,
                               user_id=actor.user_id, type=type_,
                               message=message() if callable(message) else message,
                               data=data() if callable(data) else data))
    for table, rows in ((_HOLDS, holds), (_CONFLICTS, conflicts), (_EVENTS, events)):
        if rows:
            session.execute(table.insert(), rows)
    _pipeline(session, context, batch)
    return order_ids


def _pipeline(session: Session, context: _PageContext, batch: list[_Prepared]) -> None:
    """``pipeline.process`` on the new orders of the batch that were not cancelled, in page
    order, as importing._create calls it, their allocation as one batch (the ORM; flushed
    before the savepoint ends)."""
    from sqlalchemy.orm import selectinload

    from app.services.lifecycle import pipeline

    ids = [p.row["id"] for p in batch if not p.normalized.cancelled]
    loaded = {}
    for start in range(0, len(ids), IN_CHUNK):
        for order in session.scalars(select(Order).where(Order.id.in_(ids[start:start + IN_CHUNK]))
                                     .options(selectinload(Order.lines), selectinload(Order.holds))):
            loaded[order.id] = order
    pipeline.process_many(session, [loaded[order_id] for order_id in ids], context.actor)
    session.flush()


def _conflict(**values) -> dict:
    row = dict(channel_id=None, order_id=None, kind=None, status="open", external_id=None,
               sku=None, field=None, local_value=None, remote_value=None, raw_payload=None,
               error=None, resolution=None, resolution_note=None, resolved_by=None,
               resolved_at=None, created_at=None)
    row.update(values)
    return row


def _insert_returning(session: Session, table, rows: list[dict]) -> list[int]:
    result = session.execute(
        table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
    ids = list(result.scalars())
    if len(ids) != len(rows):
        raise RuntimeError(f"{table.name}: {len(ids)} ids for {len(rows)} rows")
    return ids


def _customers(session: Session, batch: list[_Prepared], now: datetime) -> None:
    """customers.find_or_create for the whole batch, in page order."""
    keys = list(dict.fromkeys(p.customer[0] for p in batch if p.customer[0]))
    if not keys:
        return
    found: dict[str, dict] = {}
    for start in range(0, len(keys), IN_CHUNK):
        for id, email, name, phone in session.execute(
                select(Customer.id, Customer.email, Customer.name, Customer.phone)
                .where(Customer.email.in_(keys[start:start + IN_CHUNK]))):
            found[email] = {"id": id, "name": name, "phone": phone, "changed": False}
    created: list[dict] = []
    for prepared in batch:
        key, name, phone = prepared.customer
        if key is None:
            continue
        customer = found.get(key)
        if customer is None:
            customer = found[key] = {"email": key, "name": name, "phone": phone, "new": True}
            created.append(customer)
        else:
            if name and not customer["name"]:
                customer["name"], customer["changed"] = name, True
            if phone and not customer["phone"]:
                customer["phone"], customer["changed"] = phone, True
        prepared.customer = customer
    if created:
        rows = [{"email": c["email"], "name": c["name"], "phone": c["phone"], "note": None,
                 "created_at": now, "updated_at": now} for c in created]
        for customer, id in zip(created, _insert_returning(session, _CUSTOMERS, rows)):
            customer["id"] = id
    for customer in found.values():
        if customer.get("changed") and not customer.get("new"):
            session.execute(update(_CUSTOMERS).where(_CUSTOMERS.c.id == customer["id"])
                            .values(name=customer["name"], phone=customer["phone"], updated_at=now))
            _expire(session, Customer, customer["id"], ["name", "phone", "updated_at"])
    for prepared in batch:
        if isinstance(prepared.customer, dict):
            prepared.row["customer_id"] = prepared.customer["id"]


def _find_twins(session: Session, context: _PageContext, batch: list[_Prepared]) -> None:
    """importing.find_cross_channel_duplicate for the batch, from one query."""
    wanted = [p for p in batch if p.signature is not None]
    if not wanted:
        return
    window = context.duplicate_window
    emails = list({p.row["email"].lower() for p in wanted})
    first = min(p.row["placed_at"] for p in wanted) - window
    last = max(p.row["placed_at"] for p in wanted) + window
    candidates = []
    for start in range(0, len(emails), IN_CHUNK):
        candidates += session.execute(
            select(Order.id, Order.order_number, Order.channel_id, Order.placed_at,
                   func.lower(Order.email))
            .where(func.lower(Order.email).in_(emails[start:start + IN_CHUNK]),
                   Order.channel_id != context.channel.id, Order.status != "cancelled",
                   Order.placed_at.between(first, last))).all()
    if not candidates:
        return
    candidates.sort(key=lambda c: c[0])
    signatures: dict[int, list] = defaultdict(list)
    ids = [c[0] for c in candidates]
    for start in range(0, len(ids), IN_CHUNK):
        for order_id, product_id, sku, title, quantity in session.execute(
                select(OrderLine.order_id, OrderLine.product_id, OrderLine.sku, OrderLine.title,
                       OrderLine.quantity).where(OrderLine.order_id.in_(ids[start:start + IN_CHUNK]))):
            signatures[order_id].append(
                (f"product:{product_id}" if product_id else f"sku:{normalize_sku(sku) or title}",
                 quantity))
    by_email = defaultdict(list)
    for candidate in candidates:
        by_email[candidate[4]].append(candidate)
    for prepared in wanted:
        placed = prepared.row["placed_at"]
        near = [c for c in by_email.get(prepared.row["email"].lower(), ())
                if placed - window <= c[3] <= placed + window][:20]
        for id, number, channel_id, _placed, _email in near:
            if sorted(signatures.get(id, ())) == prepared.signature:
                prepared.twin = (id, number, channel_id)
                break


def _event(prepared: _Prepared, type_: str, message, data=None) -> None:
    prepared.events.append((type_, message, data))


def _before_pipeline(context: _PageContext, prepared: _Prepared, now: datetime) -> None:
    """What importing._create does between the insert and pipeline.process: the imported
    event, refunds, a cancellation on first import, the initial holds."""
    row, normalized = prepared.row, prepared.normalized
    channel_code = context.channel.code
    _event(prepared, "imported", f"Order {row['order_number']} imported from {channel_code}")
    for refund in prepared.refunds:
        _event(prepared, "refunded", f"Refunded {refund['amount']} {refund['currency']}",
               lambda refund=refund: {"refund_id": refund["id"], "amount": str(refund["amount"])})
    if normalized.cancelled:
        reason = normalized.cancel_reason or "cancelled on the channel"
        for line in prepared.lines:
            line.cancelled += line.quantity
        _status(prepared, "cancelled", reason)
        row["cancelled_at"], row["cancel_reason"] = now, reason
        _event(prepared, "cancelled", f"Cancelled: {reason}", {"reason": reason})
        return
    for reason, note in prepared.holds:
        _event(prepared, "hold_placed", f"Held ({reason})" + (f": {note}" if note else ""),
               {"reason": reason, "note": note})
    if prepared.holds:
        row["updated_at"] = now


def _status(prepared: _Prepared, to: str, reason: str | None = None) -> None:
    old, prepared.row["status"] = prepared.row["status"], to
    message = f"Status {old} → {to}" + (f": {reason}" if reason else "")
    _event(prepared, "status_changed", message, {"from": old, "to": to, "reason": reason})


def _expire(session: Session, model, id: int, attributes: list[str]) -> None:
    obj = session.identity_map.get(identity_key(model, id))
    if obj is not None:
        session.expire(obj, attributes)
