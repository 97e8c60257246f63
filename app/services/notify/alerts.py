"""Internal alerts: one open alert per (type, key) — raised again, its counter and last
seen move; resolved when the cause is gone; acknowledged by a person (who and when).

Raised by:
- ``outbox.dead`` (a domain event of core.outbox_sender): ``outbox_dead`` keyed by topic
  and target; resolved by ``check`` once no message of that topic and target is dead;
- ``check`` (the ``check_alerts`` job): ``channel_sync_failing`` when a channel's last
  ``alert_sync_failed_runs`` pulls all failed, ``channel_sync_lagging`` when its last
  successful pull is older than ``alert_sync_lag_minutes``, ``delivery_exception``
  when delivery exceptions wait longer than ``delivery_exception_alert_hours``; each
  resolved when it is not so any more.
A newly opened alert (or one seen again after the channel's quiet period) is told to every
enabled alert channel through the outbox (``alert_channels.tell``).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import Alert, Channel, SyncRun
from app.models.base import utcnow
from app.models.notifications import OutboxMessage
from app.services.core import audit, domain_events, settings
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, NotFound
from app.services.core.transaction import transactional
from app.services.fulfilment import exceptions as delivery_exceptions
from app.services.notify import alert_channels, alert_mail

ACTOR = Actor.job("check_alerts")


def _open(session: Session, type: str, key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.type == type, Alert.key == key,
                                              Alert.resolved_at.is_(None)).with_for_update())


def raise_alert(session: Session, type: str, key: str, message: str,
                data: dict | None = None) -> Alert:
    """Open the alert, or count one more sighting of the open one (no commit). Two
    transactions raising it at once make one alert: the insert yields to the open one
    (the partial unique index) and counts on it instead."""
    now, key = utcnow(), key[:255]
    alert = _open(session, type, key)
    if alert is None:
        table = Alert.__table__
        insert_ = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
            else sqlite.insert
        new_id = session.execute(
            insert_(table).values(type=type, key=key, message=message, data=data, count=1,
                                  first_seen_at=now, last_seen_at=now)
            .on_conflict_do_nothing(index_elements=["type", "key"],
                                    index_where=table.c.resolved_at.is_(None))
            .returning(table.c.id)).scalar()
        if new_id is not None:
            alert = session.get(Alert, new_id)
            alert_channels.tell(session, alert)
            alert_mail.tell(session, alert)
            return alert
        alert = _open(session, type, key)
    alert.count += 1
    alert.last_seen_at, alert.message, alert.data = now, message, data
    alert_channels.tell(session, alert)
    alert_mail.tell(session, alert)
    return alert


def resolve_alert(session: Session, type: str, key: str) -> Alert | None:
    alert = session.scalar(select(Alert).where(Alert.type == type, Alert.key == key,
                                               Alert.resolved_at.is_(None)))
    if alert is not None:
        alert.resolved_at = utcnow()
    return alert


@transactional
def acknowledge(session: Session, pk, actor: Actor) -> Alert:
    try:
        alert = session.get(Alert, int(pk))
    except (TypeError, ValueError):
        alert = None
    if alert is None:
        raise NotFound(f"Alert {pk} not found")
    if alert.acknowledged_at is not None:
        raise Conflict(f"Alert #{alert.id} was acknowledged by {alert.acknowledged_by}")
    alert.acknowledged_at, alert.acknowledged_by = utcnow(), actor.label
    audit.record(session, actor, "alert", alert.id, "acknowledge",
                 {"type": alert.type, "key": alert.key})
    return alert


def open_alerts(session: Session, limit: int = 200) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.resolved_at.is_(None))
                                .order_by(Alert.last_seen_at.desc()).limit(limit)))


def recent(session: Session, *, include_resolved: bool = False, limit: int = 200) -> list[Alert]:
    query = select(Alert)
    if not include_resolved:
        query = query.where(Alert.resolved_at.is_(None))
    return list(session.scalars(query.order_by(Alert.last_seen_at.desc()).limit(limit)))


# --- raised by a domain event -------------------------------------------------------------

def outbox_dead(session: Session, payload: dict) -> None:
    if payload["topic"] in ("notify.alert", alert_mail.TOPIC):
        return  # an alert about alert delivery could only fail the same way
    raise_alert(session, "outbox_dead", f"{payload['topic']} → {payload['target']}",
                f"Outbox messages to {payload['target']} ({payload['topic']}) failed for good: "
                f"{payload['error']}"[:1000],
                {"outbox_id": payload["outbox_id"], "topic": payload["topic"],
                 "target": payload["target"]})


def sla_changed(session: Session, payload: dict) -> None:
    """An order at risk or late (fulfilment's sla_watch): one alert per order and state."""
    raise_alert(session, "sla_at_risk", f"order {payload['order_id']} {payload['state']}",
                f"Order {payload['order_number']} is {payload['state'].replace('_', ' ')}: ship by "
                f"{payload['ship_by']}", {"order_id": payload["order_id"], "state": payload["state"]})


def register() -> None:
    domain_events.subscribe("outbox.dead", outbox_dead)
    domain_events.subscribe("order.sla_changed", sla_changed)


# --- checked by a job --------------------------------------------------------------------

@transactional
def check(session: Session) -> dict[str, int]:
    """Raise and resolve the alerts a job watches; returns {type: open alerts}."""
    failed_runs = settings.get(session, "alert_sync_failed_runs")
    lag = timedelta(minutes=settings.get(session, "alert_sync_lag_minutes"))
    now = utcnow()
    for channel in session.scalars(select(Channel).where(Channel.enabled.is_(True))):
        _check_channel(session, channel, failed_runs, lag, now)
    for alert in session.scalars(select(Alert).where(Alert.type == "outbox_dead",
                                                     Alert.resolved_at.is_(None))):
        data = alert.data or {}
        still = session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.status == "dead", OutboxMessage.topic == data.get("topic"),
            OutboxMessage.target == data.get("target")))
        if not still:
            alert.resolved_at = now
    _check_delivery_exceptions(session)
    rows = session.execute(select(Alert.type, func.count()).where(Alert.resolved_at.is_(None))
                           .group_by(Alert.type)).all()
    return {type_: n for type_, n in rows}


