"""Pulling orders from a channel: cursors, sync runs, quarantine of what cannot be applied.

The contract that makes a crash harmless:
- every page is one transaction (its orders, and the conflicts of its bad payloads);
- each order is imported inside a savepoint, so one order that fails is quarantined as
  a sync conflict (raw payload and error kept) while the rest of its page commits;
- the cursor moves only after the whole run has committed every page up to it, and the
  next run starts a little before it (``OVERLAP``): re-reading is free (unchanged
  payloads write nothing), so a run killed anywhere loses and duplicates nothing.
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from connectors.base import NormalizedOrder, OrderPage

from app.models import Channel, ChannelCursor, SyncConflict, SyncRun
from app.models.base import utcnow
from app.services.channels import bulk_import
from app.services.channels import importing
from app.services.channels import storable
from app.services.core.actor import Actor
from app.services.core.transaction import unit_of_work

log = logging.getLogger(__name__)

PULL_JOB = "pull_orders"
OVERLAP = timedelta(minutes=2)


@dataclass
class PullStats:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    errors: int = 0
    max_updated_at: datetime | None = None
    order_ids: list[int] = field(default_factory=list)

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def merge(self, other: "PullStats", *, fetched: bool = True) -> None:
        """Add another's figures (a committed page's, to its run's)."""
        for name in ("fetched", "created", "updated", "unchanged", "conflicts", "errors"):
            if name != "fetched" or fetched:
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.order_ids += other.order_ids
        if other.max_updated_at and (self.max_updated_at is None
                                     or other.max_updated_at > self.max_updated_at):
            self.max_updated_at = other.max_updated_at


@dataclass(frozen=True)
class RunSummary:
    """A sync run's figures as plain values (usable after the session is gone)."""

    id: int
    status: str
    fetched: int
    created: int
    updated: int
    unchanged: int
    conflicts: int
    errors: int
    cursor_before: str | None
    cursor_after: str | None
    error_message: str | None

    @classmethod
    def of(cls, run: SyncRun) -> "RunSummary":
        return cls(**{name: getattr(run, name) for name in cls.__dataclass_fields__})


# --- cursors -----------------------------------------------------------------------------

def get_cursor(session: Session, channel_id: int, job: str = PULL_JOB) -> str | None:
    return session.scalar(select(ChannelCursor.value).where(
        ChannelCursor.channel_id == channel_id, ChannelCursor.job == job))


def set_cursor(session: Session, channel_id: int, value: str, job: str = PULL_JOB) -> None:
    """Move a cursor (no commit: the caller's transaction decides). One upsert: two pulls
    that overlap (the job lock bypassed) both finding no cursor row must not both insert
    it and fail on the unique key."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(ChannelCursor).values(channel_id=channel_id, job=job, value=value, updated_at=now)
        .on_conflict_do_update(index_elements=["channel_id", "job"],
                               set_={"value": value, "updated_at": now}))


def pull_start(session: Session, channel: Channel, now: datetime | None = None) -> datetime:
    """Where the next pull starts: a little before the cursor, or the backfill window."""
    cursor = get_cursor(session, channel.id)
    if cursor:
        return datetime.fromisoformat(cursor) - OVERLAP
    return (now or utcnow()) - timedelta(days=channel.backfill_days)


# --- sync runs ---------------------------------------------------------------------------

def start_run(session: Session, channel: Channel | None, job: str, cursor_before: str | None) -> SyncRun:
    """Record a run as started and commit at once, so a crash leaves a visible trace."""
    with unit_of_work(session):
        # The caller holds this job's lock, so any run still "running" died with its process.
        dead = session.scalars(select(SyncRun).where(
            SyncRun.channel_id == (channel.id if channel else None), SyncRun.job == job,
            SyncRun.status == "running"))
        for stale in dead:
            stale.status, stale.finished_at = "failed", utcnow()
            stale.error_message = "interrupted: the process running it stopped before it finished"
        run = SyncRun(channel_id=channel.id if channel else None, job=job, status="running",
                      started_at=utcnow(), cursor_before=cursor_before)
        session.add(run)
    return run


def finish_run(session: Session, run: SyncRun, stats: PullStats, status: str,
               cursor_after: str | None, error: str | None = None) -> SyncRun:
    """Fill in a run's figures (no commit)."""
    run.finished_at = utcnow()
    run.duration_ms = int((run.finished_at - run.started_at).total_seconds() * 1000)
    for name in ("fetched", "created", "updated", "unchanged", "conflicts", "errors"):
        setattr(run, name, getattr(stats, name))
    run.status, run.cursor_after, run.error_message = status, cursor_after, error
    return run


