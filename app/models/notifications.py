"""The outbox (DESIGN.md "Outbox"): every effect on the outside world is a message written
in the same transaction as the change that causes it and delivered, retried and shown by
app/services/core/outbox.py."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import UTCDateTime, status_check

# pending -> sending -> sent; back to pending (next_attempt_at) after a failure that may
# pass; dead after N attempts or a failure that cannot pass; uncertain when the outcome of
# a send is unknown and its topic must not be repeated by itself (a label purchase): a
# person decides. discarded: a person dropped it.
OUTBOX_STATUSES = ("pending", "sending", "sent", "dead", "uncertain", "discarded")
# Not yet sent and not dropped: one per dedupe key, and they hold back later messages of
# their group (a refund must not overtake the fulfilment it depends on).
OUTBOX_OPEN_STATUSES = ("pending", "sending", "dead", "uncertain")
OPEN_PREDICATE = "status IN ('pending', 'sending', 'dead', 'uncertain')"
_OPEN = OPEN_PREDICATE


class OutboxMessage(Model):
    __tablename__ = "outbox"
    __table_args__ = (
        status_check("status", OUTBOX_STATUSES),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ux_outbox_dedupe_open", "dedupe_key", unique=True,
              postgresql_where=_OPEN, sqlite_where=_OPEN),
        Index("ix_outbox_group_open", "group_key", "id",
              postgresql_where=_OPEN, sqlite_where=_OPEN),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The stable id the receiver sees on every attempt of this message (webhook event id,
    # Message-ID, idempotency key): a repeat after a crash carries the same one.
    message_id: Mapped[str] = mapped_column(String(36), nullable=False)
    topic: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(128), nullable=False)
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(255))
    group_key: Mapped[Optional[str]] = mapped_column(String(255))
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("orders.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    remote_id: Mapped[Optional[str]] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(64))
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    order = relationship("Order")

    def __repr__(self) -> str:
        return f"outbox #{self.id} {self.topic} → {self.target}"
