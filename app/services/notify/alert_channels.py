"""Where alerts go: a Slack-compatible incoming webhook. The URL is a secret (anyone with
it can post to the room): Admin-only, encrypted at rest (core.secrets), never shown or
logged. Alerts are delivered through the outbox (topic ``notify.alert``): an alert is told
when it opens and, while it stays open, again only after the channel's quiet period."""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlparse

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Alert, AlertChannel
from app.models.base import utcnow
from app.services.core import audit, idempotency, outbox, secrets
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.outbox import Message, OutcomeUnknown, RetryableError, Sent
from app.services.core.transaction import transactional
from connectors import outbound

TOPIC = "notify.alert"
HTTP_TIMEOUT = (5, 15)


def _allow_local_http() -> bool:
    return bool(has_app_context() and current_app.config.get("OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"))


def check_url(url: str) -> str:
    url = (url or "").strip()
    parsed = urlparse(url)
    local = parsed.scheme == "http" and parsed.hostname == "127.0.0.1" and _allow_local_http()
    if not (parsed.scheme == "https" and parsed.hostname) and not local:
        raise ValidationFailed.field("url", "must be an https:// URL (an incoming webhook)")
    return url


@transactional
def save(session: Session, values: dict, actor: Actor, pk=None, *,
         url: str | None = None) -> AlertChannel:
    """Create or edit an alert channel; ``url`` None keeps the stored one."""
    channel = session.get(AlertChannel, int(pk)) if pk is not None else AlertChannel()
    if channel is None:
        raise NotFound(f"Alert channel {pk} not found")
    name = (values.get("name") or "").strip()
    if not name:
        raise ValidationFailed.field("name", "is required")
    quiet = values.get("quiet_minutes", channel.quiet_minutes or 60)
    try:
        quiet = int(quiet)
    except (TypeError, ValueError):
        raise ValidationFailed.field("quiet_minutes", "must be a whole number") from None
    if quiet < 0:
        raise ValidationFailed.field("quiet_minutes", "cannot be negative")
    before = {"name": channel.name, "enabled": channel.enabled,
              "quiet_minutes": channel.quiet_minutes, "url": bool(channel.url_encrypted)}
    channel.name, channel.kind, channel.quiet_minutes = name[:64], "slack", quiet
    channel.enabled = bool(values.get("enabled", True))
    if url:
        channel.url_encrypted = secrets.encrypt(check_url(url))
    if not channel.url_encrypted:
        raise ValidationFailed.field("url", "is required")
    session.add(channel)
    session.flush()
    after = {"name": channel.name, "enabled": channel.enabled,
             "quiet_minutes": channel.quiet_minutes, "url": True}
    audit.record(session, actor, "alert_channel", channel.id, "create" if pk is None else "update",
                 audit.diff(before, after, secret_fields=("url",)))
    return channel


def tell(session: Session, alert: Alert) -> int:
    """Queue the alert for every enabled channel, unless it was told within the quiet
    period (no commit). Returns how many messages were queued."""
    now = utcnow()
    channels = session.scalars(select(AlertChannel).where(AlertChannel.enabled.is_(True))).all()
    if not channels:
        return 0
    quiet = min(c.quiet_minutes for c in channels)
    if alert.notified_at is not None and now - alert.notified_at < timedelta(minutes=quiet):
        return 0
    for channel in channels:
        outbox.enqueue(session, TOPIC, f"alert-channel:{channel.id}",
                       {"alert_id": alert.id, "alert_channel_id": channel.id},
                       dedupe_key=f"alert:{alert.id}:{channel.id}")
    alert.notified_at = now
    return len(channels)


def text_of(alert: Alert) -> str:
    times = f" (seen {alert.count}×)" if alert.count > 1 else ""
    return f":rotating_light: *{alert.type.replace('_', ' ')}* — {alert.message}{times}"


def deliver(message: Message) -> Sent:
    """The ``notify.alert`` handler: POST ``{"text": ...}`` to the channel's webhook."""
    from app.extensions import db

    with Session(db.engine) as session:
        alert = session.get(Alert, message.payload["alert_id"])
        channel = session.get(AlertChannel, message.payload["alert_channel_id"])
        if alert is None or channel is None or not channel.enabled:
            return Sent(note="the alert or its channel is gone: nothing to tell")
        url, text = secrets.decrypt(channel.url_encrypted), text_of(alert)
    try:
        response = outbound.post(url, body=json.dumps({"text": text}).encode(),
                                 headers={"Content-Type": "application/json",
                                          "X-Waybill-Event-Id": message.message_id},
                                 timeout=HTTP_TIMEOUT)
    except outbound.NoAnswer as exc:
        raise OutcomeUnknown(f"the webhook: {exc}") from None
    except outbound.Unreachable as exc:  # its text never has the URL: that is the secret
        raise RetryableError(f"the webhook: {exc}") from None
    idempotency.raise_for_response(response.status_code, response.headers, response.excerpt[:200])
    return Sent()


def register() -> None:
    outbox.register(TOPIC, deliver)
