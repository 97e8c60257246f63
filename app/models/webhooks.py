"""Outbound webhooks (DESIGN.md "Customers and staff told"): an admin subscribes a URL to
event types; each delivery is signed with the subscription's secret (encrypted at rest) and
goes through the outbox; every attempt is logged."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import TimestampMixin, UTCDateTime, non_negative, status_check

# active: deliveries go out; paused: they are held (queued behind the one that died);
# disabled: the receiver answered 410 Gone, nothing is queued any more.
SUBSCRIPTION_STATUSES = ("active", "paused", "disabled")


class WebhookSubscription(TimestampMixin, Model):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (status_check("status", SUBSCRIPTION_STATUSES),
                      *non_negative("consecutive_failures"))

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    events: Mapped[list] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    status_reason: Mapped[Optional[str]] = mapped_column(Text)
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    # After a rotation the old secret signs too until previous_secret_until.
    previous_secret_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    previous_secret_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_by: Mapped[Optional[str]] = mapped_column(String(128))

    def __repr__(self) -> str:
        return f"webhook #{self.id}"


class WebhookDelivery(Model):
    """One attempt of one delivery, as the receiver answered it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False)
    outbox_message_id: Mapped[Optional[int]] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(36), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    status_code: Mapped[Optional[int]] = mapped_column(Integer)
    duration_ms: Mapped[Optional[int]] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)  # ok, failed, refused
    response_excerpt: Mapped[Optional[str]] = mapped_column(Text)  # the first 1 KB
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
