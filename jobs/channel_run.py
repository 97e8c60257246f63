"""One channel's job pass recorded as a sync run (sync_listings, stock_drift): started and
committed at once, then succeeded with its figures or failed with the reason (a channel that
cannot be read changes nothing)."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select

from app.extensions import db
from app.models import Channel
from app.services.channels import sync
from app.services.core.transaction import unit_of_work
from connectors.errors import ChannelError


def run_for_channel(code: str, job: str, work: Callable, figures: Callable):
    """``work(channel)`` does the pass; ``figures(stats, result)`` fills the run's counts.
    Returns the run's figures (``sync.RunSummary``; None: no such enabled channel)."""
    session = db.session
    channel = session.scalar(select(Channel).where(Channel.code == code))
    if channel is None or not channel.enabled:
        return None
    run_row = sync.start_run(session, channel, job, None)
    stats = sync.PullStats()
    try:
        result = work(channel)
    except (ChannelError, ValueError) as exc:
        session.rollback()
        with unit_of_work(session):
            run_row = session.merge(run_row)
            sync.finish_run(session, run_row, stats, "failed", None, f"{type(exc).__name__}: {exc}")
        return sync.RunSummary.of(run_row)
    figures(stats, result)
    with unit_of_work(session):
        run_row = session.merge(run_row)
        sync.finish_run(session, run_row, stats, "succeeded", None)
    return sync.RunSummary.of(run_row)
