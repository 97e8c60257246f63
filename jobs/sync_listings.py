"""sync_listings: read every channel's products and variants into ``listings`` (hourly, and on
demand from the Listings page or ``flask oms sync-listings``). Each run is a sync run (job
``sync_listings``): a channel that cannot be read fails its run with the reason, the listings
stored before stay as they were."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Channel
from app.services.channels import listings
from app.services.channels import sync
from app.services.core.actor import Actor
from app.services.core.transaction import unit_of_work
from connectors.errors import ChannelError
from connectors.registry import supports

from .pull_orders import connector_for

JOB = "sync_listings"
INTERVAL_SECONDS = 3600
ACTOR = Actor.job(JOB)


def codes() -> list[str]:
    return [code for code, kind in db.session.execute(
        select(Channel.code, Channel.kind).where(Channel.enabled.is_(True)).order_by(Channel.code)) if supports(kind)]


def run(code: str, actor: Actor = ACTOR):
    """Sync one channel's listings; returns its sync run's figures (``sync.RunSummary``; None: no
    such enabled channel)."""
    session = db.session
    channel = session.scalar(select(Channel).where(Channel.code == code))
    if channel is None or not channel.enabled:
        return None
    run_row = sync.start_run(session, channel, JOB, None)
    stats = sync.PullStats()
    try:
        snapshot = connector_for(channel).fetch_listings()
        result = listings.store_snapshot(session, channel, snapshot, actor)
    except (ChannelError, ValueError) as exc:
        session.rollback()
        with unit_of_work(session):
            run_row = session.merge(run_row)
            sync.finish_run(session, run_row, stats, "failed", None, f"{type(exc).__name__}: {exc}")
        return sync.RunSummary.of(run_row)
    stats.fetched = len(snapshot.listings)
    stats.created, stats.updated, stats.conflicts = result.created, result.updated, result.unmatched
    with unit_of_work(session):
        run_row = session.merge(run_row)
        sync.finish_run(session, run_row, stats, "succeeded", None)
    return sync.RunSummary.of(run_row)
