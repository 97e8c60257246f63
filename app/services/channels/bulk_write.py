"""Writing a batch of prepared new orders: customers found or created in bulk, multi-row
INSERTs of orders, lines, refunds, holds, conflicts and events inside a savepoint, then the
real pipeline on each new order in page order."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.models import (
    Customer, Order, OrderEvent, OrderHold, OrderLine, Refund, SyncConflict, normalize_sku,
)
from app.models.base import utcnow
from app.services.channels.bulk_prepare import PageContext, Prepared, before_pipeline
from app.services.channels.importing import created_payload
from app.services.core import domain_events
from connectors.base import NormalizedOrder

log = logging.getLogger(__name__)

# sync._import_one: (session, channel, normalized, actor, stats) -> None
ImportOne = Callable[..., None]


def count_outcome(stats, outcome: str, order_id: int, normalized: NormalizedOrder) -> None:
    stats.add(outcome)
    stats.order_ids.append(order_id)
    if normalized.updated_at and (stats.max_updated_at is None
                                  or normalized.updated_at > stats.max_updated_at):
        stats.max_updated_at = normalized.updated_at


# Rows per IN (...) list when reading back what a batch needs.
IN_CHUNK = 500

_ORDERS = Order.__table__
_LINES = OrderLine.__table__
_EVENTS = OrderEvent.__table__
_HOLDS = OrderHold.__table__
_CONFLICTS = SyncConflict.__table__
_REFUNDS = Refund.__table__
_CUSTOMERS = Customer.__table__


def write_batch(session: Session, context: PageContext, batch: list, stats,
                import_one: ImportOne) -> None:
    if not batch:
        return
    new = [entry for entry in batch if isinstance(entry, Prepared)]
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
        if not isinstance(entry, Prepared):
            count_outcome(stats, "unchanged", entry[0], entry[1])
        elif order_ids is not None:
            count_outcome(stats, "created", next(order_ids), entry.normalized)
        else:
            import_one(session, context.channel, entry.normalized, context.actor, stats)


def _write(session: Session, context: PageContext, batch: list[Prepared]) -> list[int]:
    channel, actor = context.channel, context.actor
    now = utcnow()
    _customers(session, batch, now)
    _find_twins(session, context, batch)
    for prepared in batch:
        if prepared.twin is not None:
            prepared.holds.append(("duplicate", f"same e-mail and lines as {prepared.twin[1]} "
                                                "on another channel"))
    for prepared in batch:
        before_pipeline(context, prepared, now)

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
    _publish(session, context, batch)
    run_pipeline(session, context, batch)
    return order_ids


# The domain event each prepared timeline event stands for: what the one-by-one path
# publishes through orders.actions (same payloads), so subscribers see both paths alike.
# (A cancellation read from the channel carries orders.actions.cancel_in_tx's defaults.)
DOMAIN_EVENT_OF = {"status_changed": ("order.status_changed", ("from", "to"), {}),
                   "hold_placed": ("order.hold_placed", ("reason",), {}),
                   "cancelled": ("order.cancelled", ("reason",),
                                 {"refund": True, "restock": True})}


def _publish(session: Session, context: PageContext, batch: list[Prepared]) -> None:
    """``order.created`` for each new order, then what happened to it before the
    pipeline, in order."""
    actor = context.actor
    for prepared in batch:
        order_id = prepared.row["id"]
        domain_events.publish(session, "order.created",
                              created_payload(order_id, context.channel, actor))
        for type_, _message, data in prepared.events:
            name, keys, constants = DOMAIN_EVENT_OF.get(type_, (None, (), {}))
            if name is not None:
                data = data() if callable(data) else data
                domain_events.publish(session, name, {
                    "order_id": order_id, **{k: data.get(k) for k in keys}, **constants,
                    "actor": actor})


def run_pipeline(session: Session, context: PageContext, batch: list[Prepared]) -> None:
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


def _customers(session: Session, batch: list[Prepared], now: datetime) -> None:
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
            expire(session, Customer, customer["id"], ["name", "phone", "updated_at"])
    for prepared in batch:
        if isinstance(prepared.customer, dict):
            prepared.row["customer_id"] = prepared.customer["id"]


def _find_twins(session: Session, context: PageContext, batch: list[Prepared]) -> None:
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


def expire(session: Session, model, id: int, attributes: list[str]) -> None:
    obj = session.identity_map.get(identity_key(model, id))
    if obj is not None:
        session.expire(obj, attributes)
