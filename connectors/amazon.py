"""Amazon Selling Partner API orders connector: Orders API 2026-01-01 by default, v0 as fallback.

- **2026-01-01** (``api_version="2026-01-01"``): ``searchOrders`` (``GET {base}/orders/2026-01-01/orders
  ?lastUpdatedAfter=..&marketplaceIds=..&includedData=..``, paged with ``paginationToken``, which
  expires after 24 hours) and ``getOrder``; items, buyer and recipient are in the order (PII needs
  the application's restricted role, no RDT). Shape and normalisation: :mod:`connectors.amazon_2026`.
- **v0** (``api_version="v0"``, removed by Amazon on 2027-03-27): ``getOrders`` (``NextToken``) then
  ``getOrderItems`` per order; the buyer and full address from ``getOrderAddress`` and
  ``getOrderBuyerInfo`` with a Restricted Data Token (Tokens API), one token for every order.

Auth: a Login with Amazon access token (refresh-token grant, cached until shortly before it
expires, refreshed once when the API says it expired) in ``x-amz-access-token``. Rate limits:
SP-API usage plans per operation, each version its own (:data:`connectors.http.SP_API_RATES`).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from . import amazon_2026
from .base import ListingSnapshot, NormalizedAddress, NormalizedLine, NormalizedListing, NormalizedOrder, checked
from .errors import ChannelAuthError, ChannelError, ChannelNotFound, InvalidPayload
from .http import SP_API_RATES, ChannelSession, make_session
from .amazon_returns import AmazonReturns
from .amazon_writes import AmazonWrites
from .paging import PagedOrderConnector
from .stock_push import AmazonStock
from .parsing import address_or_none, as_int, email, join_name, money, parse_time, require, text, unit_price

DEFAULT_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
# Orders API versions a channel can read; 2026-01-01 by default, v0 (removed 2027-03-27) as fallback
API_VERSIONS = (amazon_2026.VERSION, "v0")
DEFAULT_API_VERSION = amazon_2026.VERSION
MAX_RESTARTS = 3
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"

log = logging.getLogger("connectors")

FINANCIAL_STATUS = {
    "PendingAvailability": "pending",
    "Pending": "pending",            # not paid yet: no OrderTotal
    "Unshipped": "paid",
    "PartiallyShipped": "paid",
    "Shipped": "paid",
    "InvoiceUnconfirmed": "paid",
    "Canceled": "voided",
    "Unfulfillable": "pending",
}

V0_FULFILLMENT = {"Shipped": "fulfilled", "PartiallyShipped": "partial"}

MARKETPLACE_CURRENCY = {
    "ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD", "A1AM78C64UM0Y8": "MXN", "A2Q3Y263D00KWC": "BRL",
    "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR", "A13V1IB3VIYZZH": "EUR", "APJ6JRA9NG5V4": "EUR",
    "A1RKKUPIHCS9HS": "EUR", "A1805IZSGTT6HS": "EUR", "AMEN7PMS3EDWL": "EUR", "A28R8C7NBKEWEA": "EUR",
    "A1C3SOZRARQ6R3": "PLN", "A2NODRKZP88ZB9": "SEK", "A33AVAJ2PDY3EV": "TRY", "A2VIGQ35RCS4UG": "AED",
    "A21TJRUUN4KGV": "INR", "A19VAU5U5O7RUS": "SGD", "A39IBJ37TRP1C6": "AUD", "A1VC38T7YXB528": "JPY",
}


# ---------------------------------------------------------------------------------------------
# Normalisation

def _payload(raw: Any, what: str) -> Any:
    if isinstance(raw, dict) and "payload" in raw and len(raw) <= 2:  # {"payload": ..., "errors"?: ...}
        return raw["payload"]
    return raw


def _items(items: Any, order_id: str) -> list:
    items = _payload(items, "items")
    if items is None:
        return []
    if isinstance(items, dict):
        other = items.get("AmazonOrderId")
        if other and other != order_id:
            raise InvalidPayload(f"amazon: order {order_id}: items belong to order {other}")
        items = items.get("OrderItems")
    if not isinstance(items, list):
        raise InvalidPayload(f"amazon: order {order_id}: OrderItems must be a list")
    return items


class _Money:
    """Sums SP-API Money objects, refusing a currency other than the order's."""

    def __init__(self, currency: str, where: str):
        self.currency = currency
        self.where = where

    def __call__(self, block: Any, field: str, default: Optional[Decimal] = Decimal("0")) -> Optional[Decimal]:
        if block is None:
            return default
        if not isinstance(block, dict):
            raise InvalidPayload(f"{self.where}.{field}: expected a Money object")
        code = block.get("CurrencyCode")
        if code and code != self.currency:
            raise InvalidPayload(f"{self.where}.{field}: currency {code} differs from the order's {self.currency}")
        return money(block.get("Amount"), f"{self.where}.{field}", default=default)


