"""Exchange rates and order totals in the base currency.

No rate means no conversion (None) — never a 1:1 guess; the lifecycle holds such orders.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ExchangeRate
from app.models.base import utcnow
from app.services.core import audit
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.transaction import transactional

CENT = Decimal("0.01")


def base_currency() -> str:
    if has_app_context():
        return current_app.config["OMS_BASE_CURRENCY"]
    import config

    return config.OMS_BASE_CURRENCY


@transactional
def set_rate(session: Session, currency: str, rate, actor: Actor,
             valid_from: datetime | None = None) -> ExchangeRate:
    currency = validation.currency(currency)
    rate = validation.decimal(rate, "rate", positive=True)
    base = base_currency()
    if currency == base:
        from app.services.core.errors import ValidationFailed

        raise ValidationFailed.field("currency", f"{base} is the base currency (rate is always 1)")
    valid_from = valid_from or utcnow()
    row = session.scalar(select(ExchangeRate).where(
        ExchangeRate.currency == currency, ExchangeRate.base_currency == base,
        ExchangeRate.valid_from == valid_from))
    old = row.rate if row else None
    if row is None:
        row = ExchangeRate(currency=currency, base_currency=base, valid_from=valid_from)
        session.add(row)
    row.rate, row.updated_by, row.updated_at = rate, actor.label, utcnow()
    session.flush()
    audit.record(session, actor, "exchange_rate", row.id, "create" if old is None else "update",
                 {"currency": currency, "rate": {"old": old, "new": rate},
                  "valid_from": valid_from.isoformat()})
    return row


def rate_for(session: Session, currency: str, at: datetime | None = None) -> Decimal | None:
    base = base_currency()
    if currency == base:
        return Decimal(1)
    query = (select(ExchangeRate.rate)
             .where(ExchangeRate.currency == currency, ExchangeRate.base_currency == base)
             .order_by(ExchangeRate.valid_from.desc()).limit(1))
    if at is not None:
        query = query.where(ExchangeRate.valid_from <= at)
    rate = session.scalar(query)
    if rate is None and at is not None:  # a rate entered after the order: better than none
        rate = rate_for(session, currency)
    return rate


def to_base(session: Session, amount: Decimal | None, currency: str,
            at: datetime | None = None) -> Decimal | None:
    if amount is None:
        return None
    rate = rate_for(session, currency, at)
    return None if rate is None else (amount * rate).quantize(CENT)
