"""What Waybill wrote back to a channel and what the channel knows of it (DESIGN.md "Channel
write-back"): one row per shipment pushed as a fulfilment and one per order cancel pushed.
Refunds keep their own channel state on the refund row (returns.Refund)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import UTCDateTime, status_check

PUSH_KINDS = ("fulfillment", "cancel")
# pending: queued; sent: the channel accepted it, not confirmed yet (an Amazon feed);
# confirmed: the channel has it; failed: the channel refused it (``error`` says why);
# cancelled: a pushed fulfilment cancelled on the channel (its label was voided)
PUSH_STATUSES = ("pending", "sent", "confirmed", "failed", "cancelled")


class ChannelPush(Model):
    __tablename__ = "channel_pushes"
    __table_args__ = (
        status_check("kind", PUSH_KINDS),
        status_check("status", PUSH_STATUSES),
        Index("ix_channel_pushes_order", "order_id", "id"),
        Index("uq_channel_pushes_shipment", "kind", "shipment_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    shipment_id: Mapped[Optional[int]] = mapped_column(ForeignKey("shipments.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    remote_id: Mapped[Optional[str]] = mapped_column(String(255))
    tracking_number: Mapped[Optional[str]] = mapped_column(String(64))  # what the channel shows
    lines: Mapped[Optional[list]] = mapped_column(JSON)  # [{"line_id", "external_id", "quantity"}]
    error: Mapped[Optional[str]] = mapped_column(Text)
    outbox_id: Mapped[Optional[int]] = mapped_column(Integer)  # the latest message for it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    order = relationship("Order")
    channel = relationship("Channel")
    shipment = relationship("Shipment")