def _address(raw: Any) -> Optional[NormalizedAddress]:
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise InvalidPayload("amazon: ShippingAddress must be an object")
    line2 = join_name(raw.get("AddressLine2"), raw.get("AddressLine3"))
    return address_or_none(NormalizedAddress(
        name=text(raw.get("Name")),
        company=text(raw.get("CompanyName")),
        line1=text(raw.get("AddressLine1")),
        line2=line2,
        city=text(raw.get("City")),
        region=text(raw.get("StateOrRegion")),
        postcode=text(raw.get("PostalCode")),
        country=text(raw.get("CountryCode")),
        phone=text(raw.get("Phone")),
    ))


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def normalize_order(order: Any, items: Any = None) -> NormalizedOrder:
    """An SP-API order as a ``NormalizedOrder``, from either Orders API version:

    - 2026-01-01 (an ``orderId`` is present): a ``searchOrders`` element or the ``getOrder`` body,
      items embedded (``items`` is not used): :mod:`connectors.amazon_2026`;
    - v0: a ``getOrders`` element or ``getOrder`` payload and its ``OrderItems`` (a list, or the
      ``getOrderItems`` payload/envelope). ``ItemPrice`` is the line total (unit price x
      quantity); ``OrderTotal`` is absent while the order is Pending, which gives ``total=None``.
    """
    if amazon_2026.is_2026(order):
        return amazon_2026.normalize_order(order, MARKETPLACE_CURRENCY)
    return _normalize_v0(_payload(order, "order"), [] if items is None else items)


