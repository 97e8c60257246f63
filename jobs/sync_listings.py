"""sync_listings: read every channel's products and variants into ``listings`` (hourly, and on
demand from the Listings page or ``flask oms sync-listings``). Each run is a sync run (job
``sync_listings``): a channel that cannot be read fails its run with the reason, the listings
stored before stay as they were."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Channel
from app.services.channels import listings
from app.services.core.actor import Actor
from connectors.registry import supports

from .channel_run import run_for_channel
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
    def work(channel):
        snapshot = connector_for(channel).fetch_listings()
        return snapshot, listings.store_snapshot(db.session, channel, snapshot, actor)

    def figures(stats, done):
        snapshot, result = done
        stats.fetched = len(snapshot.listings)
        stats.created, stats.updated, stats.conflicts = result.created, result.updated, result.unmatched

    return run_for_channel(code, JOB, work, figures)
