"""Returns (RMAs) with their lines, and refunds."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import CURRENCY, MONEY, UTCDateTime, non_negative, status_check

RETURN_STATUSES = ("requested", "authorized", "received", "refunded", "rejected", "closed")
# pending: queued for the channel; sent: the channel has it and has not confirmed yet (an
# Amazon feed); succeeded only when the channel says so; failed: the channel refused it
REFUND_STATUSES = ("pending", "sent", "succeeded", "failed")
REFUND_SOURCES = ("waybill", "channel")  # made here (pushed) or in the channel's admin (read back)


class Return(Model):
    __tablename__ = "returns"
    __table_args__ = (status_check("status", RETURN_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    rma_number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="requested", nullable=False)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    order = relationship("Order", back_populates="returns")
    lines = relationship("ReturnLine", back_populates="return_", cascade="all, delete-orphan")
    refunds = relationship("Refund", back_populates="return_")

    def __repr__(self) -> str:
        return self.rma_number


class ReturnLine(Model):
    __tablename__ = "return_lines"
    __table_args__ = tuple(non_negative("quantity"))

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id"), nullable=False, index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id"), nullable=False, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    condition: Mapped[Optional[str]] = mapped_column(String(32))
    restock: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    return_ = relationship("Return", back_populates="lines")
    line = relationship("OrderLine")


class Refund(Model):
    __tablename__ = "refunds"
    __table_args__ = (status_check("status", REFUND_STATUSES), status_check("source", REFUND_SOURCES),
                      *non_negative("amount", "shipping"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    return_id: Mapped[Optional[int]] = mapped_column(ForeignKey("returns.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(CURRENCY, nullable=False)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    external_id: Mapped[Optional[str]] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    source: Mapped[str] = mapped_column(String(16), default="waybill", server_default="waybill",
                                        nullable=False)
    lines: Mapped[Optional[list]] = mapped_column(JSON)  # [{"line_id", "quantity"}]
    shipping: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), server_default="0",
                                              nullable=False)
    error: Mapped[Optional[str]] = mapped_column(Text)  # the channel's reason for a failure
    updated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    order = relationship("Order")
    return_ = relationship("Return", back_populates="refunds")