def _normalize_v0(order: Any, items: Any) -> NormalizedOrder:
    if not isinstance(order, dict):
        raise InvalidPayload(f"amazon: expected an order object, got {type(order).__name__}")
    order_id = str(require(order, "AmazonOrderId", "amazon: order"))
    where = f"amazon: order {order_id}"
    item_list = _items(items, order_id)
    status = order.get("OrderStatus")
    if status not in FINANCIAL_STATUS:
        raise InvalidPayload(f"{where}: unknown OrderStatus {status!r}")

    order_total = order.get("OrderTotal")
    currency = None
    if isinstance(order_total, dict):
        currency = text(order_total.get("CurrencyCode"))
    if not currency:
        for item in item_list:
            if isinstance(item, dict) and isinstance(item.get("ItemPrice"), dict):
                currency = text(item["ItemPrice"].get("CurrencyCode"))
                if currency:
                    break
    currency = currency or MARKETPLACE_CURRENCY.get(order.get("MarketplaceId") or "")
    if not currency:
        raise InvalidPayload(f"{where}: no currency (no OrderTotal, no item price, unknown marketplace)")
    amount = _Money(currency, where)
    total = amount(order_total, "OrderTotal", default=None) if order_total is not None else None

    lines: list[NormalizedLine] = []
    subtotal = shipping = tax = discount = Decimal("0")
    charges: dict[str, Decimal] = {}

    def charge(name: str, value: Decimal) -> None:
        if value:
            charges[name] = charges.get(name, Decimal("0")) + value

    cancel_requests: list[str] = []
    for index, item in enumerate(item_list):
        iw = f"OrderItems[{index}]"
        if not isinstance(item, dict):
            raise InvalidPayload(f"{where}.{iw}: not an object")
        quantity = as_int(require(item, "QuantityOrdered", f"{where}.{iw}"), f"{where}.{iw}.QuantityOrdered")
        if item.get("ItemPrice") is None and status not in ("Pending", "PendingAvailability", "Canceled"):
            raise InvalidPayload(f"{where}.{iw}: missing ItemPrice on a {status} order")
        line_total = amount(item.get("ItemPrice"), f"{iw}.ItemPrice")  # unit price x quantity
        item_tax = amount(item.get("ItemTax"), f"{iw}.ItemTax")
        promo = amount(item.get("PromotionDiscount"), f"{iw}.PromotionDiscount")
        subtotal += line_total
        shipping += amount(item.get("ShippingPrice"), f"{iw}.ShippingPrice")
        tax += item_tax + amount(item.get("ShippingTax"), f"{iw}.ShippingTax")
        discount += promo + amount(item.get("ShippingDiscount"), f"{iw}.ShippingDiscount")
        # charges beyond goods and shipping, each in the order's currency (or refused)
        # gift wrap sits in the item's (restricted) BuyerInfo, or on the item itself
        item_buyer = item.get("BuyerInfo") if isinstance(item.get("BuyerInfo"), dict) else {}
        for key, name in (("GiftWrapPrice", "gift_wrap"), ("GiftWrapTax", "gift_wrap_tax")):
            block = item.get(key) if item.get(key) is not None else item_buyer.get(key)
            place = f"{iw}.{key}" if item.get(key) is not None else f"{iw}.BuyerInfo.{key}"
            charge(name, amount(block, place))
        charge("cod_fee", amount(item.get("CODFee"), f"{iw}.CODFee"))
        charge("cod_fee_discount", amount(item.get("CODFeeDiscount"), f"{iw}.CODFeeDiscount"))
        points = item.get("PointsGranted")
        if isinstance(points, dict):
            # Amazon points the seller grants the buyer (JP): the seller's cost, not the buyer's
            charge("points_granted", amount(points.get("PointsMonetaryValue"), f"{iw}.PointsGranted"))
            if points.get("PointsNumber") not in (None, ""):
                charge("points_granted_number", Decimal(as_int(points["PointsNumber"],
                                                               f"{where}.{iw}.PointsGranted.PointsNumber")))
        elif points is not None:
            raise InvalidPayload(f"{where}.{iw}.PointsGranted: expected an object")
        cancel = item.get("BuyerRequestedCancel") or {}
        if isinstance(cancel, dict) and _flag(cancel.get("IsBuyerRequestedCancel")):
            cancel_requests.append(text(cancel.get("BuyerCancelReason")) or "buyer requested cancellation")
        sku = item.get("SellerSKU")
        lines.append(NormalizedLine(
            external_id=text(item.get("OrderItemId")),
            sku=sku if sku != "" else None,
            title=text(item.get("Title")) or text(sku) or text(item.get("ASIN")) or "",
            quantity=quantity,
            unit_price=unit_price(line_total, quantity),
            subtotal=line_total,
            tax=item_tax,
            discount=promo,
            # Orders v0 has no per-item cancelled quantity (a buyer's request is only a
            # request; a seller cancels whole orders): unknown, never a guessed 0.
            quantity_cancelled=None,
        ))
    tax += charges.get("gift_wrap_tax", Decimal("0"))
    fees = (charges.get("gift_wrap", Decimal("0")) + charges.get("cod_fee", Decimal("0"))
            - charges.get("cod_fee_discount", Decimal("0")))

    buyer = order.get("BuyerInfo") if isinstance(order.get("BuyerInfo"), dict) else {}
    shipping_address = _address(order.get("ShippingAddress"))
    cancelled = status == "Canceled"
    afn = order.get("FulfillmentChannel") == "AFN"
    risk: dict[str, Any] = {}
    for key, name in (("IsPrime", "is_prime"), ("IsBusinessOrder", "is_business_order"),
                      ("IsReplacementOrder", "is_replacement_order"), ("IsPremiumOrder", "is_premium_order")):
        if _flag(order.get(key)):
            risk[name] = True
    if cancel_requests:
        risk["buyer_requested_cancel"] = cancel_requests[0]
    if order.get("PaymentMethod") == "COD":
        risk["payment_method"] = "COD"

    return checked(NormalizedOrder(
        external_id=order_id,
        order_number=order_id,
        placed_at=parse_time(order.get("PurchaseDate"), f"{where}.PurchaseDate", required=True),
        updated_at=parse_time(order.get("LastUpdateDate"), f"{where}.LastUpdateDate"),
        currency=currency,
        subtotal=subtotal,
        shipping_total=shipping,
        tax_total=tax,
        discount_total=discount,
        fees_total=fees,
        total=total,
        email=email(buyer.get("BuyerEmail")) or email(order.get("BuyerEmail")),
        customer_name=text(buyer.get("BuyerName")) or text(order.get("BuyerName"))
        or (shipping_address.name if shipping_address else None),
        shipping_address=shipping_address,
        billing_address=None,
        lines=lines,
        financial_status=FINANCIAL_STATUS[status],
        channel_status=status,
        fulfilled_by_channel=afn or status == "Shipped",
        # shipped only when Amazon says so: an FBA order is Pending or Unshipped first
        fulfillment_status=V0_FULFILLMENT.get(status, "unfulfilled"),
        cancelled=cancelled,
        cancelled_at=parse_time(order.get("LastUpdateDate"), f"{where}.LastUpdateDate") if cancelled else None,
        cancel_reason=(cancel_requests[0] if cancel_requests else None) if cancelled else None,
        refunds=[],  # not in the Orders API (Finances API)
        shipping_method=text(order.get("ShipmentServiceLevelCategory")) or text(order.get("ShipServiceLevel")),
        ship_by=parse_time(order.get("LatestShipDate"), f"{where}.LatestShipDate"),
        risk=risk,
        tags=[],
        charges=charges,
        raw={"order": order, "items": item_list},
    ))


