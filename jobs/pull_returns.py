"""pull_returns: read the returns of the channels that run their own (Amazon) into Waybill
(hourly, and ``flask oms pull-returns``), from the start of the last successful run (less a
day: Amazon's report lags) or RETURNS_LOOKBACK_DAYS back. Each run is a sync run (job
``pull_returns``); reading a report again records nothing twice (services/returns/channel_returns)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Channel, SyncRun
from app.models.base import utcnow
from app.services.core.actor import Actor
from app.services.returns import channel_returns, policy

from .channel_run import run_for_channel
from .pull_orders import connector_for

JOB = "pull_returns"
INTERVAL_SECONDS = 3600
RETURNS_LOOKBACK_DAYS = 30  # the first run, or after a long gap
OVERLAP = timedelta(days=1)


def codes() -> list[str]:
    return list(db.session.scalars(select(Channel.code).where(
        Channel.enabled.is_(True), Channel.kind.in_(policy.SELF_SERVICE_EXCLUDED_KINDS)).order_by(Channel.code)))


def _since(channel: Channel):
    last = db.session.scalar(select(SyncRun.started_at).where(
        SyncRun.channel_id == channel.id, SyncRun.job == JOB, SyncRun.status == "succeeded")
        .order_by(SyncRun.started_at.desc()).limit(1))
    floor = utcnow() - timedelta(days=RETURNS_LOOKBACK_DAYS)
    return max(last - OVERLAP, floor) if last is not None else floor


def run(code: str, actor: Actor | None = None):
    """Read one channel's returns; returns its sync run's figures (``sync.RunSummary``; None:
    no such enabled channel)."""
    def work(channel):
        items = connector_for(channel).fetch_returns(_since(channel))
        return items, channel_returns.import_returns(db.session, channel, items, actor or Actor.channel(channel.code))

    def figures(stats, done):
        items, summary = done
        stats.fetched, stats.created, stats.conflicts = len(items), len(summary.created), len(summary.skipped)

    return run_for_channel(code, JOB, work, figures)
