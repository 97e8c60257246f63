"""Orders: customers, orders and their lines, holds, allocations and the event timeline."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import (
    JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import CURRENCY, MONEY, UNIT_PRICE, TimestampMixin, UTCDateTime, non_negative, status_check

ORDER_STATUSES = (
    "new", "allocated", "partially_allocated", "backordered", "picking", "packed",
    "partially_shipped", "shipped", "delivered", "cancelled",
)
# The statuses of orders in the allocation queue (waiting to be allocated, or for stock).
QUEUE_STATUSES = ("new", "backordered", "partially_allocated")
FINANCIAL_STATUSES = (
    "pending", "authorized", "paid", "partially_refunded", "refunded", "voided",
)
FULFILLMENT_STATUSES = ("unfulfilled", "partial", "fulfilled")
HOLD_REASONS = ("manual", "review", "address", "unknown_sku", "duplicate", "payment", "rule")
ALLOCATION_STATUSES = ("open", "released", "shipped")


class Customer(TimestampMixin, Model):
    """A buyer, deduplicated across channels by normalised e-mail."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[Optional[str]] = mapped_column(String(254), unique=True)  # lower-cased
    name: Mapped[Optional[str]] = mapped_column(String(200))
    phone: Mapped[Optional[str]] = mapped_column(String(64))
    note: Mapped[Optional[str]] = mapped_column(Text)

    orders = relationship("Order", back_populates="customer", lazy="dynamic")

    def __repr__(self) -> str:
        return self.name or self.email or f"customer {self.id}"


