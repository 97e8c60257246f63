"""Customer mails: the domain events that concern a buyer become ``notify.customer`` outbox
messages in the same transaction (payload: ids only); each is rendered when it is sent, so
a template fixed meanwhile applies to the messages still queued.

Events → mails: ``order.created`` → order confirmed (channels that do not send their own),
``shipment.created`` → shipped (carrier, tracking link, the items in this parcel and what is
still to come), ``shipment.tracking_updated`` → out for delivery, delivered, delivery
exception, ``order.cancelled`` → cancelled, ``refund.changed`` to succeeded → refund issued,
``queue_delayed`` (the alerts job) → delayed, once per order when its ship-by passed.

Sending (``deliver``, after ``prepare`` read the whole claim's orders, parcels and templates
at once): with ``OMS_SMTP_URL`` the mail goes over SMTP (connectors.mail: pooled connections,
one per thread sending at once, reused across batches; the ``mail_per_minute`` cap); without it the
mail is kept in the mail log only (the demo). Either way the rendered mail is in the mail
log (``Notification``) as the customer sees it, and the send is on the order's timeline (the
outbox records it). The Message-ID comes from the outbox message's id, the same on every
attempt: a repeat after a crash between the server's "250" and our commit carries the same
Message-ID (DESIGN "Outbox": at least once, with a stable id). A 5xx answer marks the
message dead at once with the server's reason; a 4xx or a lost connection retries.

A channel turns each mail on or off (``ChannelMailSettings.events``; Amazon buyers are mailed
by Amazon only: all off by default). A customer who opted out through the link in every mail
gets no "delayed" mail, but still the transactional ones.
"""
from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Callable

from flask import current_app, has_app_context
from itsdangerous import BadSignature
from sqlalchemy import func, insert, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from app.models import (
    Channel, ChannelMailSettings, MailOptOut, Notification, Order, Refund, Shipment,
)
from app.models.base import utcnow
from app.models.notifications import OutboxMessage
from app.services.core import audit, domain_events, outbox, settings
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.outbox import Message, PermanentError, RetryableError, Sent
from app.services.core.transaction import transactional, write_intent
from app.services.notify import mail_render as render
from app.services.notify import mail_templates as templates
from connectors import mail as smtp

TOPIC = render.TOPIC
# Tracking statuses a customer hears about, and the mail each gets.
TRACKING_MAILS = {"out_for_delivery": "out_for_delivery", "delivered": "delivered",
                  "exception": "delivery_exception", "failed_attempt": "delivery_exception",
                  "returned_to_sender": "delivery_exception"}
# Attachments by event: (session, payload) -> [(filename, mime type, bytes)]. The returns
# issue attaches its label here; a PDF is read at send time, like the rest of the mail.
Attacher = Callable[[Session, dict], list]
_attachers: dict[str, Attacher] = {}


def attach(event: str, attacher: Attacher) -> None:
    _attachers[event] = attacher


# --- per channel --------------------------------------------------------------------------------

def channel_settings(session: Session, channel: Channel) -> ChannelMailSettings:
    """The channel's settings, or the defaults for its kind (not stored)."""
    return session.get(ChannelMailSettings, channel.id) or render.default_settings(channel)


def events_on(session: Session, channel: Channel) -> set[str]:
    found = channel_settings(session, channel)
    if found.events is None:
        return set(templates.EVENTS) - render.DEFAULT_OFF.get(channel.kind, set())
    return set(found.events)


@transactional
def save_channel_settings(session: Session, channel_id, values: dict,
                          actor: Actor) -> ChannelMailSettings:
    channel = session.get(Channel, int(channel_id))
    if channel is None:
        raise NotFound(f"Channel {channel_id} not found")
    row = session.get(ChannelMailSettings, channel.id) or ChannelMailSettings(channel_id=channel.id)
    events = values.get("events", row.events if row.events is not None
                        else sorted(events_on(session, channel)))
    unknown = set(events or ()) - set(templates.EVENTS)
    if unknown:
        raise ValidationFailed.field("events", f"unknown: {', '.join(sorted(unknown))}")
    language = values.get("default_language") or row.default_language or "en"
    if language not in templates.LANGUAGES:
        raise ValidationFailed.field("default_language",
                                     f"must be one of {', '.join(templates.LANGUAGES)}")
    for field in ("sender_address", "reply_to"):
        value = (values.get(field) or "").strip()
        if value and "@" not in value:
            raise ValidationFailed.field(field, "must be an e-mail address")
    for field in ("sender_name", "sender_address", "reply_to", "logo_url"):
        if field in values:
            setattr(row, field, (values[field] or "").strip() or None)
    row.default_language, row.events = language, sorted(set(events or ()))
    session.add(row)
    session.flush()
    audit.record(session, actor, "channel_mail_settings", channel.id, "update",
                 {k: values.get(k) for k in values})
    return row