# --- import of one page ------------------------------------------------------------------

def quarantine(session: Session, channel: Channel, raw, error: str, *,
               external_id: str | None = None) -> SyncConflict:
    """Keep a payload that could not be applied, with why, for a person to look at.

    Writing the conflict cannot fail on what the channel sent: the payload is stored as
    storable JSON (NUL and lone surrogates escaped, see services/channels/storable.py), the external
    id and the error are clipped to their columns. The same payload quarantined again (a
    poll re-reads the last minutes every run) adds no second open conflict."""
    payload = storable.json_payload(raw if isinstance(raw, (dict, list)) else {"raw": raw})
    external_id = storable.clip(external_id, SyncConflict.__table__.c.external_id)
    if external_id is not None:
        same = session.scalars(select(SyncConflict).where(
            SyncConflict.channel_id == channel.id, SyncConflict.kind == "invalid_payload",
            SyncConflict.status == "open", SyncConflict.external_id == external_id)).all()
        for conflict in same:
            if conflict.raw_payload == payload:
                return conflict
    conflict = SyncConflict(
        channel_id=channel.id, kind="invalid_payload", external_id=external_id,
        raw_payload=payload, error=storable.clean_text(error)[:4000], created_at=utcnow(),
    )
    session.add(conflict)
    return conflict


def _external_id_of(raw) -> str | None:
    if not isinstance(raw, dict):
        return None
    order = raw.get("order") if isinstance(raw.get("order"), dict) else raw
    value = order.get("id") or order.get("AmazonOrderId")
    return str(value) if value not in (None, "") else None


def import_page(session: Session, channel: Channel, page: OrderPage, actor: Actor,
                stats: PullStats) -> None:
    """One page in one transaction; new orders in one savepoint per batch, every other
    order (and every order of a batch that failed) in its own savepoint.

    The page's figures join the run's only once its transaction has committed, so a run
    never reports orders it did not store. Should the page's commit fail all the same
    (something no savepoint caught), the page is imported again one order per
    transaction: a single poison order then costs only itself, never the page."""
    page_stats = PullStats()
    try:
        with unit_of_work(session):
            # New orders in bulk, the rest one by one, in page order (services/channels/bulk_import.py).
            bulk_import.import_orders(session, channel, page.orders, actor, page_stats,
                                      _import_one)
            _quarantine_invalid(session, channel, page.invalid, page_stats)
    except Exception as exc:  # noqa: BLE001 — retried order by order below
        if isinstance(exc, OperationalError):
            raise  # the database is gone, not an order: the run fails, the cursor stays
        log.warning("page of %s failed as a whole (%s: %s); importing it order by order",
                    channel.code, type(exc).__name__, str(exc)[:300])
        page_stats = _import_page_one_by_one(session, channel, page, actor)
    stats.merge(page_stats)


def _quarantine_invalid(session, channel, invalid, stats: PullStats) -> None:
    for raw, error in invalid:
        stats.fetched += 1
        stats.errors += 1
        stats.conflicts += 1
        quarantine(session, channel, raw, f"invalid payload: {error}",
                   external_id=_external_id_of(raw))


def _import_page_one_by_one(session, channel, page: OrderPage, actor) -> PullStats:
    stats = PullStats()
    for normalized in page.orders:
        stats.fetched += 1
        one = PullStats()
        try:
            with unit_of_work(session):
                _import_one(session, channel, normalized, actor, one)
        except Exception as exc:  # noqa: BLE001 — this order alone, kept as a conflict
            if isinstance(exc, OperationalError):
                raise
            one = PullStats(errors=1, conflicts=1)
            _seen(one, normalized)
            _quarantine_alone(session, channel, normalized.raw, exc,
                              external_id=normalized.external_id)
        stats.merge(one, fetched=False)
    with unit_of_work(session):
        _quarantine_invalid(session, channel, page.invalid, stats)
    return stats


def _quarantine_alone(session, channel, raw, exc: Exception, *, external_id=None) -> None:
    """Quarantine in a transaction of its own, after the order's own one failed."""
    with unit_of_work(session):
        quarantine(session, channel, raw, f"{type(exc).__name__}: {exc}",
                   external_id=str(external_id) if external_id is not None else None)