# ---------------------------------------------------------------------------------------------
# Login with Amazon

class LwaTokenProvider:
    """Refresh-token grant against the LWA token endpoint, cached until shortly before expiry."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str, *,
                 session: ChannelSession, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.token_url = token_url
        self._form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                      "client_id": client_id, "client_secret": client_secret}
        self.session = session
        self.time_scale = time_scale
        self._clock = clock
        self._token: Optional[str] = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0

    def token(self) -> str:
        with self._lock:
            if self._token and self._clock() < self._expires_at:
                return self._token
            try:
                data, _ = self.session.request_json("POST", self.token_url, data=self._form, operation="lwa")
            except ChannelError as exc:
                if exc.status in (400, 401, 403):
                    raise ChannelAuthError(f"amazon: Login with Amazon refused the credentials ({exc.body})",
                                           channel="amazon", status=exc.status, url=exc.url) from None
                raise
            token = data.get("access_token") if isinstance(data, dict) else None
            if not token:
                raise ChannelAuthError("amazon: Login with Amazon returned no access_token", channel="amazon")
            expires_in = float(data.get("expires_in") or 3600)
            margin = min(60.0, expires_in / 10)  # refresh a little early
            self._token = token
            self._expires_at = self._clock() + (expires_in - margin) * self.time_scale
            self.refreshes += 1
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._expires_at = 0.0


class _AccessTokenAuth(AuthBase):
    """The LWA access token on every request, unless the request carries a Restricted Data
    Token already (an RDT *is* the access token of the restricted calls it names)."""

    def __init__(self, provider: LwaTokenProvider):
        self.provider = provider

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not request.headers.get("x-amz-access-token"):
            request.headers["x-amz-access-token"] = self.provider.token()
        return request


class RestrictedDataTokens:
    """Restricted Data Tokens (Tokens API ``createRestrictedDataToken``) for Orders v0's PII:
    one token for the generic paths ``/orders/v0/orders/{orderId}/address`` and ``.../buyerInfo``
    serves every order, cached until shortly before it expires."""

    PATH = "/tokens/2021-03-01/restrictedDataToken"
    RESOURCES = [{"method": "GET", "path": "/orders/v0/orders/{orderId}/address"},
                 {"method": "GET", "path": "/orders/v0/orders/{orderId}/buyerInfo"}]

    def __init__(self, connector: "AmazonConnector", clock: Callable[[], float] = time.monotonic):
        self.connector = connector
        self._clock = clock
        self._token: Optional[str] = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.issued = 0

    def token(self) -> str:
        with self._lock:
            if self._token and self._clock() < self._expires_at:
                return self._token
            data, _ = self.connector.session.request_json(
                "POST", f"{self.connector.base_url}{self.PATH}", json={"restrictedResources": self.RESOURCES},
                operation="createRestrictedDataToken")
            token = data.get("restrictedDataToken") if isinstance(data, dict) else None
            if not token:
                raise ChannelAuthError("amazon: the Tokens API returned no restrictedDataToken", channel="amazon")
            expires_in = float(data.get("expiresIn") or 3600)
            self._token = token
            self._expires_at = self._clock() + (expires_in - min(60.0, expires_in / 10)) * self.connector.time_scale
            self.issued += 1
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token, self._expires_at = None, 0.0


def _sandbox_token_url(base_url: str) -> Optional[str]:
    parts = urlsplit(base_url)
    if re.fullmatch(r"/amazon/[^/]+/?", parts.path or ""):
        return f"{parts.scheme}://{parts.netloc}/amazon/auth/o2/token"
    return None


class AmazonConnector(AmazonStock, AmazonWrites, AmazonReturns, PagedOrderConnector):
    """``AmazonConnector("https://sellingpartnerapi-eu.amazon.com", {"refresh_token": .., "client_id": ..,
    "client_secret": .., "marketplace_ids": ["A1PA6795UKMFR9"]})``.

    Without ``marketplace_ids`` it polls every marketplace the seller participates in.

    ``token_url`` defaults to Amazon's LWA endpoint, or to the sandbox's when ``base_url`` is a
    sandbox path (``http://host:port/amazon/<region>``).
    """

    channel = "amazon"

    def __init__(self, base_url: str, credentials: dict, *, marketplace_ids: Optional[list[str]] = None,
                 token_url: Optional[str] = None, page_size: int = 100, time_scale: float = 1.0,
                 api_version: Optional[str] = None,
                 session: Optional[ChannelSession] = None, max_retries: int = 5,
                 timeout: tuple[float, float] = (5.0, 30.0)):
        credentials = credentials or {}
        missing = [k for k in ("refresh_token", "client_id", "client_secret") if not credentials.get(k)]
        if missing:
            raise ValueError(f"amazon: credentials need {', '.join(missing)}")
        base_url = (base_url or DEFAULT_ENDPOINT).rstrip("/")
        if "://" not in base_url:
            base_url = "https://" + base_url
        self.base_url = base_url
        ids = marketplace_ids or credentials.get("marketplace_ids") or credentials.get("marketplace_id")
        if isinstance(ids, str):
            ids = [m.strip() for m in ids.split(",") if m.strip()]
        # None: every marketplace the seller participates in, asked once (getMarketplaceParticipations)
        self._marketplace_ids: Optional[list[str]] = list(ids) if ids else None
        self.page_size = max(1, min(int(page_size), 100))
        self.api_version = api_version or credentials.get("api_version") or DEFAULT_API_VERSION
        self.seller_id: Optional[str] = credentials.get("seller_id")
        if self.api_version not in API_VERSIONS:
            raise ValueError(f"amazon: api_version must be one of {', '.join(API_VERSIONS)}")
        self.time_scale = time_scale
        self.restarts = 0  # searchOrders passes begun again after a pagination token expired
        self.session = session or make_session("amazon", rate_limits=SP_API_RATES, time_scale=time_scale,
                                               max_retries=max_retries, timeout=timeout)
        lwa_session = make_session("amazon-lwa", time_scale=time_scale, max_retries=max_retries, timeout=timeout)
        self.tokens = LwaTokenProvider(
            token_url or credentials.get("token_url") or _sandbox_token_url(base_url) or LWA_TOKEN_URL,
            credentials["client_id"], credentials["client_secret"], credentials["refresh_token"],
            session=lwa_session, time_scale=time_scale)
        self.session.auth = _AccessTokenAuth(self.tokens)
        self.session.headers["Accept"] = "application/json"
        self.rdt = RestrictedDataTokens(self)

    # -- HTTP --------------------------------------------------------------------------------
    def _call(self, path: str, operation: str, params: Optional[dict] = None, restricted: bool = False) -> Any:
        url = f"{self.base_url}{path}"
        provider = self.rdt if restricted else self.tokens

        def send():
            headers = {"x-amz-access-token": self.rdt.token()} if restricted else None
            return self.session.get_json(url, params=params, operation=operation, headers=headers)[0]

        try:
            return send()
        except ChannelAuthError as exc:
            if exc.status != 403:
                raise
            # SP-API answers 403 to an expired access (or restricted data) token: renew once
            provider.invalidate()
            return send()

    def _get(self, path: str, operation: str, params: Optional[dict] = None, restricted: bool = False) -> Any:
        data = self._call(path, operation, params, restricted)
        if not isinstance(data, dict) or not isinstance(data.get("payload"), (dict, list)):
            raise ChannelError(f"amazon: {operation} returned no payload", channel="amazon")
        return data["payload"]

    def _fetch_items(self, order_id: str) -> list:
        items: list = []
        token: Optional[str] = None
        while True:
            params = {"NextToken": token} if token else None
            payload = self._get(f"/orders/v0/orders/{order_id}/orderItems", "getOrderItems", params)
            items.extend(payload.get("OrderItems") or [])
            token = payload.get("NextToken")
            if not token:
                return items

    @property
    def marketplace_ids(self) -> list[str]:
        if self._marketplace_ids is None:
            self._marketplace_ids = self._participations() or ["ATVPDKIKX0DER"]
        return self._marketplace_ids

    def _participations(self) -> list[str]:
        payload = self._get("/sellers/v1/marketplaceParticipations", "getMarketplaceParticipations")
        ids = []
        for entry in payload if isinstance(payload, list) else []:
            marketplace = entry.get("marketplace") or {}
            participating = (entry.get("participation") or {}).get("isParticipating", True)
            if marketplace.get("id") and participating:
                ids.append(marketplace["id"])
        return ids

    def _with_restricted_data(self, order: dict) -> dict:
        """A v0 order with its buyer and full shipping address, read with a Restricted Data
        Token (``getOrderAddress``, ``getOrderBuyerInfo``). Pending and cancelled orders have
        none to give. The copy keeps them, so the stored payload normalises the same again."""
        if order.get("OrderStatus") in ("Pending", "PendingAvailability", "Canceled"):
            return order
        order_id = order["AmazonOrderId"]
        address = self._get(f"/orders/v0/orders/{order_id}/address", "getOrderAddress", restricted=True)
        buyer = self._get(f"/orders/v0/orders/{order_id}/buyerInfo", "getOrderBuyerInfo", restricted=True)
        copy = dict(order)
        if isinstance(address, dict) and address.get("ShippingAddress"):
            copy["ShippingAddress"] = address["ShippingAddress"]
        if isinstance(buyer, dict):
            copy["BuyerInfo"] = {k: v for k, v in buyer.items() if k != "AmazonOrderId"}
        return copy

    # -- PagedOrderConnector -----------------------------------------------------------------
    def _raw_id(self, raw: Any) -> str:
        return str(raw.get("orderId") or raw["AmazonOrderId"])

    def _normalize_raw(self, raw: Any) -> NormalizedOrder:
        if self.api_version == amazon_2026.VERSION:
            return normalize_order(raw)  # items, buyer and recipient are in the order
        order_id = raw.get("AmazonOrderId") if isinstance(raw, dict) else None
        if not order_id:
            raise InvalidPayload("amazon: order without AmazonOrderId")
        try:
            items = self._fetch_items(order_id)
            raw = self._with_restricted_data(raw)
        except ChannelNotFound as exc:
            raise InvalidPayload(f"amazon: order {order_id}: its items or restricted data are not found ({exc})") \
                from None
        return normalize_order(raw, items)

    def _fetch_raw_page(self, updated_since: datetime, cursor: Optional[str]) -> tuple[list, Optional[str]]:
        if self.api_version == amazon_2026.VERSION:
            return self._search_orders(updated_since, cursor)
        return self._get_orders_v0(updated_since, cursor)

    def _search_orders(self, updated_since: datetime, cursor: Optional[str]) -> tuple[list, Optional[str]]:
        """One page of ``searchOrders``. A continuation sends every parameter of the first request
        again with the ``paginationToken``. A token lives 24 hours: when Amazon says it expired,
        the pass begins again from its first page (importing is idempotent: the orders already
        seen change nothing), at most :data:`MAX_RESTARTS` times."""
        params: dict[str, Any] = {
            "lastUpdatedAfter": updated_since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "marketplaceIds": ",".join(self.marketplace_ids),
            "includedData": ",".join(amazon_2026.INCLUDED_DATA),
            "maxResultsPerPage": self.page_size,
        }
        if cursor:
            params["paginationToken"] = cursor
        try:
            data = self._call(f"/orders/{amazon_2026.VERSION}/orders", "searchOrders", params)
        except ChannelError as exc:
            if not (cursor and exc.status == 400 and "expired" in (exc.body or "").lower()):
                raise
            self.restarts += 1
            if self.restarts > MAX_RESTARTS:
                raise ChannelError(f"amazon: searchOrders pagination tokens expired {self.restarts} times in "
                                   "this pass", channel="amazon", status=400) from None
            log.warning("amazon: the searchOrders pagination token expired; beginning the pass again")
            self._restarted = True  # the first page again is no replayed page (paging.py)
            return self._search_orders(updated_since, None)
        orders = data.get("orders") if isinstance(data, dict) else None
        if not isinstance(orders, list):
            raise ChannelError("amazon: searchOrders returned no orders list", channel="amazon")
        return orders, ((data.get("pagination") or {}).get("nextToken") or None)

    def _get_orders_v0(self, updated_since: datetime, cursor: Optional[str]) -> tuple[list, Optional[str]]:
        params: dict[str, Any] = {"MarketplaceIds": ",".join(self.marketplace_ids)}
        if cursor:
            params["NextToken"] = cursor
        else:
            params["LastUpdatedAfter"] = updated_since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            params["MaxResultsPerPage"] = self.page_size
        payload = self._get("/orders/v0/orders", "getOrders", params)
        orders = payload.get("Orders")
        if not isinstance(orders, list):
            raise ChannelError("amazon: getOrders payload has no Orders list", channel="amazon")
        return orders, payload.get("NextToken") or None

    def fetch_order(self, external_id: str) -> NormalizedOrder:
        if self.api_version == amazon_2026.VERSION:
            data = self._call(f"/orders/{amazon_2026.VERSION}/orders/{external_id}", "getOrder2026",
                              {"includedData": ",".join(amazon_2026.INCLUDED_DATA)})
            return normalize_order(data)
        order = self._get(f"/orders/v0/orders/{external_id}", "getOrder")
        return normalize_order(self._with_restricted_data(order), self._fetch_items(external_id))

    def fetch_listings(self) -> ListingSnapshot:
        """The seller's listings (Listings Items API 2021-08-01 ``searchListingsItems``, 20 a page):
        SKU, ASIN and ``productType`` (which ``patchListingsItem`` needs to push stock). Needs the
        seller id (credentials ``seller_id``)."""
        if not self.seller_id:
            raise ChannelError("amazon: listings need the seller id (credentials 'seller_id')", channel="amazon")
        listings: list[NormalizedListing] = []
        token: Optional[str] = None
        while True:
            params = {"marketplaceIds": self.marketplace_ids[0], "includedData": "summaries", "pageSize": 20}
            if token:
                params["pageToken"] = token
            data = self._call(f"/listings/2021-08-01/items/{self.seller_id}", "searchListingsItems", params)
            for item in (data or {}).get("items") or []:
                summary = next(iter(item.get("summaries") or []), {})
                listings.append(NormalizedListing(
                    external_key=item["sku"], sku=item["sku"], title=text(summary.get("itemName")) or item["sku"],
                    external_id=text(summary.get("asin")), asin=text(summary.get("asin")),
                    product_type=text(summary.get("productType"))))
            token = ((data or {}).get("pagination") or {}).get("nextToken")
            if not token:
                return ListingSnapshot(listings)

    def test_connection(self) -> None:
        ids = self._participations()
        if self._marketplace_ids is None:
            self._marketplace_ids = ids or None
