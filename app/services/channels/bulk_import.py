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

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Order,
)
from app.services.channels import importing
from app.services.channels.bulk_prepare import PageContext, prepare
from app.services.channels.bulk_write import (
    IN_CHUNK, ImportOne, write_batch,
)
from app.services.core.actor import Actor
from connectors.base import NormalizedOrder

log = logging.getLogger(__name__)


# Tests switch the fast path off to compare it with the per-order path
# (tests/services/test_bulk_import.py runs one mixed page through both).
ENABLED = True


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
        context = PageContext(session, channel, orders, actor)
        existing = _existing(session, channel.id, orders)
    except Exception as exc:  # noqa: BLE001 — the per-order path quarantines what is wrong
        log.info("fast path unavailable for a page of %s: %s", channel.code, exc)
        existing = None
    if existing is None:
        for normalized in orders:
            stats.fetched += 1
            import_one(session, channel, normalized, actor, stats)
        return
    # The batch waiting to be written: new orders (Prepared) and, in page order between
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
                    entry = prepare(context, normalized, digest, encoded)
                elif stored[1] == digest or (normalized.updated_at and stored[2]
                                             and normalized.updated_at < stored[2]):
                    entry = (stored[0], normalized)  # stored and unchanged: nothing to write
        except Exception as exc:  # noqa: BLE001
            log.debug("order %s takes the per-order path: %s", normalized.external_id, exc)
            entry = None
        if entry is not None:
            batch.append(entry)
        else:
            write_batch(session, context, batch, stats, import_one)
            batch = []
            import_one(session, channel, normalized, actor, stats)
    write_batch(session, context, batch, stats, import_one)




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


# --- writing a batch -------------------------------------------------------------------------