# --- language and opt-out ----------------------------------------------------------------------

def optout_token(channel_id: int, email: str) -> str:
    return render.optout_url(channel_id, email).rsplit("/", 1)[1]


def read_optout_token(token: str) -> tuple[int, str]:
    try:
        channel_id, email = render.serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        raise ValidationFailed.field("token", "this link is not valid") from None
    return int(channel_id), str(email)


@transactional
def opt_out(session: Session, token: str) -> MailOptOut:
    channel_id, email = read_optout_token(token)
    found = session.scalar(select(MailOptOut).where(MailOptOut.channel_id == channel_id,
                                                    MailOptOut.email == email))
    if found is None:
        found = MailOptOut(channel_id=channel_id, email=email, created_at=utcnow())
        session.add(found)
        session.flush()
        audit.record(session, Actor.system(), "mail_opt_out", found.id, "create",
                     {"channel_id": channel_id})
    return found


def opted_out(session: Session, channel_id: int, email: str) -> bool:
    return session.scalar(select(MailOptOut.id).where(
        MailOptOut.channel_id == channel_id, MailOptOut.email == email.lower())) is not None


# --- queuing (in the transaction of the change) -------------------------------------------------

def queue(session: Session, order_id: int, event: str, *, shipment_id: int | None = None,
          refund_id: int | None = None, return_id: int | None = None, to: str | None = None,
          requested_by: str | None = None) -> int | None:
    """Queue ``event``'s mail for the order (no commit). Automatic mails (no ``to``, no
    ``requested_by``) respect the channel's switch and the customer's opt-out, and are
    queued once per order and cause; a resend is always a new message."""
    order = session.get(Order, order_id)
    if order is None:
        return None
    address = (to or order.email or "").strip()
    resend = requested_by is not None
    if not address or (not resend and not _wanted(session, order.channel_id, event, address, {})):
        return None
    ids = {"shipment_id": shipment_id, "refund_id": refund_id, "return_id": return_id}
    target, payload, dedupe, group, _ = _message(order_id, event, address, ids, to=to, requested_by=requested_by)
    return outbox.enqueue(session, TOPIC, target, payload, dedupe_key=dedupe, group_key=group, order_id=order_id)


def queue_many(session: Session, mails: list[tuple[int, str, dict]]) -> None:
    """Automatic mails of many orders in one statement (a tracking batch): ``mails`` =
    [(order id, event, {"shipment_id": ...})]; the same rules as ``queue``."""
    if not mails:
        return
    orders = {row.id: row for row in session.execute(select(Order.id, Order.email, Order.channel_id).where(
        Order.id.in_({m[0] for m in mails})))}
    channels: dict[int, set] = {}
    messages = []
    for order_id, event, ids in mails:
        order = orders.get(order_id)
        address = (order.email or "").strip() if order is not None else ""
        if address and _wanted(session, order.channel_id, event, address, channels):
            messages.append(_message(order_id, event, address, ids))
    outbox.enqueue_many(session, TOPIC, messages)


def _wanted(session: Session, channel_id: int, event: str, address: str, channels: dict) -> bool:
    """An automatic mail goes when its channel sends it and, for a marketing mail, the
    customer has not opted out. ``channels``: the channels' switches read so far."""
    if channel_id not in channels:
        channels[channel_id] = events_on(session, session.get(Channel, channel_id))
    if event not in channels[channel_id]:
        return False
    return event not in templates.MARKETING_EVENTS or not opted_out(session, channel_id, address)


def _message(order_id: int, event: str, address: str, ids: dict, *, to: str | None = None,
             requested_by: str | None = None) -> tuple:
    """(target, payload, dedupe key, group key, order id) of a mail's outbox message."""
    payload = {"event": event, "order_id": order_id}
    payload.update((key, value) for key, value in ids.items() if value is not None)
    if to:
        payload["to"] = address  # cannot be re-read: a resend to another address
    if requested_by:
        payload["requested_by"] = requested_by
    cause = ids.get("shipment_id") or ids.get("refund_id") or ids.get("return_id") or ""
    dedupe = None if requested_by is not None else f"mail:{event}:{order_id}:{cause}"
    return f"mail:{address}"[:128], payload, dedupe, f"mail:order:{order_id}", order_id


