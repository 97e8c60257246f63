"""How each channel's syncing is doing (read side, no writes).

One statement for every channel: per channel, correlated subqueries that each read a
bounded slice through an index — the newest sync runs through (channel_id, started_at),
at most ``window`` of them; the pull cursor by (channel_id, job); open conflicts by
channel_id. No statement grows with the history of sync runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.models import Channel, ChannelCursor, SyncConflict, SyncRun
from app.models.base import utcnow
from app.services.channels.sync import PULL_JOB

WINDOW = 20  # error rate over this many newest runs
SUCCESS_STATUSES = ("succeeded", "partial")  # partial: finished, some orders quarantined
MAX_CHANNELS = 500


@dataclass(frozen=True)
class ChannelHealth:
    channel_id: int
    code: str
    name: str
    kind: str
    enabled: bool
    poll_interval_seconds: int
    last_run_at: datetime | None
    last_run_status: str | None
    last_success_at: datetime | None
    cursor: str | None
    cursor_at: datetime | None
    lag: timedelta | None  # now − cursor (how far behind the channel we may be)
    runs: int  # in the window
    failed_runs: int
    open_conflicts: int
    last_error: str | None  # newest failed run's error within the window
    running: bool

    @property
    def error_rate(self) -> float | None:
        return self.failed_runs / self.runs if self.runs else None

    @property
    def state(self) -> str:
        """ok | failing | stale | never | disabled (for a badge)."""
        if not self.enabled:
            return "disabled"
        if self.last_run_at is None:
            return "never"
        if self.last_run_status == "failed":
            return "failing"
        if self.last_success_at is None:
            return "failing"
        if self.lag is not None and self.poll_interval_seconds and \
                self.lag > timedelta(seconds=max(self.poll_interval_seconds * 3, 900)):
            return "stale"
        return "ok"


def _parse_cursor(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _query(window: int):
    run = aliased(SyncRun)

    def newest(*columns):
        return (select(*columns).where(run.channel_id == Channel.id)
                .order_by(run.started_at.desc()).limit(1).correlate(Channel).scalar_subquery())

    def over_window(*columns, where=None, newest_first=False):
        # the channel's newest ``window`` runs: a backward scan of (channel_id, started_at)
        recent = (select(SyncRun.status, SyncRun.error_message, SyncRun.started_at)
                  .where(SyncRun.channel_id == Channel.id)
                  .order_by(SyncRun.started_at.desc()).limit(window)
                  .correlate(Channel).subquery("recent"))
        query = select(*[column(recent) for column in columns]).select_from(recent)
        if where is not None:
            query = query.where(where(recent))
        if newest_first:
            query = query.order_by(recent.c.started_at.desc()).limit(1)
        return query

    failed = lambda recent: recent.c.status == "failed"  # noqa: E731
    return select(
        Channel.id, Channel.code, Channel.name, Channel.kind, Channel.enabled,
        Channel.poll_interval_seconds,
        newest(run.started_at).label("last_run_at"),
        newest(run.status).label("last_run_status"),
        select(run.finished_at).where(run.channel_id == Channel.id,
                                      run.status.in_(SUCCESS_STATUSES))
        .order_by(run.started_at.desc()).limit(1)
        .correlate(Channel).scalar_subquery().label("last_success_at"),
        select(ChannelCursor.value).where(ChannelCursor.channel_id == Channel.id,
                                          ChannelCursor.job == PULL_JOB)
        .correlate(Channel).scalar_subquery().label("cursor"),
        over_window(lambda r: func.count()).correlate(Channel).scalar_subquery().label("runs"),
        over_window(lambda r: func.count(), where=failed)
        .correlate(Channel).scalar_subquery().label("failed_runs"),
        over_window(lambda r: r.c.error_message, where=failed, newest_first=True)
        .correlate(Channel).scalar_subquery().label("last_error"),
        over_window(lambda r: func.count(), where=lambda r: r.c.status == "running")
        .correlate(Channel).scalar_subquery().label("running"),
        select(func.count()).select_from(SyncConflict)
        .where(SyncConflict.channel_id == Channel.id, SyncConflict.status == "open")
        .correlate(Channel).scalar_subquery().label("open_conflicts"),
    )


def _row(row, now: datetime) -> ChannelHealth:
    cursor_at = _parse_cursor(row.cursor)
    return ChannelHealth(
        channel_id=row.id, code=row.code, name=row.name, kind=row.kind, enabled=row.enabled,
        poll_interval_seconds=row.poll_interval_seconds,
        last_run_at=_aware(row.last_run_at), last_run_status=row.last_run_status,
        last_success_at=_aware(row.last_success_at), cursor=row.cursor, cursor_at=cursor_at,
        lag=(now - cursor_at) if cursor_at else None, runs=row.runs or 0,
        failed_runs=row.failed_runs or 0, open_conflicts=row.open_conflicts or 0,
        last_error=row.last_error, running=bool(row.running),
    )


def _aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def overview(session: Session, *, now: datetime | None = None,
             window: int = WINDOW) -> list[ChannelHealth]:
    """Every channel (by code) with its health, in one statement."""
    now = now or utcnow()
    rows = session.execute(_query(window).order_by(Channel.code).limit(MAX_CHANNELS))
    return [_row(row, now) for row in rows]


def for_channel(session: Session, channel_id: int, *, now: datetime | None = None,
                window: int = WINDOW) -> ChannelHealth | None:
    now = now or utcnow()
    row = session.execute(_query(window).where(Channel.id == channel_id)).first()
    return _row(row, now) if row is not None else None


def recent_runs(session: Session, channel_id: int, limit: int = 20) -> list[SyncRun]:
    """The channel's newest sync runs (index (channel_id, started_at))."""
    return list(session.scalars(
        select(SyncRun).where(SyncRun.channel_id == channel_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)))
