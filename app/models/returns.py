"""Returns (RMAs) with their lines, and refunds."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import CURRENCY, MONEY, UTCDateTime, non_negative, status_check

# DESIGN.md "Returns": requested -> authorized -> in_transit -> received -> inspected -> closed;
# rejected from requested
RETURN_STATUSES = ("requested", "authorized", "in_transit", "received", "inspected", "closed", "rejected")
RETURN_SOURCES = ("staff", "customer", "channel")
GRADES = ("A", "B", "C", "D")
DISPOSITIONS = ("restock", "refurbish", "scrap", "vendor")  # only restock adds stock
# pending_approval: above the asker's refund limit, waiting for an Admin (approved -> pending,
# or rejected); pending: queued for the channel; sent: the channel has it and has not confirmed
# yet (an Amazon feed); succeeded only when the channel says so; failed: the channel refused it
REFUND_STATUSES = ("pending_approval", "pending", "sent", "succeeded", "failed", "rejected")
REFUND_SOURCES = ("waybill", "channel")  # made here (pushed) or in the channel's admin (read back)


class Return(Model):
    __tablename__ = "returns"
    __table_args__ = (status_check("status", RETURN_STATUSES), status_check("source", RETURN_SOURCES))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    rma_number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="requested", nullable=False)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16), default="staff", server_default="staff", nullable=False)
    rejection_reason: Mapped[Optional[str]] = mapped_column(Text)  # told to the customer
    authorized_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    inspected_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # the return label (bought at authorization when the policy says we pay)
    label_carrier: Mapped[Optional[str]] = mapped_column(String(32))
    label_tracking: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    label_format: Mapped[Optional[str]] = mapped_column(String(8))
    label_data: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    label_cost: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    label_error: Mapped[Optional[str]] = mapped_column(Text)
    # the label's parcel as tracking sees it (fulfilment's tracking pass, like a shipment's):
    # its latest carrier status and when that happened, and when to look again (None: not polled)
    parcel_status: Mapped[Optional[str]] = mapped_column(String(32))
    parcel_event_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    next_track_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    extras: Mapped[Optional[list]] = mapped_column(JSON)  # items that came back but were not on it
    exchange_order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("orders.id"))

    order = relationship("Order", back_populates="returns", foreign_keys=[order_id])
    exchange_order = relationship("Order", foreign_keys=[exchange_order_id])
    lines = relationship("ReturnLine", back_populates="return_", cascade="all, delete-orphan")
    refunds = relationship("Refund", back_populates="return_")

    def __repr__(self) -> str:
        return self.rma_number


class ReturnLine(Model):
    __tablename__ = "return_lines"
    __table_args__ = (*non_negative("quantity", "quantity_received"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id"), nullable=False, index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id"), nullable=False, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    condition: Mapped[Optional[str]] = mapped_column(String(32))
    restock: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    reason_code: Mapped[Optional[str]] = mapped_column(String(32))  # return_reasons.code
    note: Mapped[Optional[str]] = mapped_column(Text)  # the customer's words; damage seen at inspection
    quantity_received: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    grade: Mapped[Optional[str]] = mapped_column(String(1))  # A-D at inspection
    disposition: Mapped[Optional[str]] = mapped_column(String(16))
    warehouse_id: Mapped[Optional[int]] = mapped_column(Integer)  # restocked to

    return_ = relationship("Return", back_populates="lines")
    line = relationship("OrderLine")


class ReturnReason(Model):
    """The reason codes admins keep: asked wherever a return reason is (DESIGN.md "Returns").
    ``our_fault``: shipping is refunded and no restocking fee is taken."""
    __tablename__ = "return_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    our_fault: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    needs_note: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    def __repr__(self) -> str:
        return self.label


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
    # the channel's reason for a failure; an Admin's for a rejection
    error: Mapped[Optional[str]] = mapped_column(Text)
    updated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    order = relationship("Order")
    return_ = relationship("Return", back_populates="refunds")
