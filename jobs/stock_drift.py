"""stock_drift: read back what each channel shows and open a ``stock_drift`` conflict where it
differs from what we last pushed (app/services/channels/stock_drift.py). Each run is a sync
run (job ``stock_drift``): fetched = listings read, conflicts = conflicts opened."""
from __future__ import annotations

from app.extensions import db
from app.services.channels import stock_drift

from .channel_run import run_for_channel
from .pull_orders import connector_for
from .sync_listings import codes

JOB = "stock_drift"
INTERVAL_SECONDS = 3600

__all__ = ["JOB", "INTERVAL_SECONDS", "codes", "run"]


def run(code: str, connector=None):
    """Check one channel; returns its sync run's figures (None: no such enabled channel)."""
    def work(channel):
        return stock_drift.check(db.session, channel, connector or connector_for(channel))

    def figures(stats, result):
        stats.fetched, stats.conflicts = result.read, len(result.opened)
        stats.unchanged = result.read - result.drifted

    return run_for_channel(code, JOB, work, figures)
