"""What Operations does to a channel by hand: poll it now, test its connection, re-pull one
order.

These talk to the channel, so they do it the way the jobs do: through a connector (built
by ``jobs.pull_orders.connector_for`` unless one is given), never by HTTP of their own.
Messages never carry credentials: the connectors redact URLs, and every credential value
of the channel is masked again here before a message leaves.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import Session

from app.models import Channel
from app.services.core import audit
from app.services.channels import config as channels
from app.services.channels import sync
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, NotFound, NotInState, ValidationFailed
from app.services.core.transaction import unit_of_work

log = logging.getLogger(__name__)

MASK = "********"


def _channel(session: Session, channel_id) -> Channel:
    try:
        channel = session.get(Channel, int(channel_id))
    except (TypeError, ValueError):
        channel = None
    if channel is None:
        raise NotFound(f"Channel {channel_id} not found")
    return channel


def _check_pullable(channel: Channel) -> None:
    from connectors.registry import supports

    if not supports(channel.kind):
        raise NotInState.field("kind", f"Waybill has no connector for {channel.kind} "
                                             "channels yet")
    if not channel.base_url:
        raise NotInState.field("base_url", f"channel {channel.code} has no base URL")


def _secrets(channel: Channel) -> list[str]:
    values: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif value is not None and len(str(value)) >= 4:
            values.append(str(value))

    try:
        walk(channels.credentials_of(channel))
        walk(channels.webhook_secret_of(channel))
    except Exception:  # noqa: BLE001 — an undecryptable secret has nothing to mask
        pass
    return sorted(values, key=len, reverse=True)


def scrub(channel: Channel, message: str) -> str:
    """A message without any of the channel's credential values in it."""
    for secret in _secrets(channel):
        message = message.replace(secret, MASK)
    return message


def _connector(channel: Channel, connector=None):
    if connector is not None:
        return connector
    from jobs.pull_orders import connector_for

    try:
        return connector_for(channel)
    except ValueError as exc:
        raise ValidationFailed.field("channel", scrub(channel, str(exc))) from None


# --- test connection ---------------------------------------------------------------------

@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def test_connection(session: Session, channel_id: int, actor: Actor,
                    connector=None) -> ConnectionCheck:
    """Ask the channel something cheap with the stored credentials; ok or why not (without
    credentials in the text). Writes nothing but an audit row of the check."""
    from connectors.errors import ChannelAuthError, ChannelError

    channel = _channel(session, channel_id)
    _check_pullable(channel)
    client = _connector(channel, connector)
    try:
        client.test_connection()
    except ChannelAuthError as exc:
        check = ConnectionCheck(False, f"The channel refused the credentials: {exc}")
    except ChannelError as exc:
        check = ConnectionCheck(False, f"The channel could not be reached: {exc}")
    except Exception as exc:  # noqa: BLE001 — shown to the user, masked
        check = ConnectionCheck(False, f"{type(exc).__name__}: {exc}")
    else:
        check = ConnectionCheck(True, f"Connected to {channel.name} ({channel.kind})")
    check = ConnectionCheck(check.ok, scrub(channel, check.message)[:1000])
    with unit_of_work(session):
        audit.record(session, actor, "channel", channel.id, "test_connection",
                     {"ok": check.ok, "message": check.message})
    return check


# --- poll now ----------------------------------------------------------------------------

def sync_listings_now(session: Session, channel_id: int, actor: Actor) -> sync.RunSummary:
    """Run the channel's sync_listings job now, under its job lock; its sync run's figures."""
    from jobs import sync_listings
    from jobs.scheduler import run_job

    channel = _channel(session, channel_id)
    if not channel.enabled:
        raise ValidationFailed.field("enabled", f"channel {channel.code} is disabled")
    _check_pullable(channel)
    code = channel.code
    summary = run_job(current_app._get_current_object(), f"sync_listings:{code}", sync_listings.run, code)
    if summary is None:
        raise Conflict(f"A listings sync of {code} is already running; try again when it has finished",
                       code="sync_running")
    with unit_of_work(session):
        audit.record(session, actor, "channel", channel_id, "sync_listings_now",
                     {"sync_run": summary.id, "status": summary.status})
    return summary


def poll_now(session: Session, channel_id: int, actor: Actor) -> sync.RunSummary:
    """Run the channel's pull_orders job now, under the same job lock as the scheduler
    (``jobs.scheduler.run_job``), and return its sync run. Conflict when a poll of that
    channel is already running."""
    from jobs import pull_orders
    from jobs.scheduler import run_job

    channel = _channel(session, channel_id)
    if not channel.enabled:
        raise ValidationFailed.field("enabled", f"channel {channel.code} is disabled")
    _check_pullable(channel)
    code = channel.code
    ran: list[bool] = []

    def job(channel_code: str):
        ran.append(True)
        return pull_orders.run(channel_code)

    app = current_app._get_current_object()
    summary = run_job(app, f"pull_orders:{code}", job, code)
    if summary is None:
        if not ran:
            raise Conflict(f"A poll of {code} is already running; try again when it has finished",
                           code="poll_running")
        raise Conflict(f"The poll of {code} failed before it could record a sync run; "
                       "see the server log")
    with unit_of_work(session):
        audit.record(session, actor, "channel", channel_id, "poll_now",
                     {"sync_run": summary.id, "status": summary.status})
    return summary


# --- re-pull one order -------------------------------------------------------------------

@dataclass(frozen=True)
class RepullResult:
    outcome: str  # created | updated | unchanged | quarantined
    order_id: int | None
    conflict_id: int | None
    external_id: str


def repull_order(session: Session, channel_id: int, external_id: str, actor: Actor,
                 connector=None) -> RepullResult:
    """Fetch one order from the channel by its id and import it as a poll would: in a
    savepoint, a failure quarantined as an invalid_payload conflict (payload and error
    kept), everything in one transaction."""
    from connectors.errors import ChannelError, ChannelNotFound, InvalidPayload

    external_id = validation.text(external_id, "external_id", max_length=64)
    channel = _channel(session, channel_id)
    _check_pullable(channel)
    client = _connector(channel, connector)
    try:
        normalized = client.fetch_order(external_id)
    except ChannelNotFound:
        raise NotFound(f"{channel.code} has no order {external_id}") from None
    except InvalidPayload as exc:
        raise ValidationFailed(
            f"{channel.code} sent order {external_id} in a form Waybill cannot read: "
            f"{scrub(channel, str(exc))}", errors={"external_id": ["invalid payload"]}) from None
    except ChannelError as exc:
        raise Conflict(f"{channel.code} could not be asked for order {external_id}: "
                       f"{scrub(channel, str(exc))}", code="channel_error") from None
    stats = sync.PullStats()
    with unit_of_work(session):
        quarantined = sync._import_one(session, channel, normalized, actor, stats)
        session.flush()
        outcome = "quarantined" if stats.errors else next(
            name for name in ("created", "updated", "unchanged") if getattr(stats, name))
        audit.record(session, actor, "channel", channel.id, "repull_order",
                     {"external_id": external_id, "outcome": outcome})
        order_id = stats.order_ids[0] if stats.order_ids else None
        conflict_id = quarantined.id if quarantined is not None else None
    return RepullResult(outcome, order_id, conflict_id, external_id)
