"""Typed settings, exchange rates, and the audit log of reference-data changes."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import CURRENCY, RATE, UTCDateTime


class Setting(Model):
    """A stored override of a setting; keys, types and defaults live in services/core/settings.py."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ExchangeRate(Model):
    """How many units of the base currency one unit of ``currency`` is worth, from a date."""

    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("currency", "base_currency", "valid_from"),
        CheckConstraint("rate > 0", name="rate_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(CURRENCY, nullable=False)
    base_currency: Mapped[str] = mapped_column(CURRENCY, nullable=False)
    rate: Mapped[Decimal] = mapped_column(RATE, nullable=False)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    def __repr__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.base_currency}"


class AuditLog(Model):
    """Who changed which reference record (settings, rates, channels, warehouses, ...) and how."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    entity: Mapped[str] = mapped_column(String(48), nullable=False)
    entity_id: Mapped[Optional[str]] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    changes: Mapped[Optional[dict]] = mapped_column(JSON)
