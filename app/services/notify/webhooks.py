"""Outbound webhooks: admins subscribe an https URL to domain events; each event becomes one
outbox message per subscription (topic ``webhook.deliver``), signed and logged when sent.

What a receiver gets (DESIGN.md "Interfaces added in round 2"): a ``POST`` of
``{"id", "type", "created_at", "data"}`` (``data``: the object as the REST API shows it,
as it was when the event happened) with the headers ``X-Waybill-Event`` (the type),
``X-Waybill-Timestamp`` (Unix seconds of this attempt) and ``X-Waybill-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">``. During a rotation's grace period
the header carries both signatures, new first, comma-separated: a receiver accepts the
delivery when any of them matches its secret. The ``id`` is the same on every attempt and
on a redelivery: the receiver drops a repeat by it.

Order: the messages of one subscription share a group (``webhook:<id>``), so they leave in
the order the events happened and a delivery that dies holds the rest back. That is what
pausing is: a delivery that died (its attempts spent, or refused at once) pauses its
subscription (``outbox.dead``; the alerts module raises the ``outbox_dead`` alert for it)
and the later events wait behind it; ``resume`` sends the held ones again, the dead one
first. A ``410 Gone`` disables the subscription: nothing more is queued for it.

Security: the URL is checked when saved and before every send — https only (http only to
127.0.0.1 with ``OMS_WEBHOOKS_ALLOW_LOCAL_HTTP``), and every address the host resolves to
must be public (no private, loopback, link-local, reserved or multicast address: no SSRF
into the seller's network) and the send connects to the address checked (``connectors.outbound``:
no DNS rebinding between the check and the request); redirects are not followed; at most 1 KB of a response is
read; the secret is encrypted at rest (core.secrets), shown once and never logged.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets as pysecrets
import socket
import time
import uuid
from datetime import timedelta
from typing import Callable
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from sqlalchemy import select, update
from sqlalchemy.orm import Session, scoped_session

from app.models import OutboxMessage, WebhookDelivery, WebhookSubscription
from app.models.base import utcnow
from app.services.core import audit, domain_events, outbox, secrets
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, NotFound, ValidationFailed
from app.services.core.outbox import (
    Message, OutcomeUnknown, PermanentError, RetryableError, Sent,
)
from app.services.core.transaction import transactional, write_intent
from connectors import outbound

TOPIC = "webhook.deliver"
EVENT_TYPES = domain_events.PUBLIC_EVENTS
TEST_EVENT = "webhook.test"  # "send test event": goes to a subscription whatever it wants
EXCERPT_BYTES = 1024
DEFAULT_GRACE = timedelta(hours=24)
MAX_URL = 2048


# --- the URL rule ------------------------------------------------------------------------------

def _allow_local_http() -> bool:
    return bool(has_app_context() and current_app.config.get("OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"))


def _timeout() -> float:
    """Seconds a receiver has to answer (DESIGN: a 2xx within 10 s)."""
    if has_app_context():
        return float(current_app.config.get("OMS_WEBHOOK_TIMEOUT", 10))
    return 10.0


def _addresses(host: str) -> list[ipaddress._BaseAddress]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValidationFailed.field("url", f"the host {host} does not resolve") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_url(url: str | None) -> str:
    """The URL if deliveries may go there, else ValidationFailed on ``url``. Resolves the
    host: every address must be public. Sends nothing."""
    return checked_destination(url)[0]


def checked_destination(url: str | None) -> tuple[str, str]:
    """(url, the address to connect to): the send connects to the address that was
    checked, not to a second answer of the DNS (no rebinding between check and send)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL:
        raise ValidationFailed.field("url", f"is required (at most {MAX_URL} characters)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises on a bad port
    except ValueError:
        raise ValidationFailed.field("url", "is not a URL") from None
    host = parts.hostname or ""
    if parts.username or parts.password:
        raise ValidationFailed.field("url", "must not carry a user or password")
    local = parts.scheme == "http" and host == "127.0.0.1" and _allow_local_http()
    if local:
        return url, host
    if parts.scheme != "https" or not host:
        raise ValidationFailed.field("url", "must be an https:// URL (http only to 127.0.0.1 "
                                            "when OMS_WEBHOOKS_ALLOW_LOCAL_HTTP is set)")
    addresses = _addresses(host)
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise ValidationFailed.field(
                "url", f"{host} resolves to {address}, a private, loopback, link-local or "
                       "reserved address: webhooks go to public addresses only")
    return url, str(addresses[0])


def _check_events(events) -> list[str]:
    if not isinstance(events, (list, tuple)) or not events:
        raise ValidationFailed.field("events", "choose at least one event type")
    unknown = sorted({str(e) for e in events} - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed.field("events", f"unknown event types {', '.join(unknown)}; "
                                               f"known: {', '.join(EVENT_TYPES)}")
    return [e for e in EVENT_TYPES if e in events]


# --- subscriptions -------------------------------------------------------------------------------

def _new_secret() -> str:
    return "whsec_" + pysecrets.token_urlsafe(32)


def get(session: Session, pk, *, for_update: bool = False) -> WebhookSubscription:
    try:
        subscription = session.get(WebhookSubscription, int(pk), with_for_update=for_update)
    except (TypeError, ValueError):
        subscription = None
    if subscription is None:
        raise NotFound(f"Webhook subscription {pk} not found")
    return subscription


@transactional
def create(session: Session, url: str, events, actor: Actor) -> tuple[WebhookSubscription, str]:
    """A new active subscription and its secret (the only time it is ever shown)."""
    url, events = check_url(url), _check_events(events)
    secret = _new_secret()
    subscription = WebhookSubscription(url=url, events=events, status="active",
                                       secret_encrypted=secrets.encrypt(secret),
                                       consecutive_failures=0, created_by=actor.label)
    session.add(subscription)
    session.flush()
    audit.record(session, actor, "webhook_subscription", subscription.id, "create",
                 {"url": url, "events": events})
    return subscription, secret


@transactional
def delete(session: Session, pk, actor: Actor) -> None:
    """Remove a subscription; its queued deliveries are discarded."""
    subscription = get(session, pk, for_update=True)
    session.execute(update(OutboxMessage).where(
        OutboxMessage.group_key == _group(subscription.id),
        OutboxMessage.status.in_(("pending", "dead", "uncertain"))).values(status="discarded"))
    audit.record(session, actor, "webhook_subscription", subscription.id, "delete",
                 {"url": subscription.url})
    session.delete(subscription)


@transactional
def rotate(session: Session, pk, actor: Actor,
           grace: timedelta = DEFAULT_GRACE) -> tuple[WebhookSubscription, str]:
    """A new secret (returned once); the old one signs too until the grace period ends."""
    subscription = get(session, pk, for_update=True)
    secret = _new_secret()
    subscription.previous_secret_encrypted = subscription.secret_encrypted
    subscription.previous_secret_until = utcnow() + grace
    subscription.secret_encrypted = secrets.encrypt(secret)
    audit.record(session, actor, "webhook_subscription", subscription.id, "rotate_secret",
                 {"grace_seconds": int(grace.total_seconds())})
    return subscription, secret


@transactional
def pause(session: Session, pk, actor: Actor, reason: str = "paused by hand"):
    subscription = get(session, pk, for_update=True)
    _pause(subscription, reason)
    audit.record(session, actor, "webhook_subscription", subscription.id, "pause",
                 {"reason": reason})
    return subscription


def _pause(subscription: WebhookSubscription, reason: str) -> None:
    if subscription.status == "active":
        subscription.status, subscription.status_reason = "paused", reason[:2000]


@transactional
def resume(session: Session, pk, actor: Actor) -> WebhookSubscription:
    """Active again; what was held goes out in order, the delivery that died first (same
    id, a fresh attempt budget)."""
    subscription = get(session, pk, for_update=True)
    if subscription.status == "active":
        raise Conflict(f"Webhook subscription #{subscription.id} is already active")
    old = subscription.status
    subscription.status, subscription.status_reason = "active", None
    subscription.consecutive_failures = 0
    held = session.execute(update(OutboxMessage).where(
        OutboxMessage.group_key == _group(subscription.id),
        OutboxMessage.status.in_(("pending", "dead", "uncertain")))
        .values(status="pending", attempts=0, next_attempt_at=utcnow())).rowcount
    audit.record(session, actor, "webhook_subscription", subscription.id, "resume",
                 {"status": {"old": old, "new": "active"}, "held_deliveries_resent": held})
    return subscription


@transactional
def send_test(session: Session, pk, actor: Actor) -> int:
    """Queue a ``webhook.test`` event to this subscription (in its order, like any other)."""
    subscription = get(session, pk)
    data = {"subscription_id": subscription.id, "message": "a test event from Waybill"}
    audit.record(session, actor, "webhook_subscription", subscription.id, "send_test", {})
    return _enqueue(session, subscription.id, _event(TEST_EVENT, data))


@transactional
def redeliver(session: Session, pk, delivery_id, actor: Actor) -> int:
    """Send a logged delivery's event again, with the same id (the receiver may drop it)."""
    subscription = get(session, pk)
    delivery = session.get(WebhookDelivery, int(delivery_id))
    if delivery is None or delivery.subscription_id != subscription.id \
            or delivery.outbox_message_id is None:
        raise NotFound(f"Delivery {delivery_id} of webhook subscription {pk} not found")
    message = session.get(OutboxMessage, delivery.outbox_message_id)
    if message is None:
        raise NotFound(f"The event of delivery {delivery_id} is no longer kept")
    audit.record(session, actor, "webhook_subscription", subscription.id, "redeliver",
                 {"event_id": delivery.event_id})
    return _enqueue(session, subscription.id, message.payload["event"])


def listing(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def deliveries(session: Session, pk, limit: int = 100) -> list[WebhookDelivery]:
    return list(session.scalars(select(WebhookDelivery)
                                .where(WebhookDelivery.subscription_id == int(pk))
                                .order_by(WebhookDelivery.id.desc()).limit(limit)))


def held_count(session: Session, pk) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.group_key == _group(int(pk)),
        OutboxMessage.status.in_(("pending", "sending", "dead", "uncertain"))))


# --- events -> deliveries --------------------------------------------------------------------------

def _group(subscription_id: int) -> str:
    return f"webhook:{subscription_id}"


def _event(type_: str, data: dict) -> dict:
    return {"id": str(uuid.uuid4()), "type": type_,
            "created_at": utcnow().isoformat().replace("+00:00", "Z"), "data": data}


def _enqueue(session: Session, subscription_id: int, event: dict) -> int:
    return outbox.enqueue(session, TOPIC, _group(subscription_id),
                          {"subscription_id": subscription_id, "event": event},
                          group_key=_group(subscription_id))


# How an event's object is shown: the REST API's representation, registered by the web
# layer at app start (app/api/webhook_data.py; services never import the web layer).
# Keyed by the event type's first part (order, shipment, stock).
Representation = Callable[[Session, dict], dict]
_representations: dict[str, Representation] = {}


def represent(kind: str, representation: Representation) -> None:
    _representations[kind] = representation


def _data(session: Session, type_: str, payload: dict) -> dict:
    """The object of an event as the REST API shows it, now (in the event's transaction)."""
    representation = _representations.get(type_.partition(".")[0])
    if representation is None:
        return {k: v for k, v in payload.items() if k != "actor"}
    session.flush()
    return representation(session, payload)


def _listening(session: Session) -> list[tuple[int, tuple]]:
    """(id, event types) of the subscriptions that get events, read once per transaction:
    an allocation publishes an event per stock movement and status change."""
    real = session() if isinstance(session, scoped_session) else session
    transaction = real.get_transaction()
    cached = session.info.get("webhook_listeners")
    if cached is None or cached[0] is not transaction:
        rows = session.execute(select(WebhookSubscription.id, WebhookSubscription.events).where(
            WebhookSubscription.status.in_(("active", "paused")))).all()
        cached = (transaction, [(pk, tuple(events or ())) for pk, events in rows])
        session.info["webhook_listeners"] = cached
    return cached[1]


def on_event(type_: str):
    """The subscriber for one event type: one message per subscription that wants it (a
    paused one too: its deliveries wait for resume)."""

    def subscriber(session: Session, payload: dict) -> None:
        wanted = [pk for pk, events in _listening(session) if type_ in events]
        if not wanted:
            return
        data = json.loads(json.dumps(_data(session, type_, payload), default=str))
        for subscription_id in wanted:
            _enqueue(session, subscription_id, _event(type_, data))

    subscriber.__name__ = f"webhook_{type_.replace('.', '_')}"
    return subscriber


def on_events(type_: str):
    """``on_event``'s many form: the deliveries of a batch's events in one statement."""

    def many(session: Session, payloads: list[dict]) -> None:
        wanted = [pk for pk, events in _listening(session) if type_ in events]
        if not wanted:
            return
        messages = []
        for payload in payloads:
            data = json.loads(json.dumps(_data(session, type_, payload), default=str))
            messages += [(_group(pk), {"subscription_id": pk, "event": _event(type_, data)}, None, _group(pk))
                         for pk in wanted]
        outbox.enqueue_many(session, TOPIC, messages)

    return many


_SUBSCRIBERS = {name: (on_event(name), on_events(name)) for name in EVENT_TYPES}


def delivery_died(session: Session, payload: dict) -> None:
    """``outbox.dead`` for a webhook: pause its subscription (the rest wait behind it)."""
    if payload.get("topic") != TOPIC:
        return
    subscription_id = int(str(payload["target"]).rpartition(":")[2])
    subscription = session.get(WebhookSubscription, subscription_id, with_for_update=True)
    if subscription is not None:
        _pause(subscription, f"a delivery failed for good: {payload.get('error')}")


# --- sending ----------------------------------------------------------------------------------------

def signature_header(raw: bytes, timestamp: str, keys: list[str]) -> str:
    """``sha256=<hex>`` per key (new first), comma-separated."""
    return ", ".join("sha256=" + hmac.new(key.encode(), f"{timestamp}.".encode() + raw,
                                          hashlib.sha256).hexdigest() for key in keys)


def _signing_keys(subscription: WebhookSubscription) -> list[str]:
    keys = [secrets.decrypt(subscription.secret_encrypted)]
    until = subscription.previous_secret_until
    if subscription.previous_secret_encrypted and until is not None and until > utcnow():
        keys.append(secrets.decrypt(subscription.previous_secret_encrypted))
    return keys


def deliver(message: Message) -> Sent:
    """The ``webhook.deliver`` handler: sign, POST (no redirects), log the attempt."""
    from app.extensions import db

    event = message.payload["event"]
    with Session(db.engine) as session:
        subscription = session.get(WebhookSubscription, message.payload["subscription_id"])
        if subscription is None:
            return Sent(note="the subscription was deleted: not sent")
        if subscription.status == "disabled":
            return Sent(note="the subscription is disabled (410 Gone): not sent")
        if subscription.status == "paused":
            # Held: tried again hourly (resume sends it at once, with a fresh budget).
            raise RetryableError("the subscription is paused: held", retry_after=3600)
        url, keys = subscription.url, _signing_keys(subscription)
    raw = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    log = {"status_code": None, "excerpt": None, "error": None}
    started = time.monotonic()
    try:
        try:
            url, address = checked_destination(url)
        except ValidationFailed as exc:
            raise PermanentError(f"refused before sending: {exc.message}") from None
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Waybill-Webhooks/1",
                   "X-Waybill-Event": event["type"], "X-Waybill-Timestamp": timestamp,
                   "X-Waybill-Signature": signature_header(raw, timestamp, keys)}
        try:
            response = outbound.post_pinned(url, address, body=raw, headers=headers,
                                            timeout=(5, _timeout()))
        except outbound.NoAnswer as exc:
            raise OutcomeUnknown(str(exc)) from None
        except outbound.Unreachable as exc:
            raise RetryableError(f"the receiver: {exc}") from None
        log["status_code"], log["excerpt"] = response.status_code, response.excerpt
        if time.monotonic() - started > _timeout():
            raise OutcomeUnknown(f"answered after more than {_timeout():g} s")
        if response.status_code == 410:
            raise PermanentError("410 Gone: the subscription is disabled")
        if 300 <= response.status_code < 400:
            raise PermanentError(f"HTTP {response.status_code}: redirects are not followed")
        from app.services.core.idempotency import raise_for_response

        raise_for_response(response.status_code, response.headers, log["excerpt"][:300])
    except (RetryableError, PermanentError) as exc:
        log["error"] = str(exc)[:2000]
        _record(message, event, started, log)
        raise
    _record(message, event, started, log)
    return Sent(remote_id=f"HTTP {log['status_code']}")


def _record(message: Message, event: dict, started: float, log: dict) -> None:
    """The attempt in the delivery log; the subscription's failure count; 410 disables."""
    from app.extensions import db

    ok = log["error"] is None
    with write_intent(), Session(db.engine) as session, session.begin():
        subscription = session.get(WebhookSubscription, message.payload["subscription_id"],
                                   with_for_update=True)
        if subscription is None:
            return
        session.add(WebhookDelivery(
            subscription_id=subscription.id, outbox_message_id=message.id,
            event_id=event["id"], event_type=event["type"], attempt=message.attempts,
            status_code=log["status_code"],
            duration_ms=int((time.monotonic() - started) * 1000),
            outcome="ok" if ok else "failed", response_excerpt=log["excerpt"],
            error=log["error"], created_at=utcnow()))
        subscription.consecutive_failures = 0 if ok else subscription.consecutive_failures + 1
        if log["status_code"] == 410:
            subscription.status = "disabled"
            subscription.status_reason = "the receiver answered 410 Gone"


def register() -> None:
    outbox.register(TOPIC, deliver)
    for name, (subscriber, many) in _SUBSCRIBERS.items():
        domain_events.subscribe(name, subscriber, many=many)
    domain_events.subscribe("outbox.dead", delivery_died)