class Order(TimestampMixin, Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        Index("ix_orders_status_placed_at", "status", "placed_at"),
        Index("ix_orders_channel_placed_at", "channel_id", "placed_at"),
        status_check("status", ORDER_STATUSES),
        status_check("financial_status", FINANCIAL_STATUSES),
        status_check("fulfillment_status", FULFILLMENT_STATUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), nullable=False)
    external_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    order_number: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    customer_id: Mapped[Optional[int]] = mapped_column(ForeignKey("customers.id"), index=True)
    email: Mapped[Optional[str]] = mapped_column(String(254))
    # The e-mail's domain, lower-cased, kept with the e-mail (see email_domain_of below):
    # support search finds orders by a prefix of it ("exam" -> ann@example.com).
    email_domain: Mapped[Optional[str]] = mapped_column(String(254))
    customer_name: Mapped[Optional[str]] = mapped_column(String(200), index=True)
    phone: Mapped[Optional[str]] = mapped_column(String(64))
    shipping_address: Mapped[Optional[dict]] = mapped_column(JSON)
    billing_address: Mapped[Optional[dict]] = mapped_column(JSON)
    ship_country: Mapped[Optional[str]] = mapped_column(String(2), index=True)
    currency: Mapped[str] = mapped_column(CURRENCY, nullable=False)
    subtotal: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), nullable=False)
    shipping_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), nullable=False)
    tax_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), nullable=False)
    discount_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), nullable=False)
    # gift wrap, cash-on-delivery fees, fee lines: what the buyer pays besides goods, shipping, tax
    fees_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), server_default="0",
                                                nullable=False)
    # the channel's itemised charges by name (NormalizedOrder.charges), amounts as strings
    charges: Mapped[Optional[dict]] = mapped_column(JSON)
    total: Mapped[Optional[Decimal]] = mapped_column(MONEY)  # None while the channel has none
    total_base: Mapped[Optional[Decimal]] = mapped_column(MONEY)  # None: no exchange rate
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    channel_updated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    ship_by: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # the SLA clock (services/fulfilment/sla.py): None, "at_risk" or "late"; on-time is kept
    # at ship confirm for the KPIs
    sla_state: Mapped[Optional[str]] = mapped_column(String(8), index=True)
    shipped_on_time: Mapped[Optional[bool]] = mapped_column(Boolean)
    tags: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    status: Mapped[str] = mapped_column(String(32), default="new", nullable=False)
    financial_status: Mapped[str] = mapped_column(String(32), default="pending", nullable=False)
    fulfillment_status: Mapped[str] = mapped_column(
        String(32), default="unfulfilled", nullable=False
    )
    channel_status: Mapped[Optional[str]] = mapped_column(String(64))
    fulfilled_by_channel: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    shipping_method: Mapped[Optional[str]] = mapped_column(String(128))
    risk_score: Mapped[Optional[int]] = mapped_column(Integer)
    # The channel's own risk signals (NormalizedOrder.risk), e.g. {"test": true}.
    risk_signals: Mapped[Optional[dict]] = mapped_column(JSON)
    # When the first pass of the pipeline ran the on_import rules and the risk checks;
    # None: not screened yet (releasing a hold later never screens again).
    screened_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # A normalised digest of the shipping address (velocity check), set when screened.
    ship_address_key: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    # What rules asked of allocation: {"prefer_warehouses": [codes], "exclude_warehouses":
    # [codes], "forbid_split": bool}; None when no rule said anything.
    routing: Mapped[Optional[dict]] = mapped_column(JSON)
    cancelled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[Optional[str]] = mapped_column(Text)
    raw_payload: Mapped[Optional[dict]] = mapped_column(JSON)
    payload_hash: Mapped[Optional[str]] = mapped_column(String(64))
    # {field: {"at": iso, "by": actor, "old": ..., "new": ...}}: what Waybill changed locally,
    # so that the next import can tell a channel change from a local one.
    local_edits: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    channel = relationship("Channel")
    customer = relationship("Customer", back_populates="orders")
    lines = relationship(
        "OrderLine", back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    holds = relationship("OrderHold", back_populates="order", order_by="OrderHold.id")
    allocations = relationship("Allocation", back_populates="order", order_by="Allocation.id",
                               primaryjoin="Order.id == foreign(Allocation.order_id)")
    events = relationship(
        "OrderEvent", back_populates="order",
        order_by="(OrderEvent.created_at.desc(), OrderEvent.id.desc())",
    )
    shipments = relationship("Shipment", back_populates="order", order_by="Shipment.id")
    returns = relationship("Return", back_populates="order", order_by="Return.id",
                           foreign_keys="Return.order_id")

    def __repr__(self) -> str:
        return self.order_number

    @property
    def open_holds(self) -> list["OrderHold"]:
        return [hold for hold in self.holds if hold.released_at is None]

    @property
    def is_held(self) -> bool:
        return bool(self.open_holds)

    @property
    def synced_to_channel(self) -> bool:
        """False while a local change has not been pushed back to the channel."""
        return not self.local_edits


class OrderLine(Model):
    __tablename__ = "order_lines"
    __table_args__ = tuple(
        non_negative(
            "quantity", "quantity_allocated", "quantity_shipped", "quantity_cancelled",
            "quantity_returned", "quantity_backordered",
        )
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    external_id: Mapped[Optional[str]] = mapped_column(String(64))
    sku: Mapped[Optional[str]] = mapped_column(String(128))  # exactly as the channel sent it
    product_id: Mapped[Optional[int]] = mapped_column(ForeignKey("products.id"), index=True)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(UNIT_PRICE, nullable=False)
    # quantity x unit price before discounts exactly as the channel sent it (Amazon ItemPrice is
    # the line total: 17.95 for 2); None for lines whose channel sends a unit price, and for
    # lines added in Waybill. Money is summed from this, never from a derived unit price.
    subtotal: Mapped[Optional[Decimal]] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), nullable=False)
    discount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), nullable=False)
    quantity_allocated: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    quantity_shipped: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    quantity_cancelled: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    quantity_returned: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    quantity_backordered: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    order = relationship("Order", back_populates="lines")
    product = relationship("Product")

    @property
    def quantity_open(self) -> int:
        """Units still to be allocated or shipped (not cancelled, not yet shipped)."""
        return self.quantity - self.quantity_cancelled - self.quantity_shipped

    @property
    def line_subtotal(self) -> Decimal:
        """Units x price before discounts: the channel's own figure where it sent one."""
        return self.subtotal if self.subtotal is not None else self.unit_price * self.quantity

    @property
    def line_total(self) -> Decimal:
        return self.line_subtotal - self.discount + self.tax