def _import_one(session, channel, normalized: NormalizedOrder, actor,
                stats: PullStats) -> SyncConflict | None:
    """Import one order in a savepoint; an order that fails is quarantined (the conflict is
    returned). Either way the order counts for the cursor: a quarantined order is kept, so
    the next run need not read it again."""
    _seen(stats, normalized)
    try:
        result = _import_with_retry(session, channel, normalized, actor)
    except Exception as exc:  # noqa: BLE001 — anything an order does must not sink its page
        if isinstance(exc, OperationalError):
            raise
        log.warning("order %.80s of %s quarantined: %.300s", normalized.external_id,
                    channel.code, exc)
        stats.errors += 1
        stats.conflicts += 1
        return quarantine(session, channel, normalized.raw, f"{type(exc).__name__}: {exc}",
                          external_id=str(normalized.external_id))
    stats.add(result.outcome)
    if result.order is not None:
        stats.order_ids.append(result.order.id)
    return None


def _seen(stats: PullStats, normalized: NormalizedOrder) -> None:
    updated_at = normalized.updated_at
    if updated_at and (stats.max_updated_at is None or updated_at > stats.max_updated_at):
        stats.max_updated_at = updated_at


def _import_with_retry(session, channel, normalized, actor):
    """Import in a savepoint. If another process inserted the same order meanwhile (the
    unique (channel, external id) key says so), import again: it is now an update."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return importing.import_order(session, channel, normalized, actor)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# --- a whole pull ------------------------------------------------------------------------

def pull_orders(session: Session, channel: Channel, connector, actor: Actor, *,
                now: datetime | None = None, max_pages: int | None = None) -> SyncRun:
    """Pull every order changed since the cursor, page by page; returns the sync run."""
    cursor_before = get_cursor(session, channel.id)
    since = pull_start(session, channel, now)
    run = start_run(session, channel, PULL_JOB, cursor_before)
    stats = PullStats()
    started = time.monotonic()
    token, pages = None, 0
    try:
        while True:
            page = connector.fetch_orders(since, token)
            import_page(session, channel, page, actor, stats)
            pages += 1
            token = page.next_page
            if not token or (max_pages and pages >= max_pages):
                break
    except Exception as exc:  # noqa: BLE001 — a failed run is recorded, the cursor stays
        session.rollback()
        with unit_of_work(session):
            run = session.get(SyncRun, run.id)
            finish_run(session, run, stats, "failed", cursor_before,
                       f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"[:4000])
        log.warning("pull of %s failed after %d pages: %s", channel.code, pages, exc,
                    exc_info=True)
        return run
    cursor_after = cursor_before
    if stats.max_updated_at is not None and not token:  # a complete pass moves the cursor
        new = stats.max_updated_at.astimezone(timezone.utc).isoformat()
        if cursor_before is None or new > cursor_before:
            cursor_after = new
    with unit_of_work(session):
        run = session.get(SyncRun, run.id)
        if cursor_after != cursor_before:
            set_cursor(session, channel.id, cursor_after)
        finish_run(session, run, stats, "partial" if stats.errors else "succeeded", cursor_after)
    log.info("pulled %s: %d fetched, %d created, %d updated, %d unchanged, %d conflicts in %.1fs",
             channel.code, stats.fetched, stats.created, stats.updated, stats.unchanged,
             stats.conflicts, time.monotonic() - started)
    return run


def receive_webhook_order(session: Session, channel: Channel, raw, actor: Actor, *,
                          parse_error: str | None = None) -> str:
    """Import one order a webhook delivered; returns created/updated/unchanged/quarantined.
    Whatever the payload holds, it is either imported or kept as a conflict: should even
    the order's transaction fail at its commit, it is quarantined in a transaction of its
    own."""
    from connectors.registry import normalizer_for

    stats = PullStats()
    try:
        with unit_of_work(session):
            if parse_error is None:
                try:
                    normalized = normalizer_for(channel.kind)(raw)
                except Exception as exc:  # noqa: BLE001 — untrusted input: any failure is the payload's
                    parse_error = f"invalid payload: {type(exc).__name__}: {exc}"
            if parse_error is not None:
                quarantine(session, channel, raw, parse_error, external_id=_external_id_of(raw))
                return "quarantined"
            _import_one(session, channel, normalized, actor, stats)
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, OperationalError):
            raise
        log.warning("webhook order of %s failed at its commit; quarantined: %.300s",
                    channel.code, exc)
        _quarantine_alone(session, channel, raw, exc, external_id=_external_id_of(raw))
        return "quarantined"
    if stats.errors:
        return "quarantined"
    return next(name for name in ("created", "updated", "unchanged") if getattr(stats, name))
