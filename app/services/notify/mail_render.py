"""Rendering customer mails at send time, in batches: what a template sees (the order, its
parcel, what is still to come, the refund, the channel's mail settings), read for many
messages in a handful of queries, then the MIME message around the rendered parts.

Why batches: a send pass claims up to a few hundred mails at once; read one by one, each
mail costs eight queries and the database round trips dominate. ``Prefetch`` reads the
data of the messages the pass is sending (status ``sending``, from this one on) the first
time a worker thread asks, and hands each thread its own: still read when the mail is
sent (milliseconds before), so a fixed template or a changed parcel applies.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from email.charset import QP, Charset
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate

from flask import current_app, has_app_context
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Channel, ChannelMailSettings, MailTemplate, Order, OrderLine, Refund, Return, Shipment, ShipmentLine,
)
from app.models.notifications import OutboxMessage
from app.services.core.outbox import PermanentError
from app.services.notify import mail_templates as templates
from app.services.returns import policy, self_service

TOPIC = "notify.customer"
DEFAULT_FROM = "Waybill <no-reply@localhost>"
# Channels that mail their buyers themselves: Amazon forbids outside mail (its buyer-seller
# messaging only), so every mail is off there by default; the shops send their own
# order confirmation.
DEFAULT_OFF = {"amazon": set(templates.EVENTS),
               "shopify": {"order_confirmed"}, "woocommerce": {"order_confirmed"},
               "ebay": {"order_confirmed"}}
TRACKING_URLS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}",
}
PREFETCH = 100  # messages read ahead per query round


# --- settings, language, links --------------------------------------------------------------

def default_settings(channel: Channel) -> ChannelMailSettings:
    """A channel's settings before anyone saved them (not stored)."""
    off = DEFAULT_OFF.get(channel.kind, set())
    return ChannelMailSettings(channel_id=channel.id, default_language="en",
                               events=[e for e in templates.EVENTS if e not in off])


def language_of(raw: dict | None, default_language: str | None) -> str:
    """The order's language as its channel sent it (Shopify ``customer_locale``, a
    ``language`` or ``locale`` field), else the channel's default."""
    raw = raw if isinstance(raw, dict) else {}
    for key in ("customer_locale", "language", "locale", "buyer_language"):
        value = raw.get(key)
        if isinstance(value, str) and value[:2].lower() in templates.LANGUAGES:
            return value[:2].lower()
    return default_language or "en"


def serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="mail-opt-out")


def optout_url(channel_id: int, email: str) -> str:
    base = current_app.config.get("OMS_PUBLIC_URL") or "http://localhost:8080"
    token = serializer().dumps([channel_id, email.lower()])
    return f"{base.rstrip('/')}/mail/unsubscribe/{token}"


def default_from() -> str:
    return (current_app.config.get("OMS_MAIL_FROM") if has_app_context() else None) \
        or DEFAULT_FROM


def message_id_for(outbox_message_id: str, sender: str) -> str:
    """The Message-ID of every attempt of one outbox message (a repeat carries it)."""
    domain = sender.rsplit("@", 1)[-1].strip(">").strip() or "waybill"
    return f"<waybill.{outbox_message_id}@{domain}>"


# --- reading many at once -------------------------------------------------------------------------

def _by(rows, key) -> dict:
    grouped = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def _items(rows) -> list[dict]:
    return [{"sku": r.sku, "title": r.title, "quantity": r.quantity} for r in rows]


