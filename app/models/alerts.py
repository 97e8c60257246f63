"""Internal alerts (DESIGN.md "Customers and staff told"): something staff must look at,
raised and resolved by domain events and jobs, one open alert per (type, key) with a
counter; and where alerts are delivered (a Slack-compatible incoming webhook)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import TimestampMixin, UTCDateTime, non_negative, status_check

# The types of this issue, and those later issues raise (their checks come with them).
ALERT_TYPES = ("channel_sync_failing", "channel_sync_lagging", "outbox_dead",
               "delivery_exception", "sla_at_risk", "low_stock")
ALERT_CHANNEL_KINDS = ("slack",)


class Alert(Model):
    __tablename__ = "alerts"
    __table_args__ = (
        status_check("type", ALERT_TYPES),
        # One open alert per type and key: raised again, it counts.
        Index("ux_alerts_open", "type", "key", unique=True,
              postgresql_where="resolved_at IS NULL", sqlite_where="resolved_at IS NULL"),
        Index("ix_alerts_last_seen", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)  # what it is about
    message: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[Optional[dict]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    notified_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[Optional[str]] = mapped_column(String(128))
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AlertChannel(TimestampMixin, Model):
    """Where alerts go. The webhook URL is a secret (it lets anyone post to the room):
    encrypted at rest, write-only."""

    __tablename__ = "alert_channels"
    __table_args__ = (status_check("kind", ALERT_CHANNEL_KINDS), *non_negative("quiet_minutes"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), default="slack", nullable=False)
    url_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # An open alert seen again is told again only after this many quiet minutes.
    quiet_minutes: Mapped[int] = mapped_column(Integer, default=60, nullable=False)

    def __repr__(self) -> str:
        return self.name
