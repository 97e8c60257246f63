"""Carriers II: shipping rules and the channel shipping-method mapping (rate shopping), the
carriers each warehouse may use, box presets per warehouse, and carrier manifests."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import MONEY, TimestampMixin, UTCDateTime, non_negative, status_check

SERVICE_LEVELS = ("standard", "expedited", "express", "economy")
RULE_STRATEGIES = ("cheapest", "fastest")
MANIFEST_KINDS = ("scan_form", "ground_close", "local")
# pending: the carrier's close is in the outbox; refused: the carrier said no (shipments released)
MANIFEST_STATUSES = ("pending", "closed", "refused")


class ShippingMethodMap(Model):
    """A channel's shipping method (as the order carries it) -> our service level and the
    business days the channel promised for it."""
    __tablename__ = "shipping_method_maps"
    __table_args__ = (UniqueConstraint("channel_id", "method"), status_check("service_level", SERVICE_LEVELS),
                      *non_negative("promise_days"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[Optional[int]] = mapped_column(ForeignKey("channels.id"), index=True)  # None: any channel
    method: Mapped[str] = mapped_column(String(128), nullable=False)
    service_level: Mapped[str] = mapped_column(String(16), nullable=False)
    promise_days: Mapped[Optional[int]] = mapped_column(Integer)

    channel = relationship("Channel")


class ShippingRule(TimestampMixin, Model):
    """Which carrier and service a shipment gets: the first enabled rule (by priority) whose
    conditions all hold chooses among the rates of its carriers (none: every allowed one)."""
    __tablename__ = "shipping_rules"
    __table_args__ = (status_check("strategy", RULE_STRATEGIES), *non_negative("priority"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    priority: Mapped[int] = mapped_column(Integer, default=100, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # conditions (None: any)
    service_level: Mapped[Optional[str]] = mapped_column(String(16))
    countries: Mapped[Optional[list]] = mapped_column(JSON)  # destination ISO codes; "domestic"/"international"
    min_weight_kg: Mapped[Optional[Decimal]] = mapped_column(Numeric(10, 3))
    max_weight_kg: Mapped[Optional[Decimal]] = mapped_column(Numeric(10, 3))
    min_value: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    max_value: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    # the choice
    carriers: Mapped[Optional[list]] = mapped_column(JSON)  # carrier account codes; None: all allowed
    services: Mapped[Optional[list]] = mapped_column(JSON)  # carrier service codes; None: any
    strategy: Mapped[str] = mapped_column(String(16), default="cheapest", nullable=False)
    use_promise: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)  # arrive by the promise


class WarehouseCarrier(Model):
    """A carrier account a warehouse may ship with (a warehouse with none listed may use all)."""
    __tablename__ = "warehouse_carriers"
    __table_args__ = (UniqueConstraint("warehouse_id", "carrier_account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), nullable=False, index=True)
    carrier_account_id: Mapped[int] = mapped_column(ForeignKey("carrier_accounts.id", ondelete="CASCADE"),
                                                    nullable=False)

    carrier_account = relationship("CarrierAccount")


class BoxPreset(Model):
    __tablename__ = "box_presets"
    __table_args__ = (UniqueConstraint("warehouse_id", "name"),
                      *non_negative("length_cm", "width_cm", "height_cm", "tare_kg", "max_weight_kg"))

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    length_cm: Mapped[Decimal] = mapped_column(Numeric(10, 1), nullable=False)  # inner dimensions
    width_cm: Mapped[Decimal] = mapped_column(Numeric(10, 1), nullable=False)
    height_cm: Mapped[Decimal] = mapped_column(Numeric(10, 1), nullable=False)
    tare_kg: Mapped[Decimal] = mapped_column(Numeric(10, 3), nullable=False)
    max_weight_kg: Mapped[Decimal] = mapped_column(Numeric(10, 3), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    warehouse = relationship("Warehouse")

    @property
    def volume_cm3(self) -> Decimal:
        return self.length_cm * self.width_cm * self.height_cm


class Manifest(Model):
    """The day's labels handed over: a carrier's SCAN form or Ground close, or our own PDF."""
    __tablename__ = "manifests"
    __table_args__ = (status_check("kind", MANIFEST_KINDS), status_check("status", MANIFEST_STATUSES))

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_account_id: Mapped[int] = mapped_column(ForeignKey("carrier_accounts.id"), nullable=False, index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="closed", server_default="closed", nullable=False)
    reference: Mapped[Optional[str]] = mapped_column(String(64))
    tracking_numbers: Mapped[list] = mapped_column(JSON, nullable=False)
    shipment_count: Mapped[int] = mapped_column(Integer, nullable=False)
    document: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    carrier_account = relationship("CarrierAccount")
    warehouse = relationship("Warehouse")