def _read(session: Session, payloads: list[dict]) -> dict:
    """Everything the payloads need, in one query per table."""
    order_ids = {p["order_id"] for p in payloads}
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    channel_ids = {o.channel_id for o in orders.values()}
    shipment_ids = {p["shipment_id"] for p in payloads if p.get("shipment_id")}
    refund_ids = {p["refund_id"] for p in payloads if p.get("refund_id")}
    return_ids = {p["return_id"] for p in payloads if p.get("return_id")}
    line = (OrderLine.order_id, OrderLine.id, OrderLine.sku, OrderLine.title)
    return {
        "orders": orders,
        "channels": {c.id: c for c in session.scalars(
            select(Channel).where(Channel.id.in_(channel_ids)))},
        "settings": {s.channel_id: s for s in session.scalars(
            select(ChannelMailSettings).where(ChannelMailSettings.channel_id.in_(channel_ids)))},
        "lines": _by(session.execute(select(
            *line, OrderLine.quantity,
            (OrderLine.quantity - OrderLine.quantity_cancelled - OrderLine.quantity_shipped)
            .label("open")).where(OrderLine.order_id.in_(order_ids))
            .order_by(OrderLine.id)).all(), "order_id"),
        "shipments": {s.id: s for s in session.scalars(
            select(Shipment).where(Shipment.id.in_(shipment_ids)))} if shipment_ids else {},
        "parcels": _by(session.execute(select(
            ShipmentLine.shipment_id, *line, ShipmentLine.quantity)
            .join(OrderLine, ShipmentLine.order_line_id == OrderLine.id)
            .where(ShipmentLine.shipment_id.in_(shipment_ids))
            .order_by(OrderLine.id)).all(), "shipment_id") if shipment_ids else {},
        "refunds": {r.id: r for r in session.scalars(
            select(Refund).where(Refund.id.in_(refund_ids)))} if refund_ids else {},
        "templates": {(t.event, t.language): t for t in session.scalars(select(MailTemplate))},
        "returns": {r.id: r for r in session.scalars(
            select(Return).where(Return.id.in_(return_ids)))} if return_ids else {},
    }


def _context(payload: dict, data: dict) -> dict:
    order = data["orders"].get(payload["order_id"])
    if order is None:
        raise PermanentError(f"order {payload['order_id']} is gone")
    channel = data["channels"][order.channel_id]
    settings = data["settings"].get(channel.id) or default_settings(channel)
    language = language_of(order.raw_payload, settings.default_language)
    lines = data["lines"].get(order.id, [])
    sender_name = settings.sender_name or channel.name
    context = {
        "language": language, "customer_name": order.customer_name or order.email or "",
        "sender_name": sender_name, "logo_url": settings.logo_url or "",
        "optout_label": templates.OPTOUT_LABELS.get(language, templates.OPTOUT_LABELS["en"]),
        "optout_url": optout_url(channel.id, order.email or payload.get("to") or ""),
        "order": {"number": order.order_number, "placed_at": order.placed_at,
                  "ship_by": order.ship_by, "total": order.total, "currency": order.currency,
                  "email": order.email, "lines": _items(lines)},
        "items": _items(lines), "remaining": [], "reason": order.cancel_reason or "",
        "shipment": {}, "refund": {}, "ret": {},
        # the signed link to the self-service return page (not for channel-run returns)
        "return_url": "" if channel.kind in policy.SELF_SERVICE_EXCLUDED_KINDS else self_service.start_url(order.id),
        **templates.formatters(language, order.currency),
    }
    shipment = data["shipments"].get(payload.get("shipment_id"))
    if shipment is not None:
        number, carrier = shipment.tracking_number or "", (shipment.carrier or "").lower()
        context["shipment"] = {
            "carrier": (shipment.carrier or "").upper(), "tracking_number": number,
            "status": shipment.status,
            "tracking_url": TRACKING_URLS[carrier].format(number)
            if number and carrier in TRACKING_URLS else ""}
        context["items"] = _items(data["parcels"].get(shipment.id, []))
        context["remaining"] = [{"sku": r.sku, "title": r.title, "quantity": r.open}
                                for r in lines if r.open > 0]
    refund = data["refunds"].get(payload.get("refund_id"))
    if refund is not None:
        context["refund"] = {"amount": refund.amount, "method": refund.reason or ""}
        context.update(templates.formatters(language, refund.currency))
    ret = data["returns"].get(payload.get("return_id"))
    if ret is not None:
        items = [{"sku": rl.line.sku, "title": rl.line.title, "quantity": rl.quantity} for rl in ret.lines]
        context["ret"] = {"rma_number": ret.rma_number, "status": ret.status,
                          "rejection_reason": ret.rejection_reason or "", "label_carrier": ret.label_carrier or "",
                          "label_tracking": ret.label_tracking or "", "has_label": bool(ret.label_data),
                          "items": items}
        context["items"] = items
    sender = formataddr((sender_name, settings.sender_address)) if settings.sender_address \
        else default_from()
    return context | {"_sender": sender, "_reply_to": settings.reply_to,
                      "_to": payload.get("to") or order.email,
                      "_template": _template(data["templates"], payload["event"], language)}


