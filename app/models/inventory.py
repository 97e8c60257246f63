"""Inventory: warehouses, stock levels per warehouse and product, and the movement ledger."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import (
    JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TimestampMixin, UTCDateTime, non_negative, status_check

MOVEMENT_REASONS = (
    "receipt", "adjustment", "reservation", "release", "shipment", "return", "count",
)


class Warehouse(TimestampMixin, Model):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    address_line1: Mapped[Optional[str]] = mapped_column(String(255))
    city: Mapped[Optional[str]] = mapped_column(String(128))
    postcode: Mapped[Optional[str]] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    latitude: Mapped[Optional[Decimal]] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Optional[Decimal]] = mapped_column(Numeric(9, 6))
    priority: Mapped[int] = mapped_column(Integer, default=100, nullable=False)
    # ISO country codes this warehouse ships to; an empty list means "everywhere".
    ships_to: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # the label printer's format here (PDF 4x6 or ZPL); empty: the carrier account's
    label_format: Mapped[Optional[str]] = mapped_column(String(8))
    # the network label printer ZPL labels are sent to ("host:port", raw TCP; empty: download)
    printer_address: Mapped[Optional[str]] = mapped_column(String(255))
    # the SLA clock's calendar: an IANA zone (cut-off hours are local) and holidays (ISO dates)
    timezone: Mapped[Optional[str]] = mapped_column(String(64))
    holidays: Mapped[Optional[list]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return self.code


class StockLevel(Model):
    """On-hand and reserved units of one product in one warehouse.

    The database itself refuses negative quantities and reserved > on_hand, so no code
    path (nor a race between two) can oversell.
    """

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "product_id"),
        *non_negative("on_hand", "reserved"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), nullable=False, index=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    reserved: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    bin: Mapped[Optional[str]] = mapped_column(String(32))
    updated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    warehouse = relationship("Warehouse")
    product = relationship("Product")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(Model):
    """One line of the stock ledger: every change of on_hand or reserved writes one."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        status_check("reason", MOVEMENT_REASONS),
        Index("ix_stock_movements_level_created", "stock_level_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stock_level_id: Mapped[int] = mapped_column(ForeignKey("stock_levels.id"), nullable=False)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), nullable=False, index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), nullable=False, index=True)
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    reference: Mapped[Optional[str]] = mapped_column(String(128))
    order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("orders.id"), index=True)
    note: Mapped[Optional[str]] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)

    stock_level = relationship("StockLevel")
    warehouse = relationship("Warehouse")
    product = relationship("Product")
    order = relationship("Order")