def on_order_created(session: Session, payload: dict) -> None:
    queue(session, payload["order_id"], "order_confirmed")


def on_shipment_created(session: Session, payload: dict) -> None:
    queue(session, payload["order_id"], "shipped", shipment_id=payload["shipment_id"])


def on_tracking_updated(session: Session, payload: dict) -> None:
    event = TRACKING_MAILS.get(payload.get("status") or "")
    if event:
        queue(session, payload["order_id"], event, shipment_id=payload["shipment_id"])


def on_tracking_updated_many(session: Session, payloads: list[dict]) -> None:
    queue_many(session, [(p["order_id"], TRACKING_MAILS[p.get("status") or ""], {"shipment_id": p["shipment_id"]})
                         for p in payloads if (p.get("status") or "") in TRACKING_MAILS])


def on_order_cancelled(session: Session, payload: dict) -> None:
    queue(session, payload["order_id"], "cancelled")


def on_refund_changed(session: Session, payload: dict) -> None:
    refund = session.get(Refund, payload["refund_id"]) if payload.get("refund_id") else None
    status = payload.get("status") or (refund.status if refund else None)
    if refund is not None and status == "succeeded":
        queue(session, refund.order_id, "refund_issued", refund_id=refund.id)


@transactional
def queue_delayed(session: Session, limit: int = 500) -> int:
    """Orders whose ship-by passed and that have not left: one "delayed" mail each."""
    now = utcnow()
    already = select(OutboxMessage.order_id).where(
        OutboxMessage.topic == TOPIC, OutboxMessage.dedupe_key.like("mail:delayed:%"))
    ids = session.scalars(select(Order.id).where(
        Order.ship_by < now, Order.status.in_(("new", "allocated", "partially_allocated",
                                                "backordered", "picking", "packed")),
        Order.id.not_in(already)).order_by(Order.ship_by).limit(limit)).all()
    return sum(1 for order_id in ids if queue(session, order_id, "delayed") is not None)


@transactional
def resend(session: Session, order_id, actor: Actor, *, notification_id=None,
           event: str | None = None, to: str | None = None) -> int:
    """Support sends a mail again — a logged one (``notification_id``) or the latest of an
    ``event`` — to the customer or to ``to``; rendered afresh when sent."""
    order = session.get(Order, int(order_id))
    if order is None:
        raise NotFound(f"Order {order_id} not found")
    ids = {}
    if notification_id is not None:
        logged = session.get(Notification, int(notification_id))
        if logged is None or logged.order_id != order.id:
            raise ValidationFailed.field("notification_id", "no such mail on this order")
        event = logged.event
        original = session.get(OutboxMessage, logged.outbox_id) if logged.outbox_id else None
        for key in ("shipment_id", "refund_id"):
            if original is not None and key in original.payload:
                ids[key] = original.payload[key]
    if event not in templates.EVENTS:
        raise ValidationFailed.field("event", f"must be one of {', '.join(templates.EVENTS)}")
    if to is not None and ("@" not in to or len(to) > 254):
        raise ValidationFailed.field("to", "must be an e-mail address")
    if not (to or order.email):
        raise ValidationFailed.field("to", "the order has no e-mail address: give one")
    if event in {"shipped", *TRACKING_MAILS.values()} and "shipment_id" not in ids:
        shipment = session.scalar(select(Shipment.id).where(Shipment.order_id == order.id)
                                  .order_by(Shipment.id.desc()).limit(1))
        if shipment is None:
            raise ValidationFailed.field("event", "the order has no shipment")
        ids["shipment_id"] = shipment
    message_id = queue(session, order.id, event, to=to, requested_by=actor.label, **ids)
    audit.record(session, actor, "order", order.id, "resend_mail",
                 {"event": event, "to": to or "customer", "outbox_id": message_id})
    return message_id


# --- rendering (at send time: mail_render) -----------------------------------------------------

def prepare(messages: list[Message]) -> dict:
    """The contexts of a claim's mails, read together (core.outbox ``prepare``)."""
    from app.extensions import db

    started = time.perf_counter()
    with Session(db.engine) as session:
        found = render.contexts_by_id(session, messages)
    timing.add("render", time.perf_counter() - started)
    return found


def build(message: Message):
    """(the rendered parts, the mail) of one outbox message: its context as ``prepare``
    read it with its claim, else read now; its attachments read now."""
    from app.extensions import db

    payload, context = message.payload, message.prepared
    attacher = _attachers.get(payload["event"])
    if context is None or attacher is not None:
        with Session(db.engine) as session:
            if context is None:
                context = render.context_for(session, payload)
            attachments = attacher(session, payload) if attacher else ()
    else:
        attachments = ()
    if isinstance(context, Exception):
        raise context
    return render.build(context, payload["event"], message.message_id, attachments)


