"""The contract between connectors and services.

A channel connector turns whatever its API sends into a ``NormalizedOrder``; services
only ever see this shape. Money is ``Decimal`` (never float), times are aware UTC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator, Optional, Protocol


@dataclass
class NormalizedAddress:
    name: Optional[str] = None
    company: Optional[str] = None
    line1: Optional[str] = None
    line2: Optional[str] = None
    city: Optional[str] = None
    region: Optional[str] = None
    postcode: Optional[str] = None
    country: Optional[str] = None  # ISO 3166-1 alpha-2
    phone: Optional[str] = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class NormalizedLine:
    external_id: Optional[str]
    sku: Optional[str]  # exactly as the channel sent it
    title: str
    quantity: int
    unit_price: Decimal
    tax: Decimal = Decimal("0")
    discount: Decimal = Decimal("0")
    # Units of ``quantity`` the channel no longer wants shipped: removed by an order edit,
    # cancelled, or refunded and removed (Shopify: ``quantity - current_quantity``).
    # Cumulative, so that importing the same order twice changes nothing. None when the
    # channel's payload does not say (never "0 because unknown").
    quantity_cancelled: Optional[int] = None


@dataclass
class NormalizedRefund:
    external_id: Optional[str]
    amount: Decimal
    created_at: Optional[datetime] = None
    reason: Optional[str] = None


@dataclass
class NormalizedOrder:
    external_id: str
    order_number: str
    placed_at: datetime
    updated_at: Optional[datetime]
    currency: str
    subtotal: Decimal = Decimal("0")
    shipping_total: Decimal = Decimal("0")
    tax_total: Decimal = Decimal("0")
    discount_total: Decimal = Decimal("0")
    total: Optional[Decimal] = None  # None while the channel has none yet
    email: Optional[str] = None  # None when empty
    customer_name: Optional[str] = None
    shipping_address: Optional[NormalizedAddress] = None
    billing_address: Optional[NormalizedAddress] = None
    lines: list[NormalizedLine] = field(default_factory=list)
    financial_status: str = "pending"
    channel_status: Optional[str] = None
    fulfilled_by_channel: bool = False
    cancelled: bool = False
    cancelled_at: Optional[datetime] = None
    cancel_reason: Optional[str] = None
    refunds: list[NormalizedRefund] = field(default_factory=list)
    shipping_method: Optional[str] = None
    ship_by: Optional[datetime] = None
    risk: dict[str, Any] = field(default_factory=dict)  # the channel's own signals
    tags: list[str] = field(default_factory=list)
    raw: Any = None


@dataclass
class OrderPage:
    """One page of a channel's changed orders and where to continue from."""

    orders: list[NormalizedOrder]
    next_page: Optional[str]  # opaque token for the next page, None on the last one
    invalid: list[tuple[Any, str]] = field(default_factory=list)  # (raw payload, error)


class ChannelConnector(Protocol):
    """What every channel module offers the services and jobs."""

    def fetch_orders(self, updated_since: datetime, page: Optional[str] = None) -> OrderPage: ...

    def fetch_order(self, external_id: str) -> NormalizedOrder: ...

    def test_connection(self) -> None: ...


def iter_pages(connector: ChannelConnector, updated_since: datetime) -> Iterator[OrderPage]:
    page: Optional[str] = None
    while True:
        result = connector.fetch_orders(updated_since, page)
        yield result
        if not result.next_page:
            return
        page = result.next_page
