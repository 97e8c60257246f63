"""The outbox: notifications and channel pushes written in the same transaction as the
change that causes them, delivered (and retried) by a job."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import UTCDateTime, status_check

OUTBOX_KINDS = ("notification", "channel_push")
OUTBOX_STATUSES = ("pending", "sent", "failed")


class OutboxMessage(Model):
    __tablename__ = "outbox"
    __table_args__ = (
        status_check("kind", OUTBOX_KINDS),
        status_check("status", OUTBOX_STATUSES),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    topic: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("orders.id"), index=True)
    channel_id: Mapped[Optional[int]] = mapped_column(ForeignKey("channels.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
