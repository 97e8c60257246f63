"""Preparing a page's new orders for the bulk import, in Python: what the page reads once
(settings, SKUs, exchange rates: ``PageContext``) and, per order, its row values, lines, holds,
events and status before the pipeline (``prepare``). Nothing here writes."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    ExchangeRate, normalize_sku,
)
from app.models.base import utcnow
from app.models.orders import email_domain_of
from app.services.channels import importing, storable
from app.services.core import fx, settings, validation
from app.services.core.actor import Actor
from app.services.core.jsonable import to_jsonable
from app.services.inventory import catalog
from app.services.orders import addresses, ship_by
from connectors.base import NormalizedAddress, NormalizedOrder


@dataclass
class NewLine:
    row: dict
    product_id: int | None
    quantity: int
    sku: str | None
    title: str
    cancelled: int = 0


@dataclass
class Prepared:
    """One new order, ready to be written (ids filled in when the batch is written)."""

    normalized: NormalizedOrder
    row: dict
    lines: list[NewLine]
    refunds: list[dict]
    customer: tuple  # (e-mail key, name, phone) for customers.find_or_create
    signature: list[tuple] | None = None
    holds: list[tuple[str, str]] = field(default_factory=list)  # (reason, note)
    unknown: list[NewLine] = field(default_factory=list)
    twin: tuple | None = None  # (id, order_number, channel_id) of a suspected duplicate
    events: list[tuple] = field(default_factory=list)  # (type, message, data or callable)


class PageContext:
    """What a page reads once: settings, SKUs, exchange rates."""

    def __init__(self, session: Session, channel, orders: list[NormalizedOrder], actor: Actor):
        self.session, self.channel, self.actor = session, channel, actor
        self.calendar = ship_by.Calendar(session)
        self.payment_hold = settings.get(session, "payment_hold")
        self.duplicate_window = timedelta(minutes=settings.get(session, "duplicate_window_minutes"))
        skus = [line.sku for o in orders for line in (o.lines or ()) if isinstance(line.sku, str)]
        self.products = catalog.resolve_skus(session, channel.id, skus)
        self.base = fx.base_currency()
        currencies = {o.currency.upper() for o in orders if isinstance(o.currency, str)} - {self.base}
        self.rates: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
        if currencies:
            rows = session.execute(
                select(ExchangeRate.currency, ExchangeRate.valid_from, ExchangeRate.rate)
                .where(ExchangeRate.currency.in_(currencies), ExchangeRate.base_currency == self.base)
                .order_by(ExchangeRate.currency, ExchangeRate.valid_from.desc())).all()
            for currency, valid_from, rate in rows:
                self.rates[currency].append((valid_from, rate))

    def rate(self, currency: str, at: datetime | None) -> Decimal | None:
        """fx.rate_for from the rates read once."""
        if currency == self.base:
            return Decimal(1)
        rates = self.rates.get(currency)
        if not rates:
            return None
        if at is not None:
            for valid_from, rate in rates:
                if valid_from <= at:
                    return rate
        return rates[0][1]

    def to_base(self, amount, currency, at) -> Decimal | None:
        if amount is None:
            return None
        rate = self.rate(currency, at)
        return None if rate is None else (amount * rate).quantize(fx.CENT)


def prepare(context: PageContext, normalized: NormalizedOrder, digest: str,
            encoded: str | None = None) -> Prepared:
    """The rows importing._create would write for this order, before ids and stock.
    An order with a value its column cannot hold raises here: it takes the per-order path,
    which quarantines it, and never reaches the batch's multi-row INSERTs."""
    storable.check_order(normalized)
    values = importing._channel_values(normalized)
    shipping = values["shipping_address"] or {}
    promise = normalized.ship_by or context.calendar.ship_by(normalized.placed_at, context.channel,
                                                             normalized.shipping_method)
    currency = normalized.currency.upper()
    for line in normalized.lines:
        if line.sku is not None and len(line.sku) > 128:
            raise ValueError("SKU longer than the column: the per-order path reports it")
    now = utcnow()
    row = dict(
        channel_id=context.channel.id, external_id=str(normalized.external_id),
        order_number=str(normalized.order_number), customer_id=None,
        phone=shipping.get("phone"), ship_country=shipping.get("country"), currency=currency,
        total_base=context.to_base(normalized.total, currency, normalized.placed_at),
        placed_at=normalized.placed_at, channel_updated_at=normalized.updated_at,
        ship_by=promise, priority=0, status="new",
        fulfilled_by_channel=normalized.fulfilled_by_channel,
        fulfillment_status=importing.channel_fulfillment(normalized),
        risk_score=None, cancelled_at=None, cancel_reason=None,
        raw_payload=storable.json_payload(normalized.raw, encoded), payload_hash=digest, local_edits={},
        risk_signals=to_jsonable(normalized.risk or {}), screened_at=None, routing=None,
        ship_address_key=addresses.address_key(values["shipping_address"]),
        email_domain=email_domain_of(values["email"]),
        version=1, created_at=now, updated_at=now, **values,
    )
    lines = []
    for line in normalized.lines:
        title = line.title[:255]
        product_id = context.products.get(normalize_sku(line.sku))
        lines.append(NewLine(
            row=dict(order_id=None, external_id=line.external_id, sku=line.sku, title=title,
                     product_id=product_id, quantity=line.quantity, unit_price=line.unit_price,
                     subtotal=line.subtotal, tax=line.tax, discount=line.discount),
            product_id=product_id, quantity=line.quantity, sku=line.sku, title=title))
    actor = context.actor
    refunds = [dict(order_id=None, return_id=None, amount=r.amount, currency=currency,
                    reason=r.reason, status="succeeded", external_id=r.external_id, source="channel",
                    shipping=0, created_by=actor.label, created_at=importing.refund_time(r, normalized))
               for r in normalized.refunds]
    phone = (normalized.shipping_address or NormalizedAddress()).phone
    prepared = Prepared(normalized=normalized, row=row, lines=lines, refunds=refunds,
                         customer=(values["email"], normalized.customer_name, phone))
    if not normalized.cancelled and not normalized.fulfilled_by_channel:
        prepared.unknown = [l for l in lines if l.product_id is None]
        if prepared.unknown:
            note = validation.text(f"SKU {prepared.unknown[0].sku!r} matches no product", "note",
                                   max_length=2000, required=False)
            prepared.holds.append(("unknown_sku", note))
        if row["financial_status"] == "pending" and context.payment_hold:
            prepared.holds.append(("payment", "not paid yet"))
        if row["email"] and lines:
            prepared.signature = sorted(
                (f"product:{l.product_id}" if l.product_id
                 else f"sku:{normalize_sku(l.sku) or l.title}", l.quantity) for l in lines)
    return prepared


