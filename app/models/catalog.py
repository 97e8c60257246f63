"""Catalog: products, the SKU aliases that map channel SKUs to them, channel listings."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import MONEY, TimestampMixin, UTCDateTime, non_negative


def normalize_sku(sku: str | None) -> str | None:
    """The match key for SKUs: trimmed and upper-case ("  ab-1 " -> "AB-1")."""
    if sku is None:
        return None
    sku = sku.strip().upper()
    return sku or None


class Product(TimestampMixin, Model):
    __tablename__ = "products"
    __table_args__ = tuple(non_negative("reorder_point"))

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    barcode: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    weight_kg: Mapped[Optional[Decimal]] = mapped_column(Numeric(10, 3))
    price: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    # customs: the Harmonized System code and the country of origin (ISO 3166-1 alpha-2)
    hs_code: Mapped[Optional[str]] = mapped_column(String(16))
    origin_country: Mapped[Optional[str]] = mapped_column(String(2))
    # packing: the item's own dimensions, for the smallest box that fits
    length_cm: Mapped[Optional[Decimal]] = mapped_column(Numeric(10, 1))
    width_cm: Mapped[Optional[Decimal]] = mapped_column(Numeric(10, 1))
    height_cm: Mapped[Optional[Decimal]] = mapped_column(Numeric(10, 1))
    reorder_point: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    aliases = relationship("SkuAlias", back_populates="product", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"{self.sku} {self.name}"


class SkuAlias(Model):
    """A channel's SKU string that means one of our products ("map SKU" creates these).

    ``channel_id`` NULL means the alias holds for every channel.
    """

    __tablename__ = "sku_aliases"
    __table_args__ = (UniqueConstraint("channel_id", "alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), nullable=False, index=True)
    channel_id: Mapped[Optional[int]] = mapped_column(ForeignKey("channels.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    product = relationship("Product", back_populates="aliases")
    channel = relationship("Channel")

    def __repr__(self) -> str:
        return self.alias


class Listing(Model):
    """One sellable item on a channel (a Shopify variant, a WooCommerce product or variation, an
    Amazon listing by seller SKU) with the ids a stock push needs, matched to our product by SKU
    or alias (``product_id`` None: unmatched, listed for Operations to map), and the quantity
    last pushed there. Synced from the channel by services/channels/listings.py."""

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("channel_id", "external_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[Optional[int]] = mapped_column(ForeignKey("products.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), nullable=False, index=True)
    # what identifies the listing on the channel: Shopify the variant id, WooCommerce
    # "<product id>" or "<product id>/<variation id>", Amazon the seller SKU
    external_key: Mapped[str] = mapped_column(String(128), nullable=False)
    external_id: Mapped[Optional[str]] = mapped_column(String(64))  # the channel's product id
    external_variant_id: Mapped[Optional[str]] = mapped_column(String(64))
    inventory_item_id: Mapped[Optional[str]] = mapped_column(String(64))  # Shopify stock pushes
    sku: Mapped[Optional[str]] = mapped_column(String(128), index=True)  # as the channel has it
    title: Mapped[Optional[str]] = mapped_column(String(255))
    asin: Mapped[Optional[str]] = mapped_column(String(16))
    product_type: Mapped[Optional[str]] = mapped_column(String(64))  # Amazon: patchListingsItem needs it
    matched_by: Mapped[Optional[str]] = mapped_column(String(16))  # sku | alias | manual | unmatched
    synced_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_pushed_quantity: Mapped[Optional[int]] = mapped_column(Integer)
    last_pushed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_pushed_locations: Mapped[Optional[dict]] = mapped_column(JSON)  # {location id: qty}
    # what the channel showed when the stock_drift job last read it back
    channel_quantity: Mapped[Optional[int]] = mapped_column(Integer)
    channel_read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    product = relationship("Product")
    channel = relationship("Channel")
