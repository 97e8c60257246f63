"""Shopify Admin REST orders connector, at a supported API version (:data:`API_VERSION`).

Reads stay on REST: Shopify's order webhooks deliver this same REST shape, so one normaliser
serves polls and webhooks; REST orders are supported at every 2026 version. Products and their
variants (listings) are read through the GraphQL Admin API (REST returns at most 100 variants
of a product), and writes (next issues) use GraphQL too. Shopify answers a retired version
with its oldest supported one, silently but for ``X-Shopify-API-Version``: the connector
refuses such an answer instead of reading a version it did not ask for.

Polls ``GET {base}/admin/api/<version>/orders.json?status=any&updated_at_min=..&limit=250`` and
follows the ``Link: <...page_info=...>; rel="next"`` header (after the first page only ``limit``
and ``page_info`` may be sent). Auth: ``X-Shopify-Access-Token``. Rate limit: the leaky bucket
reported in ``X-Shopify-Shop-Api-Call-Limit`` (see :class:`connectors.http.ShopifyCallLimiter`).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from .base import (ListingSnapshot, NormalizedAddress, NormalizedLine, NormalizedListing, NormalizedOrder,
                   NormalizedRefund, checked)
from .errors import ChannelError, InvalidPayload
from .http import ChannelSession, make_session
from .paging import PagedOrderConnector
from .stock_push import ShopifyStock
from .shopify_writes import ShopifyWrites
from .parsing import (address_or_none, as_int, email, join_name, money, money_sum, parse_time, require,
                      text)

# Shopify releases a version a quarter and supports each for twelve months.
SUPPORTED_VERSIONS = ("2026-10", "2026-07", "2026-04", "2026-01")
API_VERSION = SUPPORTED_VERSIONS[0]

# Shopify financial_status -> Waybill financial status
FINANCIAL_STATUS = {
    "pending": "pending",
    "authorized": "authorized",
    "partially_paid": "pending",  # money still outstanding: not paid for the payment hold
    "paid": "paid",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "voided": "voided",
    "expired": "voided",
}


def _unwrap(raw: Any) -> dict:
    if isinstance(raw, list):
        raise InvalidPayload(f"shopify: expected an order object, got a list of {len(raw)} items")
    if not isinstance(raw, dict):
        raise InvalidPayload(f"shopify: expected an order object, got {type(raw).__name__}")
    if "order" in raw and isinstance(raw["order"], dict) and len(raw) == 1:
        return raw["order"]
    if len(raw) == 1:
        (key,) = raw.keys()
        raise InvalidPayload(f"shopify: expected an order, got a {key!r} object")
    if "invoice_url" in raw and "order_id" in raw:
        raise InvalidPayload(f"shopify: draft order {raw.get('name')!r} is not an order")
    return raw


def _address(raw: Optional[dict]) -> Optional[NormalizedAddress]:
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise InvalidPayload(f"shopify: address must be an object, got {type(raw).__name__}")
    return address_or_none(NormalizedAddress(
        name=text(raw.get("name")) or join_name(raw.get("first_name"), raw.get("last_name")),
        company=text(raw.get("company")),
        line1=text(raw.get("address1")),
        line2=text(raw.get("address2")),
        city=text(raw.get("city")),
        region=text(raw.get("province_code")) or text(raw.get("province")),
        postcode=text(raw.get("zip")),
        country=text(raw.get("country_code")),
        phone=text(raw.get("phone")),
    ))


def _shop_money(raw: dict, key: str) -> Optional[Decimal]:
    block = raw.get(key)
    if isinstance(block, dict) and isinstance(block.get("shop_money"), dict):
        return money(block["shop_money"].get("amount"), key)
    return None


def _line(raw: dict, index: int) -> NormalizedLine:
    if not isinstance(raw, dict):
        raise InvalidPayload(f"shopify: line_items[{index}] is not an object")
    where = f"shopify: line_items[{index}]"
    quantity = as_int(require(raw, "quantity", where), f"{where}.quantity")
    price = money(raw.get("price"), f"{where}.price")
    if price is None:
        raise InvalidPayload(f"{where}: missing price")
    allocations = raw.get("discount_allocations")
    if allocations:
        discount = money_sum(money(a.get("amount"), f"{where}.discount_allocations") for a in allocations)
    else:
        discount = money(raw.get("total_discount"), f"{where}.total_discount", default=Decimal("0"))
    tax = money_sum(money(t.get("price"), f"{where}.tax_lines") for t in raw.get("tax_lines") or [])
    # current_quantity (REST 2024-01+): the quantity after removals (order edits, partial
    # cancels, refunds that removed units). Older payloads lack it: then we do not know.
    cancelled = None
    if raw.get("current_quantity") is not None:
        current = as_int(raw["current_quantity"], f"{where}.current_quantity")
        cancelled = min(max(quantity - current, 0), max(quantity, 0))
    sku = raw.get("sku")
    return NormalizedLine(
        external_id=str(raw["id"]) if raw.get("id") is not None else None,
        sku=sku if sku != "" else None,  # exactly as sent; "" means "no SKU"
        title=text(raw.get("name")) or text(raw.get("title")) or "",
        quantity=quantity,
        unit_price=price,
        tax=tax,
        discount=discount,
        quantity_cancelled=cancelled,
    )


def normalize_refund(raw: Any) -> NormalizedRefund:
    """A Shopify refund (``order.refunds[]`` or ``GET .../refunds/{id}.json``)."""
    if isinstance(raw, dict) and set(raw) == {"refund"}:
        raw = raw["refund"]
    if not isinstance(raw, dict):
        raise InvalidPayload(f"shopify: refund must be an object, got {type(raw).__name__}")
    if raw.get("id") is None:
        raise InvalidPayload("shopify: refund without an id (a refund calculation is not a refund)")
    where = f"shopify: refund {raw['id']}"
    transactions = [t for t in raw.get("transactions") or []
                    if t.get("kind") == "refund" and t.get("status") in (None, "success")]
    if transactions:
        amount = money_sum(money(t.get("amount"), f"{where}.transactions.amount") for t in transactions)
    else:
        lines = raw.get("refund_line_items") or []
        amount = money_sum(money(li.get("subtotal"), f"{where}.subtotal") for li in lines)
        amount += money_sum(money(li.get("total_tax"), f"{where}.total_tax") for li in lines)
        # order adjustments are negative for what was refunded beyond the lines (e.g. shipping)
        amount -= money_sum(money(a.get("amount"), f"{where}.order_adjustments")
                            for a in raw.get("order_adjustments") or [])
    return NormalizedRefund(
        external_id=str(raw["id"]),
        amount=amount,
        created_at=parse_time(raw.get("processed_at") or raw.get("created_at"), f"{where}.created_at"),
        reason=text(raw.get("note")),
    )


def normalize_order(raw: Any) -> NormalizedOrder:
    """A Shopify order (bare, or the ``{"order": {...}}`` envelope) as a ``NormalizedOrder``."""
    order = _unwrap(raw)
    order_id = require(order, "id", "shopify: order")
    where = f"shopify: order {order_id}"
    currency = text(order.get("currency")) or text(order.get("presentment_currency"))
    if not currency:
        raise InvalidPayload(f"{where}: missing currency")

    raw_financial = order.get("financial_status")
    if raw_financial is None:
        financial = "pending"
    elif raw_financial in FINANCIAL_STATUS:
        financial = FINANCIAL_STATUS[raw_financial]
    else:
        raise InvalidPayload(f"{where}: unknown financial_status {raw_financial!r}")
    fulfillment = order.get("fulfillment_status")

    lines_raw = order.get("line_items") or []
    if not isinstance(lines_raw, list):
        raise InvalidPayload(f"{where}: line_items must be a list")
    lines = [_line(li, i) for i, li in enumerate(lines_raw)]

    subtotal = money(order.get("total_line_items_price"), f"{where}.total_line_items_price")
    if subtotal is None:
        subtotal = money_sum(li.unit_price * li.quantity for li in lines)
    shipping = _shop_money(order, "total_shipping_price_set")
    if shipping is None:
        shipping = money_sum(money(s.get("price"), f"{where}.shipping_lines.price")
                             for s in order.get("shipping_lines") or [])
    shipping_lines = order.get("shipping_lines") or []

    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    shipping_address = _address(order.get("shipping_address"))
    billing_address = _address(order.get("billing_address"))
    cancelled_at = parse_time(order.get("cancelled_at"), f"{where}.cancelled_at")
    tags = [t.strip() for t in (order.get("tags") or "").split(",") if t.strip()]
    risk: dict[str, Any] = {}
    if order.get("test"):
        risk["test"] = True
    if order.get("cancel_reason") == "fraud":
        risk["cancel_reason"] = "fraud"

    return checked(NormalizedOrder(
        external_id=str(order_id),
        order_number=text(order.get("name")) or (f"#{order['order_number']}" if order.get("order_number")
                                                   else str(order_id)),
        placed_at=parse_time(order.get("processed_at") or order.get("created_at"), f"{where}.created_at",
                             required=True),
        updated_at=parse_time(order.get("updated_at"), f"{where}.updated_at"),
        currency=currency,
        subtotal=subtotal,
        shipping_total=shipping,
        tax_total=money(order.get("total_tax"), f"{where}.total_tax", default=Decimal("0")),
        discount_total=money(order.get("total_discounts"), f"{where}.total_discounts", default=Decimal("0")),
        total=money(order.get("total_price"), f"{where}.total_price"),
        email=email(order.get("email")) or email(order.get("contact_email")) or email(customer.get("email")),
        customer_name=join_name(customer.get("first_name"), customer.get("last_name"))
        or (billing_address.name if billing_address else None)
        or (shipping_address.name if shipping_address else None),
        shipping_address=shipping_address,
        billing_address=billing_address,
        lines=lines,
        financial_status=financial,
        channel_status=f"{raw_financial or 'pending'}/{fulfillment or 'unfulfilled'}"
        + ("/cancelled" if cancelled_at else ""),
        fulfilled_by_channel=fulfillment == "fulfilled",
        fulfillment_status={"fulfilled": "fulfilled", "partial": "partial"}.get(fulfillment, "unfulfilled"),
        cancelled=cancelled_at is not None,
        cancelled_at=cancelled_at,
        cancel_reason=text(order.get("cancel_reason")) if cancelled_at else None,
        refunds=[normalize_refund(r) for r in order.get("refunds") or []],
        shipping_method=text(shipping_lines[0].get("title")) if shipping_lines else None,
        ship_by=None,
        risk=risk,
        tags=tags,
        raw=raw,
    ))


class ShopifyConnector(ShopifyStock, ShopifyWrites, PagedOrderConnector):
    """``ShopifyConnector("https://shop.myshopify.com", {"access_token": "shpat_..."})``."""

    channel = "shopify"

    def __init__(self, base_url: str, credentials: dict, *, api_version: str = API_VERSION,
                 page_size: int = 250, time_scale: float = 1.0, session: Optional[ChannelSession] = None,
                 max_retries: int = 5, timeout: tuple[float, float] = (5.0, 30.0)):
        token = (credentials or {}).get("access_token")
        if not token:
            raise ValueError("shopify: credentials need an 'access_token'")
        if "://" not in base_url:
            base_url = "https://" + base_url
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.time_scale = time_scale
        self.page_size = min(int(page_size), 250)
        self.session = session or make_session("shopify", shopify_call_limit=True, time_scale=time_scale,
                                               max_retries=max_retries, timeout=timeout)
        self.session.headers["X-Shopify-Access-Token"] = token
        self.session.headers["Accept"] = "application/json"

    def _url(self, path: str) -> str:
        return f"{self.base_url}/admin/api/{self.api_version}/{path}"

    def _get(self, path: str, params: Optional[dict] = None):
        data, response = self.session.get_json(self._url(path), params=params)
        served = response.headers.get("X-Shopify-API-Version")
        if served and served != self.api_version:
            raise ChannelError(f"shopify: asked for API version {self.api_version}, Shopify served {served} "
                               f"(the version asked for is retired or unknown: choose a supported one)",
                               channel="shopify", status=response.status_code)
        return data, response

    def _raw_id(self, raw: Any) -> str:
        return str(raw["id"])

    def _normalize_raw(self, raw: Any):
        return normalize_order(raw)

    def _fetch_raw_page(self, updated_since: datetime, cursor: Optional[str]) -> tuple[list, Optional[str]]:
        if cursor:
            params = {"limit": self.page_size, "page_info": cursor}
        else:
            params = {"status": "any", "updated_at_min": updated_since.isoformat(timespec="seconds"),
                      "limit": self.page_size}
        data, response = self._get("orders.json", params)
        if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
            raise ChannelError("shopify: orders.json did not return {'orders': [...]}", channel="shopify",
                               status=response.status_code)
        next_url = response.links.get("next", {}).get("url")
        next_cursor = None
        if next_url:
            next_cursor = parse_qs(urlsplit(next_url).query).get("page_info", [None])[0]
        return data["orders"], next_cursor

    def fetch_order(self, external_id: str):
        data, _ = self._get(f"orders/{external_id}.json")
        return normalize_order(data)

    # -- listings (GraphQL Admin API) --------------------------------------------------------
    VARIANTS_QUERY = """query Variants($after: String) {
      productVariants(first: 250, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { id sku title inventoryItem { id } product { id title } }
      }
    }"""
    LOCATIONS_QUERY = """query Locations($after: String) {
      locations(first: 50, after: $after, includeInactive: true) {
        pageInfo { hasNextPage endCursor }
        nodes { id name isActive }
      }
    }"""

    def graphql(self, query: str, variables: Optional[dict] = None, *, max_waits: int = 10,
                retries: Optional[int] = None) -> dict:
        """One GraphQL Admin call; waits out Shopify's cost throttle (``THROTTLED``: as long as the
        bucket needs to restore the query's cost, from ``extensions.cost``), then raises
        ``ChannelError`` on any other error."""
        url = self._url("graphql.json")
        for _ in range(max_waits + 1):
            data, response = self.session.request_json("POST", url, json={"query": query, "variables": variables or {}},
                                                        operation="graphql", retries=retries)
            errors = (data or {}).get("errors") if isinstance(data, dict) else None
            if errors and any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                cost = (data.get("extensions") or {}).get("cost") or {}
                status = cost.get("throttleStatus") or {}
                missing = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
                wait = max(missing, 1.0) / float(status.get("restoreRate") or 50.0)
                self.session._sleep(wait * self.time_scale)  # the session's clock: tests may scale it
                continue
            if errors:
                raise ChannelError(f"shopify: GraphQL error: {errors[0].get('message')}", channel="shopify",
                                   status=response.status_code)
            return data["data"]
        raise ChannelError("shopify: GraphQL throttled too long", channel="shopify", status=429)

    def _nodes(self, query: str, root: str):
        after = None
        while True:
            connection = self.graphql(query, {"after": after})[root]
            yield from connection["nodes"]
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]

    def fetch_listings(self) -> ListingSnapshot:
        """Every variant (``productVariants``: a flat list, so products with more than 100
        variants need no nested paging) with its product and inventory item, and the locations."""
        listings = [NormalizedListing(
            external_key=node["id"], sku=node.get("sku") or None,
            title=(node["product"]["title"] if node.get("title") in (None, "Default Title")
                   else f"{node['product']['title']} – {node['title']}"),
            external_id=node["product"]["id"], external_variant_id=node["id"],
            inventory_item_id=(node.get("inventoryItem") or {}).get("id"),
        ) for node in self._nodes(self.VARIANTS_QUERY, "productVariants")]
        locations = [{"id": n["id"], "name": n["name"], "active": bool(n["isActive"])}
                     for n in self._nodes(self.LOCATIONS_QUERY, "locations")]
        return ListingSnapshot(listings, locations)

    def test_connection(self) -> None:
        data, _ = self._get("shop.json")
        if not isinstance(data, dict) or "shop" not in data:
            raise ChannelError("shopify: shop.json did not return a shop", channel="shopify")