def add_event(prepared: Prepared, type_: str, message, data=None) -> None:
    prepared.events.append((type_, message, data))


def before_pipeline(context: PageContext, prepared: Prepared, now: datetime) -> None:
    """What importing._create does between the insert and pipeline.process: the imported
    event, refunds, a cancellation on first import, the initial holds."""
    row, normalized = prepared.row, prepared.normalized
    channel_code = context.channel.code
    add_event(prepared, "imported", f"Order {row['order_number']} imported from {channel_code}")
    for refund in prepared.refunds:
        add_event(prepared, "refunded", f"Refunded {refund['amount']} {refund['currency']}",
               lambda refund=refund: {"refund_id": refund["id"], "amount": str(refund["amount"])})
    if normalized.cancelled:
        reason = normalized.cancel_reason or "cancelled on the channel"
        for line in prepared.lines:
            line.cancelled += line.quantity
        set_status(prepared, "cancelled", reason)
        row["cancelled_at"], row["cancel_reason"] = now, reason
        add_event(prepared, "cancelled", f"Cancelled: {reason}", {"reason": reason})
        return
    for reason, note in prepared.holds:
        add_event(prepared, "hold_placed", f"Held ({reason})" + (f": {note}" if note else ""),
               {"reason": reason, "note": note})
    if prepared.holds:
        row["updated_at"] = now


def set_status(prepared: Prepared, to: str, reason: str | None = None) -> None:
    old, prepared.row["status"] = prepared.row["status"], to
    message = f"Status {old} → {to}" + (f": {reason}" if reason else "")
    add_event(prepared, "status_changed", message, {"from": old, "to": to, "reason": reason})
