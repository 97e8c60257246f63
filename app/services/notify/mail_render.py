"""Rendering customer mails at send time, in batches: what a template sees (the order, its
parcel, what is still to come, the refund, the channel's mail settings), read for many
messages in a handful of queries, then the mail around the rendered parts.

Why batches: a send pass claims up to a few hundred mails at once; read one by one, each
mail costs eight queries and the database round trips dominate. ``contexts_by_id`` reads
the data of a whole claim (the topic's ``prepare``, core.outbox), just before its mails
are sent: a fixed template or a changed parcel applies to every mail still queued.
"""
from __future__ import annotations

from collections import defaultdict
from email.utils import formataddr, formatdate

from flask import current_app, has_app_context
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Channel, ChannelMailSettings, MailTemplate, Order, OrderLine, Refund, Return, Shipment, ShipmentLine,
)
from app.services.core.outbox import PermanentError
from app.services.notify import mail_templates as templates
from app.services.returns import policy, self_service
from connectors import mail as smtp

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
# What a template sees of an order, read as plain rows (an order has eight JSON columns
# and an ORM object per order cost more than the rest of the reading).
ORDER_FIELDS = (Order.id, Order.channel_id, Order.order_number, Order.email, Order.customer_name,
                Order.placed_at, Order.ship_by, Order.total, Order.currency, Order.cancel_reason,
                Order.raw_payload)


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
    """Everything the payloads need, in one query per table (orders, lines, parcels as
    plain rows)."""
    order_ids = {p["order_id"] for p in payloads}
    orders = {o.id: o for o in session.execute(select(*ORDER_FIELDS)
                                               .where(Order.id.in_(order_ids)))}
    channel_ids = {o.channel_id for o in orders.values()}
    shipment_ids = {p["shipment_id"] for p in payloads if p.get("shipment_id")}
    refund_ids = {p["refund_id"] for p in payloads if p.get("refund_id")}
    return_ids = {p["return_id"] for p in payloads if p.get("return_id")}
    line = (OrderLine.order_id, OrderLine.id, OrderLine.sku, OrderLine.title)
    channels = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(channel_ids)))}
    return {
        "orders": orders,
        "channels": channels,
        "settings": _settings(session, channels),
        "lines": _by(session.execute(select(
            *line, OrderLine.quantity,
            (OrderLine.quantity - OrderLine.quantity_cancelled - OrderLine.quantity_shipped)
            .label("open")).where(OrderLine.order_id.in_(order_ids))
            .order_by(OrderLine.id)).all(), "order_id"),
        "shipments": {s.id: s for s in session.execute(
            select(Shipment.id, Shipment.carrier, Shipment.tracking_number, Shipment.status)
            .where(Shipment.id.in_(shipment_ids)))} if shipment_ids else {},
        "parcels": _by(session.execute(select(
            ShipmentLine.shipment_id, *line, ShipmentLine.quantity)
            .join(OrderLine, ShipmentLine.order_line_id == OrderLine.id)
            .where(ShipmentLine.shipment_id.in_(shipment_ids))
            .order_by(OrderLine.id)).all(), "shipment_id") if shipment_ids else {},
        "refunds": {r.id: r for r in session.scalars(
            select(Refund).where(Refund.id.in_(refund_ids)))} if refund_ids else {},
        "templates": {(t.event, t.language, t.channel_id): t
                      for t in session.scalars(select(MailTemplate))},
        "returns": {r.id: r for r in session.scalars(
            select(Return).where(Return.id.in_(return_ids)))} if return_ids else {},
    }


def _settings(session: Session, channels: dict) -> dict:
    """Each channel's mail settings, stored or its defaults (made once, not per mail)."""
    stored = {s.channel_id: s for s in session.scalars(
        select(ChannelMailSettings).where(ChannelMailSettings.channel_id.in_(list(channels))))}
    return {pk: stored.get(pk) or default_settings(channel) for pk, channel in channels.items()}


def _context(payload: dict, data: dict) -> dict:
    order = data["orders"].get(payload["order_id"])
    if order is None:
        raise PermanentError(f"order {payload['order_id']} is gone")
    channel = data["channels"][order.channel_id]
    settings = data["settings"][channel.id]
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
                      "_template": _template(data["templates"], payload["event"], language,
                                             channel.id)}


def _template(stored: dict, event: str, language: str, channel_id: int) -> templates.Compiled:
    """Compiled once per version (templates.compiled): per mail, two dict lookups."""
    row = templates.pick(stored, event, language, channel_id)
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


# --- a claim of the send pass at once ----------------------------------------------------------

def contexts_by_id(session: Session, messages) -> dict:
    """{message id: its context, or the exception that message gets} for a claim's
    messages, read in one query per table (the ``notify.customer`` topic's ``prepare``)."""
    data = _read(session, [m.payload for m in messages])
    found = {}
    for message in messages:
        try:
            found[message.id] = _context(message.payload, data)
        except Exception as exc:  # noqa: BLE001 — that message's own failure
            found[message.id] = exc
    return found


# --- the message ---------------------------------------------------------------------------------

def build(context: dict, event: str, message_id: str, attachments=()):
    """(the rendered parts, the mail ready for the wire) for one context."""
    rendered = templates.render(context["_template"], context)
    headers = {"From": context["_sender"], "To": context["_to"], "Subject": rendered.subject,
               "Message-ID": message_id_for(message_id, context["_sender"]),
               "Date": formatdate(usegmt=True), "Reply-To": context["_reply_to"] or None,
               "List-Unsubscribe": f"<{context['optout_url']}>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",  # RFC 8058
               "Content-Language": context["language"]}
    return rendered, smtp.compose(headers, rendered.text, rendered.html, attachments)