def _template(stored: dict, event: str, language: str) -> templates.Compiled:
    row = stored.get((event, language))
    if row is not None:
        parts = {"subject": row.subject, "html": row.html, "text": row.text}
        return templates.compiled(parts, (event, language, row.id, row.updated_at))
    parts = templates.DEFAULTS.get((event, language)) or templates.DEFAULTS[(event, "en")]
    return templates.compiled(parts, (event, language, "default"))


def contexts_for(session: Session, payloads: list[dict]) -> list[dict]:
    data = _read(session, payloads)
    return [_context(payload, data) for payload in payloads]


def context_for(session: Session, payload: dict) -> dict:
    return contexts_for(session, [payload])[0]


# --- read ahead for the send pass ----------------------------------------------------------------

class Prefetch:
    """Contexts of the messages being sent, read for up to ``PREFETCH`` at a time."""

    def __init__(self, max_age: float = 30.0):
        self.lock = threading.Lock()
        self.ready: dict[int, tuple[float, dict | Exception]] = {}
        self.max_age = max_age

    def take(self, session: Session, outbox_id: int, payload: dict) -> dict:
        with self.lock:
            found = self.ready.pop(outbox_id, None)
            if found is None or time.monotonic() - found[0] > self.max_age:
                found = (time.monotonic(), self._load(session, outbox_id, payload))
        if isinstance(found[1], Exception):
            raise found[1]
        return found[1]

    def _load(self, session: Session, outbox_id: int, payload: dict):
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.payload)
            .where(OutboxMessage.topic == TOPIC, OutboxMessage.status == "sending",
                   OutboxMessage.id > outbox_id)
            .order_by(OutboxMessage.id).limit(PREFETCH - 1)).all()
        ids, payloads = [outbox_id] + [r.id for r in rows], [payload] + [r.payload for r in rows]
        data = _read(session, payloads)
        now = time.monotonic()
        self.ready = {k: v for k, v in self.ready.items() if now - v[0] <= self.max_age}
        mine = None
        for pk, each in zip(ids, payloads):
            try:
                context = _context(each, data)
            except Exception as exc:  # noqa: BLE001 — that message's own failure
                context = exc
            if pk == outbox_id:
                mine = context
            else:
                self.ready[pk] = (now, context)
        return mine


# --- the message ---------------------------------------------------------------------------------

_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in the raw mail, unlike base64


def _header(value: str):
    """ASCII as it is, anything else RFC 2047-encoded."""
    return value if value.isascii() else Header(value, "utf-8")


def build(context: dict, event: str, message_id: str, attachments=()):
    """(the rendered parts, the MIME message) for one context. The classic ``email.mime``
    classes, not ``EmailMessage``: its header registry builds a class per header set and
    took more time than the rest of the rendering."""
    rendered = templates.render(context["_template"], context)
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(rendered.text, "plain", _UTF8_QP))
    body.attach(MIMEText(rendered.html, "html", _UTF8_QP))
    if attachments:
        mail = MIMEMultipart("mixed")
        mail.attach(body)
        for filename, mime, data in attachments:
            maintype, subtype = mime.split("/", 1)
            part = MIMEApplication(data, subtype) if maintype == "application" \
                else MIMEText(data.decode(), subtype, "utf-8")
            part.add_header("Content-Disposition", "attachment", filename=filename)
            mail.attach(part)
    else:
        mail = body
    mail["From"], mail["To"] = context["_sender"], context["_to"]
    mail["Subject"] = _header(rendered.subject)
    mail["Message-ID"] = message_id_for(message_id, context["_sender"])
    mail["Date"] = formatdate(usegmt=True)
    if context["_reply_to"]:
        mail["Reply-To"] = context["_reply_to"]
    mail["List-Unsubscribe"] = f"<{context['optout_url']}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    mail["Content-Language"] = context["language"]
    return rendered, mail
