"""The contract between connectors and services.

A channel connector turns whatever its API sends into a ``NormalizedOrder``; services
only ever see this shape. Money is ``Decimal`` (never float), times are aware UTC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator, Optional, Protocol

from .errors import InvalidPayload


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
    # units x unit price before discounts exactly as the channel sent it (Amazon ItemPrice,
    # WooCommerce subtotal); None when the channel sends a unit price (then it is that x quantity).
    # ``unit_price`` is derived from it and may be rounded (10.00 for 3); this never is.
    subtotal: Optional[Decimal] = None

    @property
    def line_subtotal(self) -> Decimal:
        return self.subtotal if self.subtotal is not None else self.unit_price * self.quantity


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
    # what the buyer pays besides goods, shipping and tax: gift wrap, cash-on-delivery fees
    # (less their discounts), WooCommerce fee lines; its parts are named in ``charges``
    fees_total: Decimal = Decimal("0")
    total: Optional[Decimal] = None  # None while the channel has none yet
    email: Optional[str] = None  # None when empty
    customer_name: Optional[str] = None
    shipping_address: Optional[NormalizedAddress] = None
    billing_address: Optional[NormalizedAddress] = None
    lines: list[NormalizedLine] = field(default_factory=list)
    financial_status: str = "pending"
    channel_status: Optional[str] = None
    fulfilled_by_channel: bool = False  # the channel ships it (Amazon FBA), or already shipped it
    # what the channel says has shipped: unfulfilled | partial | fulfilled. None: the old
    # reading, "fulfilled" exactly when fulfilled_by_channel. An FBA order that Amazon has not
    # shipped yet is fulfilled_by_channel with "unfulfilled": it must not show as shipped.
    fulfillment_status: Optional[str] = None
    cancelled: bool = False
    cancelled_at: Optional[datetime] = None
    cancel_reason: Optional[str] = None
    refunds: list[NormalizedRefund] = field(default_factory=list)
    shipping_method: Optional[str] = None
    ship_by: Optional[datetime] = None
    risk: dict[str, Any] = field(default_factory=dict)  # the channel's own signals
    tags: list[str] = field(default_factory=list)
    # amounts the channel itemises beyond the totals above, by name (Decimal), e.g.
    # {"gift_wrap": .., "gift_wrap_tax": .., "cod_fee": .., "cod_fee_discount": ..,
    #  "points_granted": .., "points_granted_number": ..}: kept with the order, never dropped
    charges: dict[str, Any] = field(default_factory=dict)
    raw: Any = None

    @property
    def channel_fulfillment(self) -> str:
        if self.fulfillment_status:
            return self.fulfillment_status
        return "fulfilled" if self.fulfilled_by_channel else "unfulfilled"


FULFILLMENT_STATUSES = ("unfulfilled", "partial", "fulfilled")


def checked(order: NormalizedOrder) -> NormalizedOrder:
    """What every channel's ``normalize_order`` ends with: the checks that hold for all of them.

    An order without lines is not an order we can ship, bill or match (Shopify sends some
    without ``line_items``; WooCommerce and Amazon never do): an invalid payload, quarantined
    with its raw data like any other.
    """
    where = f"order {order.external_id}"
    if not order.lines:
        raise InvalidPayload(f"{where}: no lines (an order must have at least one line item)")
    if order.fulfillment_status is not None and order.fulfillment_status not in FULFILLMENT_STATUSES:
        raise InvalidPayload(f"{where}: unknown fulfillment status {order.fulfillment_status!r}")
    return order


@dataclass
class NormalizedListing:
    """One sellable item on a channel, with the ids a stock push needs."""

    external_key: str  # unique per channel: Shopify variant id, Woo "<product>[/<variation>]", Amazon SKU
    sku: Optional[str]  # exactly as the channel has it
    title: str
    external_id: Optional[str] = None  # the product's id
    external_variant_id: Optional[str] = None
    inventory_item_id: Optional[str] = None  # Shopify
    asin: Optional[str] = None  # Amazon
    product_type: Optional[str] = None  # Amazon


@dataclass
class ListingSnapshot:
    """Everything a channel lists, and its stock locations (Shopify)."""

    listings: list[NormalizedListing]
    locations: list[dict] = field(default_factory=list)


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