# --- sending ------------------------------------------------------------------------------------

_cap = smtp.RateCap(0)
_cap_checked = [0.0]
_cap_lock = threading.Lock()


def _rate_cap() -> smtp.RateCap:
    """The ``mail_per_minute`` setting, read at most every 10 s (a hot path)."""
    with _cap_lock:
        if time.monotonic() - _cap_checked[0] > 10:
            from app.extensions import db

            with Session(db.engine) as session:
                _cap.per_minute = settings.get(session, "mail_per_minute")
            _cap_checked[0] = time.monotonic()
    return _cap


def smtp_config() -> smtp.SmtpConfig | None:
    url = current_app.config.get("OMS_SMTP_URL") if has_app_context() else None
    return _parsed(url) if url else None


@lru_cache(maxsize=8)
def _parsed(url: str) -> smtp.SmtpConfig:
    return smtp.parse_url(url)  # once per URL, not per mail


def transmit(mail: smtp.OutgoingMail) -> tuple[str, str | None]:
    """Send over SMTP when configured: ("sent", None), ("failed", reason) on a 5xx, or
    ("logged", None) without SMTP; RetryableError when it may pass later."""
    config = smtp_config()
    if config is None:
        return "logged", None
    cap = _rate_cap()
    started = time.perf_counter()
    try:
        smtp.send(config, mail, cap=cap)
        return "sent", None
    except smtp.MailRefused as exc:
        return "failed", str(exc)
    except smtp.MailDeferred as exc:
        raise RetryableError(str(exc), retry_after=exc.retry_after) from None
    finally:
        timing.add("smtp", time.perf_counter() - started)


def deliver(message: Message) -> Sent:
    """The ``notify.customer`` handler: render now, send (or keep), log — the log row is
    written with the outbox's "sent" mark, in one transaction."""
    from app.extensions import db

    started = time.perf_counter()
    rendered, mail = build(message)
    timing.add("render", time.perf_counter() - started)
    status, error = transmit(mail)
    row = log_row(message, rendered, mail, status, error, event=message.payload["event"])
    return outcome(db.engine, mail, row)


def log_row(message: Message, rendered, mail: smtp.OutgoingMail, status: str,
            error: str | None, *, event: str) -> dict:
    now = utcnow()
    return dict(order_id=message.order_id, outbox_id=message.id,
                to_address=str(mail["To"])[:254], event=event[:48],
                language=mail["Content-Language"] or "en", subject=rendered.subject[:255],
                text_body=rendered.text, html_body=rendered.html, status=status,
                message_id=mail["Message-ID"], error=error, created_at=now,
                sent_at=now if status == "sent" else None)


def outcome(engine, mail: smtp.OutgoingMail, row: dict) -> Sent:
    """Sent (the log row goes with the outbox's record), or dead at once on a refusal (the
    log row written now, with the server's reason)."""
    if row["error"]:
        with write_intent(), engine.begin() as connection:
            connection.execute(insert(Notification.__table__), row)
        raise PermanentError(f"the mail server refused the mail: {row['error']}")
    return Sent(remote_id=mail["Message-ID"], record=(Notification.__table__, row),
                note=None if row["status"] == "sent"
                else "kept in the mail log (no SMTP configured)")


class _Timing:
    """Seconds spent rendering and talking SMTP in this process (bench/notify.py)."""

    def __init__(self):
        self.lock, self.totals = threading.Lock(), {"render": 0.0, "smtp": 0.0}

    def add(self, what: str, seconds: float) -> None:
        with self.lock:
            self.totals[what] += seconds

    def reset(self) -> None:
        with self.lock:
            self.totals = {"render": 0.0, "smtp": 0.0}


timing = _Timing()


# --- the mail log -------------------------------------------------------------------------------

def log_for_order(session: Session, order_id: int, limit: int = 50) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.order_id == order_id)
                                .order_by(Notification.id.desc()).limit(limit)))


def counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Notification.status, func.count())
                                .group_by(Notification.status)).all())


def register() -> None:
    outbox.register(TOPIC, deliver, prepare=prepare)
    domain_events.subscribe("order.created", on_order_created)
    domain_events.subscribe("shipment.created", on_shipment_created)
    domain_events.subscribe("shipment.tracking_updated", on_tracking_updated, many=on_tracking_updated_many)
    domain_events.subscribe("order.cancelled", on_order_cancelled)
    domain_events.subscribe("refund.changed", on_refund_changed)

