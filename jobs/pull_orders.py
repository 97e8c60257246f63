"""pull_orders: fetch every channel's changed orders into Waybill."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Channel
from app.services.channels import config as channels
from app.services.channels import sync
from app.services.core.actor import Actor
from connectors.registry import build_connector, supports

ACTOR = Actor.job("pull_orders")


def schedule() -> dict[str, tuple[str, int]]:
    """{job id: (channel code, interval seconds)} for every enabled pullable channel."""
    rows = db.session.execute(select(Channel.code, Channel.kind, Channel.poll_interval_seconds)
                              .where(Channel.enabled.is_(True))).all()
    return {f"pull_orders:{code}": (code, max(interval, 10)) for code, kind, interval in rows
            if supports(kind) and interval > 0}


def connector_for(channel: Channel):
    options = dict(current_app.config.get("OMS_CONNECTOR_OPTIONS", {}))
    if channel.api_version:
        options["api_version"] = channel.api_version
    return build_connector(channel.kind, channel.base_url, channels.credentials_of(channel),
                           **options)


def run(code: str, **pull_options):
    channel = db.session.scalar(select(Channel).where(Channel.code == code))
    if channel is None or not channel.enabled:
        return None
    run = sync.pull_orders(db.session, channel, connector_for(channel), ACTOR, **pull_options)
    return sync.RunSummary.of(run)