class OrderHold(Model):
    """A reason an order may not progress. The order is held while any hold is open."""

    __tablename__ = "order_holds"
    __table_args__ = (
        status_check("reason", HOLD_REASONS),
        Index("ix_order_holds_reason_open", "reason", "released_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    note: Mapped[Optional[str]] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    released_by: Mapped[Optional[str]] = mapped_column(String(128))
    released_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    release_note: Mapped[Optional[str]] = mapped_column(Text)

    order = relationship("Order", back_populates="holds")

    def __repr__(self) -> str:
        return self.reason


class Allocation(Model):
    """A reservation of units of one order line in one warehouse.

    Open allocations are what a stock level's ``reserved`` adds up to. ``order_id`` and
    ``warehouse_id`` are copies of the line's order and the level's warehouse; the line and
    the level are the foreign keys, which imply them (a check costs a lookup per row).
    """

    __tablename__ = "allocations"
    __table_args__ = (
        status_check("status", ALLOCATION_STATUSES),
        *non_negative("quantity"),
        Index("ix_allocations_level_status", "stock_level_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id"), nullable=False, index=True
    )
    warehouse_id: Mapped[int] = mapped_column(Integer, nullable=False)
    stock_level_id: Mapped[int] = mapped_column(ForeignKey("stock_levels.id"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    order = relationship("Order", back_populates="allocations",
                         primaryjoin="foreign(Allocation.order_id) == Order.id")
    line = relationship("OrderLine")
    warehouse = relationship("Warehouse",
                             primaryjoin="foreign(Allocation.warehouse_id) == Warehouse.id")
    stock_level = relationship("StockLevel")


class OrderEvent(Model):
    """One entry of an order's timeline: when, who (actor label), what."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_created", "order_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"), index=True)
    type: Mapped[str] = mapped_column(String(48), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[Optional[dict]] = mapped_column(JSON)

    order = relationship("Order", back_populates="events")


def email_domain_of(email: str | None) -> str | None:
    """``Ann@Example.COM`` -> ``example.com`` (None without an @)."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


@event.listens_for(Order.email, "set")
def _keep_email_domain(order, value, _old, _initiator):
    # Every ORM write of an e-mail (import, edit, demo, tests); the bulk import sets the
    # column in its rows itself.
    order.email_domain = email_domain_of(value)


# Support search (services/orders/search.py): equality and prefixes of lower-cased keys. A prefix
# is a byte-wise range; on PostgreSQL the text_pattern_ops operator class serves it (and
# equality) under any database collation, where a default btree index would follow the
# collation's order (which skips punctuation: 'ann.' would miss 'ann.lee@...').
def _search_index(name: str, expression, label: str) -> Index:
    return Index(name, expression.label(label), postgresql_ops={label: "text_pattern_ops"})


_search_index("ix_customers_name_lower", func.lower(Customer.name), "name_lower")
_search_index("ix_customers_email_prefix", Customer.email, "email")
_search_index("ix_orders_email_lower", func.lower(Order.email), "email_lower")
_search_index("ix_orders_email_domain", Order.email_domain, "email_domain")
_search_index("ix_orders_customer_name_lower", func.lower(Order.customer_name), "customer_name_lower")
# The lines waiting for stock, by product: what the allocation queue looks for when stock
# arrives (a small index: most lines never wait).
Index("ix_order_lines_backordered", OrderLine.product_id,
      postgresql_where=OrderLine.quantity_backordered > 0,
      sqlite_where=OrderLine.quantity_backordered > 0)
# The allocation queue in its order (services/lifecycle/allocation.py, queue_order): a claim reads the
# head of the queue from here instead of sorting every waiting order.
Index("ix_orders_queue", Order.priority.desc(), Order.ship_by.is_(None), Order.ship_by,
      Order.placed_at, Order.id,
      postgresql_where=Order.status.in_(QUEUE_STATUSES),
      sqlite_where=Order.status.in_(QUEUE_STATUSES))