def _check_channel(session: Session, channel: Channel, failed_runs: int, lag: timedelta,
                   now) -> None:
    runs = session.scalars(select(SyncRun.status).where(
        SyncRun.channel_id == channel.id, SyncRun.status != "running")
        .order_by(SyncRun.started_at.desc()).limit(failed_runs)).all()
    if failed_runs and len(runs) == failed_runs and all(s == "failed" for s in runs):
        raise_alert(session, "channel_sync_failing", channel.code,
                    f"Channel {channel.code}: the last {failed_runs} syncs failed",
                    {"channel_id": channel.id})
    else:
        resolve_alert(session, "channel_sync_failing", channel.code)
    last_ok = session.scalar(select(func.max(SyncRun.finished_at)).where(
        SyncRun.channel_id == channel.id, SyncRun.status.in_(("succeeded", "partial"))))
    since = last_ok or channel.created_at
    if channel.poll_interval_seconds and since is not None and now - since > lag:
        minutes = int((now - since).total_seconds() // 60)
        raise_alert(session, "channel_sync_lagging", channel.code,
                    f"Channel {channel.code}: no successful sync for {minutes} minutes",
                    {"channel_id": channel.id, "minutes": minutes})
    else:
        resolve_alert(session, "channel_sync_lagging", channel.code)


def _check_delivery_exceptions(session: Session) -> None:
    hours = settings.get(session, "delivery_exception_alert_hours")
    waiting = delivery_exceptions.waiting_longer_than(session, hours)
    if waiting:
        raise_alert(session, "delivery_exception", "queue",
                    f"{len(waiting)} delivery exception(s) waiting over {hours} hours",
                    {"ids": [item.id for item in waiting][:50]})
    else:
        resolve_alert(session, "delivery_exception", "queue")
