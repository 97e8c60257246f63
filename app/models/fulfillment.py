"""Fulfillment: pick lists, shipments with their lines and carrier tracking events."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import CURRENCY, MONEY, UTCDateTime, non_negative, status_check

SHIPMENT_STATUSES = (
    "pending", "label_created", "in_transit", "out_for_delivery", "delivered", "exception",
    "returned", "cancelled",
)
PICK_LIST_STATUSES = ("open", "picking", "done", "cancelled")


class PickList(Model):
    __tablename__ = "pick_lists"
    __table_args__ = (status_check("status", PICK_LIST_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    assigned_to: Mapped[Optional[str]] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    warehouse = relationship("Warehouse")


class Shipment(Model):
    __tablename__ = "shipments"
    __table_args__ = (status_check("status", SHIPMENT_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    warehouse_id: Mapped[Optional[int]] = mapped_column(ForeignKey("warehouses.id"), index=True)
    pick_list_id: Mapped[Optional[int]] = mapped_column(ForeignKey("pick_lists.id"), index=True)
    carrier: Mapped[Optional[str]] = mapped_column(String(32))
    service: Mapped[Optional[str]] = mapped_column(String(64))
    tracking_number: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32), default="pending", nullable=False)
    cost: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    currency: Mapped[Optional[str]] = mapped_column(CURRENCY)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    shipped_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    order = relationship("Order", back_populates="shipments")
    warehouse = relationship("Warehouse")
    lines = relationship("ShipmentLine", back_populates="shipment", cascade="all, delete-orphan")
    tracking_events = relationship(
        "TrackingEvent", back_populates="shipment",
        order_by="TrackingEvent.occurred_at.desc()", cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return self.tracking_number or f"shipment {self.id}"


class ShipmentLine(Model):
    __tablename__ = "shipment_lines"
    __table_args__ = tuple(non_negative("quantity"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), nullable=False, index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id"), nullable=False, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    shipment = relationship("Shipment", back_populates="lines")
    line = relationship("OrderLine")


class TrackingEvent(Model):
    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    location: Mapped[Optional[str]] = mapped_column(String(255))

    shipment = relationship("Shipment", back_populates="tracking_events")
