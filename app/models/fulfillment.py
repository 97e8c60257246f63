"""Fulfillment: pick lists, shipments with their lines and carrier tracking events."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import CURRENCY, MONEY, TimestampMixin, UTCDateTime, non_negative, status_check

# The carriers' normalised tracking vocabulary (connectors/carriers/base.py STATUSES).
TRACKING_STATUSES = ("pre_transit", "in_transit", "out_for_delivery", "available_for_pickup", "delivered",
                     "failed_attempt", "exception", "returned_to_sender", "cancelled", "unknown")
# DESIGN.md "Fulfilment": the label's own states, then the tracking vocabulary.
SHIPMENT_STATUSES = ("label_created", "label_uncertain", "voided") + TRACKING_STATUSES
# A shipment in one of these is not tracked any more.
SHIPMENT_CLOSED = ("delivered", "returned_to_sender", "voided", "cancelled")
CARRIER_KINDS = ("manual", "ups", "fedex", "usps", "dhl", "easypost")
LABEL_FORMATS = ("PDF", "ZPL")
DELIVERY_PROBLEMS = ("failed_attempt", "address", "damage", "delay", "returned")
DELIVERY_EXCEPTION_STATUSES = ("open", "resolved")
PICK_LIST_STATUSES = ("open", "picking", "done", "cancelled")


class PickList(Model):
    """A wave: allocated, unheld orders of one warehouse picked together (services/fulfilment/
    picking.py). Its orders are ``picking`` while it is open or picking."""
    __tablename__ = "pick_lists"
    __table_args__ = (status_check("status", PICK_LIST_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    assigned_to: Mapped[Optional[str]] = mapped_column(String(128))
    # the filters it was made with, as given (shown on the list and the PDF)
    filters: Mapped[Optional[dict]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    warehouse = relationship("Warehouse")
    lines = relationship("PickListLine", back_populates="pick_list", cascade="all, delete-orphan",
                         order_by="PickListLine.id")

    @property
    def code(self) -> str:
        """What its barcode says."""
        return f"PL{self.id:06d}"

    def __repr__(self) -> str:
        return self.code


class PickListLine(Model):
    """Units of one order line to take from one bin: one row per open allocation. ``slot`` is
    the order's place in the list (its tote); the PDF and the picking page group rows by bin
    and product in walking order."""
    __tablename__ = "pick_list_lines"
    __table_args__ = (*non_negative("quantity", "quantity_picked", "quantity_short", "quantity_packed"),
                      Index("ix_pick_list_lines_list_order", "pick_list_id", "order_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    pick_list_id: Mapped[int] = mapped_column(ForeignKey("pick_lists.id"), nullable=False)
    slot: Mapped[int] = mapped_column(Integer, nullable=False)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), nullable=False)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), nullable=False)
    stock_level_id: Mapped[int] = mapped_column(ForeignKey("stock_levels.id"), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), nullable=False)
    # copies at creation: the printed list and the scans compare against these
    bin: Mapped[Optional[str]] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(128), nullable=False)
    barcode: Mapped[Optional[str]] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity_picked: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    quantity_short: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    quantity_packed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    pick_list = relationship("PickList", back_populates="lines")
    order = relationship("Order")

    @property
    def quantity_left(self) -> int:
        return self.quantity - self.quantity_picked - self.quantity_short


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
    status: Mapped[str] = mapped_column(String(32), default="label_created", nullable=False)
    carrier_account_id: Mapped[Optional[int]] = mapped_column(ForeignKey("carrier_accounts.id"), index=True)
    # ours, sent with the purchase: the carrier keeps it (UPS label recovery finds the label by it)
    label_reference: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    carrier_shipment_id: Mapped[Optional[str]] = mapped_column(String(64))
    label_error: Mapped[Optional[str]] = mapped_column(Text)
    last_event_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # the carrier's first estimate of delivery: the promise a late parcel is measured against
    promised_delivery: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    tracked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    next_track_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, index=True)
    cost: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    currency: Mapped[Optional[str]] = mapped_column(CURRENCY)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    shipped_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # "why this carrier": the rule that chose, the rates considered, the carriers left out and why
    rate_decision: Mapped[Optional[dict]] = mapped_column(JSON)
    manifest_id: Mapped[Optional[int]] = mapped_column(ForeignKey("manifests.id"), index=True)

    order = relationship("Order", back_populates="shipments")
    warehouse = relationship("Warehouse")
    carrier_account = relationship("CarrierAccount")
    lines = relationship("ShipmentLine", back_populates="shipment", cascade="all, delete-orphan")
    packages = relationship("ShipmentPackage", back_populates="shipment", cascade="all, delete-orphan",
                            order_by="ShipmentPackage.id")
    labels = relationship("ShipmentLabel", back_populates="shipment", cascade="all, delete-orphan",
                          order_by="ShipmentLabel.id.desc()")
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
    """One carrier event, stored once: (carrier, number, time, code) is unique, whether it came
    by a poll or a webhook. Events typed by hand have no carrier code."""
    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),
                      UniqueConstraint("carrier", "tracking_number", "occurred_at", "carrier_code",
                                       name="uq_tracking_events_carrier_event"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    location: Mapped[Optional[str]] = mapped_column(String(255))
    carrier: Mapped[Optional[str]] = mapped_column(String(32))
    tracking_number: Mapped[Optional[str]] = mapped_column(String(64))
    carrier_code: Mapped[Optional[str]] = mapped_column(String(32))
    problem: Mapped[Optional[str]] = mapped_column(String(16))
    source: Mapped[Optional[str]] = mapped_column(String(16))  # poll, webhook, manual
    received_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    shipment = relationship("Shipment", back_populates="tracking_events")


class CarrierAccount(TimestampMixin, Model):
    """A carrier account. Credentials and the webhook secret (UPS Track Alert credential,
    EasyPost HMAC secret) are Fernet-encrypted, write-only; a new base URL needs them again."""
    __tablename__ = "carrier_accounts"
    __table_args__ = (status_check("kind", CARRIER_KINDS), status_check("label_format", LABEL_FORMATS))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    base_url: Mapped[Optional[str]] = mapped_column(String(255))
    # the tracking API's root where it is not the base URL (DHL's Unified Tracking); credentials go there too
    tracking_url: Mapped[Optional[str]] = mapped_column(String(255))
    account_number: Mapped[Optional[str]] = mapped_column(String(32))
    label_format: Mapped[str] = mapped_column(String(8), default="PDF", nullable=False)
    credentials_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def __repr__(self) -> str:
        return self.code


class ShipmentPackage(Model):
    __tablename__ = "shipment_packages"
    __table_args__ = tuple(non_negative("weight_kg", "length_cm", "width_cm", "height_cm"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), nullable=False, index=True)
    weight_kg: Mapped[Decimal] = mapped_column(Numeric(10, 3), nullable=False)
    length_cm: Mapped[Decimal] = mapped_column(Numeric(10, 1), nullable=False)
    width_cm: Mapped[Decimal] = mapped_column(Numeric(10, 1), nullable=False)
    height_cm: Mapped[Decimal] = mapped_column(Numeric(10, 1), nullable=False)
    tracking_number: Mapped[Optional[str]] = mapped_column(String(64))

    shipment = relationship("Shipment", back_populates="packages")


class ShipmentLabel(Model):
    """A label document as the carrier gave it (kept for download and reprint)."""
    __tablename__ = "shipment_labels"
    __table_args__ = (status_check("format", LABEL_FORMATS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), nullable=False, index=True)
    carrier: Mapped[str] = mapped_column(String(32), nullable=False)
    service: Mapped[Optional[str]] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64), nullable=False)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    data: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    path: Mapped[Optional[str]] = mapped_column(String(255))  # a document kept outside the database
    cost: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    currency: Mapped[Optional[str]] = mapped_column(CURRENCY)
    carrier_shipment_id: Mapped[Optional[str]] = mapped_column(String(64))
    package_tracking_numbers: Mapped[Optional[list]] = mapped_column(JSON)
    recovered: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    voided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    shipment = relationship("Shipment", back_populates="labels")


class DeliveryException(Model):
    """A parcel that needs a person (Support): opened from a carrier event, one open item per
    shipment and problem; contacted, address corrected, resolved."""
    __tablename__ = "delivery_exceptions"
    __table_args__ = (status_check("problem", DELIVERY_PROBLEMS),
                      status_check("status", DELIVERY_EXCEPTION_STATUSES),
                      Index("ix_delivery_exceptions_status_opened", "status", "opened_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), nullable=False, index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    problem: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    carrier_code: Mapped[Optional[str]] = mapped_column(String(32))
    description: Mapped[Optional[str]] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    contacted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    contacted_by: Mapped[Optional[str]] = mapped_column(String(128))
    notes: Mapped[Optional[list]] = mapped_column(JSON)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    resolved_by: Mapped[Optional[str]] = mapped_column(String(128))
    resolution: Mapped[Optional[str]] = mapped_column(Text)

    shipment = relationship("Shipment")
    order = relationship("Order")
