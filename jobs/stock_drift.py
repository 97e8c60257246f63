"""stock_drift: read back what each channel shows and open a ``stock_drift`` conflict where it
differs from what we last pushed (app/services/channels/stock_drift.py). Each run is a sync
run (job ``stock_drift``): fetched = listings read, conflicts = conflicts opened."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Channel
from app.services.channels import stock_drift, sync
from app.services.core.transaction import unit_of_work
from connectors.errors import ChannelError

from .pull_orders import connector_for
from .sync_listings import codes

JOB = "stock_drift"
INTERVAL_SECONDS = 3600

__all__ = ["JOB", "INTERVAL_SECONDS", "codes", "run"]


def run(code: str, connector=None):
    """Check one channel; returns its sync run's figures (None: no such enabled channel)."""
    session = db.session
    channel = session.scalar(select(Channel).where(Channel.code == code))
    if channel is None or not channel.enabled:
        return None
    run_row = sync.start_run(session, channel, JOB, None)
    stats = sync.PullStats()
    try:
        result = stock_drift.check(session, channel, connector or connector_for(channel))
    except (ChannelError, ValueError) as exc:
        session.rollback()
        with unit_of_work(session):
            run_row = session.merge(run_row)
            sync.finish_run(session, run_row, stats, "failed", None, f"{type(exc).__name__}: {exc}")
        return sync.RunSummary.of(run_row)
    stats.fetched, stats.conflicts, stats.unchanged = result.read, len(result.opened), result.read - result.drifted
    with unit_of_work(session):
        run_row = session.merge(run_row)
        sync.finish_run(session, run_row, stats, "succeeded", None)
    return sync.RunSummary.of(run_row)
