"""WooCommerce REST API v3 orders connector.

Polls ``GET {base}/wp-json/wc/v3/orders?modified_after=..&dates_are_gmt=true&per_page=100&page=N``
ordered by id (stable while orders change during paging), ``X-WP-TotalPages`` tells where to stop.
Auth: HTTP Basic with the consumer key/secret over HTTPS (or them as query parameters,
``auth="query"``); over plain HTTP WooCommerce only accepts one-legged OAuth 1.0a, which
:class:`WooOAuth1` signs (HMAC-SHA256, the same scheme as the official ``woocommerce`` client).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Optional
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from . import currencies
from .base import (ListingSnapshot, NormalizedAddress, NormalizedLine, NormalizedListing, NormalizedOrder,
                   NormalizedRefund, checked)
from .errors import ChannelError, InvalidPayload
from .http import ChannelSession, make_session
from .paging import PagedOrderConnector
from .stock_push import WooCommerceStock
from .woocommerce_writes import WooCommerceWrites
from .parsing import (address_or_none, apportion, as_int, email, join_name, money, money_sum, parse_time, require,
                      text, unit_price)

API_PATH = "wp-json/wc/v3"

# WooCommerce order status -> Waybill financial status (refunds adjust paid orders below)
FINANCIAL_STATUS = {
    "pending": "pending",          # awaiting payment
    "on-hold": "pending",          # awaiting confirmation of payment (e.g. bank transfer)
    "checkout-draft": "pending",
    "draft": "pending",
    "processing": "paid",
    "completed": "paid",
    "refunded": "refunded",
    "cancelled": "voided",
    "failed": "voided",
    "trash": "voided",
}


# ---------------------------------------------------------------------------------------------
# OAuth 1.0a (one-legged) as WooCommerce verifies it over plain HTTP

def _oauth_encode(value: str) -> str:
    return quote(unquote(str(value))).replace("%", "%25")


def oauth1_signature(method: str, url: str, params: Iterable[tuple[str, str]], consumer_secret: str) -> str:
    """Base64 HMAC-SHA256 over ``METHOD&quoted(url)&sorted, double-encoded params``, key ``secret&``.

    ``url`` is scheme://host[:port]/path without the query; ``params`` excludes ``oauth_signature``.
    """
    pairs = sorted(((k, v) for k, v in params if k != "oauth_signature"), key=lambda kv: kv[0])
    query = "%26".join(f"{_oauth_encode(k)}%3D{_oauth_encode(v)}" for k, v in pairs)
    to_sign = f"{method.upper()}&{quote(url, '')}&{query}"
    digest = hmac.new(f"{consumer_secret}&".encode(), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class WooOAuth1(AuthBase):
    """Signs each request (fresh nonce and timestamp on every retry) with query-string OAuth."""

    def __init__(self, consumer_key: str, consumer_secret: str):
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url)
        params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("oauth_")]
        params += [
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_timestamp", str(int(time.time()))),
            ("oauth_nonce", secrets.token_hex(16)),
            ("oauth_signature_method", "HMAC-SHA256"),
        ]
        base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        params.append(("oauth_signature", oauth1_signature(request.method or "GET", base, params,
                                                           self.consumer_secret)))
        request.url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))
        return request


class _QueryKeyAuth(AuthBase):
    def __init__(self, consumer_key: str, consumer_secret: str):
        self.params = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, self.params)
        return request


# ---------------------------------------------------------------------------------------------
# Normalisation

def _address(raw: Any, email_too: bool = False) -> Optional[NormalizedAddress]:
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise InvalidPayload(f"woocommerce: address must be an object, got {type(raw).__name__}")
    return address_or_none(NormalizedAddress(
        name=join_name(raw.get("first_name"), raw.get("last_name")),
        company=text(raw.get("company")),
        line1=text(raw.get("address_1")),
        line2=text(raw.get("address_2")),
        city=text(raw.get("city")),
        region=text(raw.get("state")),
        postcode=text(raw.get("postcode")),
        country=text(raw.get("country")),
        phone=text(raw.get("phone")),
    ))


def _gmt(raw: dict, key: str, where: str, required: bool = False) -> Optional[datetime]:
    """``date_x_gmt`` is UTC without a zone. The site-local ``date_x`` is only usable if it has one."""
    gmt = raw.get(f"{key}_gmt")
    if gmt:
        return parse_time(gmt, f"{where}.{key}_gmt", naive_is_utc=True)
    local = raw.get(key)
    if local:
        try:
            return parse_time(local, f"{where}.{key}")
        except InvalidPayload:
            raise InvalidPayload(f"{where}: {key} {local!r} is site-local time without a zone and "
                                 f"{key}_gmt is missing") from None
    if required:
        raise InvalidPayload(f"{where}: missing {key}_gmt")
    return None


def _line(raw: Any, index: int) -> NormalizedLine:
    where = f"woocommerce: line_items[{index}]"
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{where} is not an object")
    quantity = as_int(require(raw, "quantity", where), f"{where}.quantity")
    subtotal = money(raw.get("subtotal"), f"{where}.subtotal")
    total = money(raw.get("total"), f"{where}.total")
    if subtotal is None:
        price = money(raw.get("price"), f"{where}.price")
        if price is None:
            raise InvalidPayload(f"{where}: neither subtotal nor price")
        subtotal = price * quantity
    if total is None:
        total = subtotal
    sku = raw.get("sku")
    return NormalizedLine(
        external_id=str(raw["id"]) if raw.get("id") is not None else None,
        sku=sku if sku != "" else None,  # exactly as sent; "" means "no SKU"
        title=html.unescape(text(raw.get("name")) or ""),
        quantity=quantity,
        unit_price=unit_price(subtotal, quantity),  # before discounts, like the other channels
        subtotal=subtotal,
        tax=money(raw.get("total_tax"), f"{where}.total_tax", default=Decimal("0")),
        discount=subtotal - total,
        # The order's line_items keep their ordered quantity after a refund; refunded units
        # are only in GET /orders/{id}/refunds (line_items[] with negative quantity), not in
        # the order or its webhook: unknown here.
        quantity_cancelled=None,
    )


def _line_taxes_to_order_tax(raw: dict, lines: list[NormalizedLine], currency: str, where: str) -> None:
    """Line taxes that add up to the order's item tax.

    WooCommerce keeps each line's tax unrounded (``taxes[].total``, e.g. "0.4545") and, with its
    default "round tax at subtotal level", rounds only the order's sum (``cart_tax``), while
    each line's ``total_tax`` is rounded on its own: summed, those drift a cent from the
    order. The lines get the unrounded taxes rounded by largest remainder to add up to the
    order's item tax (``cart_tax`` less the fee lines' tax); where the payload does not allow
    that, each line keeps its own ``total_tax``.
    """
    cart_tax = money(raw.get("cart_tax"), f"{where}.cart_tax")
    if cart_tax is None or not lines:
        return
    fee_tax = money_sum(money(f.get("total_tax"), f"{where}.fee_lines.total_tax")
                        for f in raw.get("fee_lines") or [] if isinstance(f, dict))
    exact = []
    for index, item in enumerate(raw["line_items"]):
        taxes = item.get("taxes") if isinstance(item, dict) else None
        if not taxes:
            exact.append(lines[index].tax)
            continue
        exact.append(money_sum(money(t.get("total"), f"{where}.line_items[{index}].taxes.total")
                               for t in taxes if isinstance(t, dict)))
    rounded = apportion(exact, cart_tax - fee_tax, currencies.quantum(currency))
    if rounded is not None:
        for line, tax in zip(lines, rounded):
            line.tax = tax


def normalize_refund(raw: Any) -> NormalizedRefund:
    """A refund from ``order.refunds[]`` (``total`` negative, reason under ``reason`` or, in
    older payloads, ``refund``) or from ``GET /orders/{id}/refunds`` (``amount`` positive)."""
    if not isinstance(raw, dict) or raw.get("id") is None:
        raise InvalidPayload("woocommerce: refund without an id")
    where = f"woocommerce: refund {raw['id']}"
    if raw.get("amount") not in (None, ""):
        amount = money(raw["amount"], f"{where}.amount")
    else:
        amount = money(raw.get("total"), f"{where}.total")
        if amount is None:
            raise InvalidPayload(f"{where}: no amount or total")
    reason = raw.get("reason") if "reason" in raw else raw.get("refund")
    return NormalizedRefund(
        external_id=str(raw["id"]),
        amount=abs(amount),
        created_at=_gmt(raw, "date_created", where),
        reason=text(reason),
    )


def normalize_order(raw: Any) -> NormalizedOrder:
    """A WooCommerce v3 order as a ``NormalizedOrder``."""
    if not isinstance(raw, dict):
        raise InvalidPayload(f"woocommerce: expected an order object, got {type(raw).__name__}")
    order_id = require(raw, "id", "woocommerce: order")
    where = f"woocommerce: order {order_id}"
    if "line_items" not in raw or "status" not in raw:
        raise InvalidPayload(f"{where}: not an order (no status or line_items)")
    status = raw.get("status")
    if status not in FINANCIAL_STATUS:
        raise InvalidPayload(f"{where}: unknown status {status!r}")
    currency = text(raw.get("currency"))
    if not currency:
        raise InvalidPayload(f"{where}: missing currency")
    if not isinstance(raw["line_items"], list):
        raise InvalidPayload(f"{where}: line_items must be a list")
    lines = [_line(li, i) for i, li in enumerate(raw["line_items"])]
    _line_taxes_to_order_tax(raw, lines, currency, where)
    fees = money_sum(money(f.get("total"), f"{where}.fee_lines.total")
                     for f in raw.get("fee_lines") or [] if isinstance(f, dict))
    subtotal = money_sum(money(li.get("subtotal"), f"{where}.line_items.subtotal") for li in raw["line_items"]
                         if isinstance(li, dict))
    total = money(raw.get("total"), f"{where}.total")
    refunds = [normalize_refund(r) for r in raw.get("refunds") or []]
    refunded = money_sum(r.amount for r in refunds)

    financial = FINANCIAL_STATUS[status]
    if financial == "paid" and refunded > 0:
        financial = "refunded" if total is not None and refunded >= total else "partially_refunded"

    billing = raw.get("billing") if isinstance(raw.get("billing"), dict) else {}
    billing_address = _address(billing)
    shipping_address = _address(raw.get("shipping"))
    shipping_lines = raw.get("shipping_lines") or []
    cancelled = status == "cancelled"
    return checked(NormalizedOrder(
        external_id=str(order_id),
        order_number=text(raw.get("number")) or str(order_id),
        placed_at=_gmt(raw, "date_created", where, required=True),
        updated_at=_gmt(raw, "date_modified", where),
        currency=currency,
        subtotal=subtotal,
        shipping_total=money(raw.get("shipping_total"), f"{where}.shipping_total", default=Decimal("0")),
        tax_total=money(raw.get("total_tax"), f"{where}.total_tax", default=Decimal("0")),
        discount_total=money(raw.get("discount_total"), f"{where}.discount_total", default=Decimal("0")),
        fees_total=fees,
        total=total,
        email=email(billing.get("email")),
        customer_name=join_name(billing.get("first_name"), billing.get("last_name"))
        or (shipping_address.name if shipping_address else None),
        shipping_address=shipping_address,
        billing_address=billing_address,
        lines=lines,
        financial_status=financial,
        channel_status=status,
        fulfilled_by_channel=status == "completed",
        fulfillment_status="fulfilled" if status == "completed" else "unfulfilled",
        cancelled=cancelled,
        cancelled_at=_gmt(raw, "date_modified", where) if cancelled else None,
        cancel_reason=None,
        refunds=refunds,
        shipping_method=text(html.unescape(shipping_lines[0].get("method_title") or "")) if shipping_lines else None,
        ship_by=None,
        risk={},
        tags=[],
        charges={"fees": fees} if fees else {},
        raw=raw,
    ))


# ---------------------------------------------------------------------------------------------
# Connector

class WooCommerceConnector(WooCommerceStock, WooCommerceWrites, PagedOrderConnector):
    """``WooCommerceConnector("https://shop.example", {"consumer_key": "ck_..", "consumer_secret": "cs_.."})``.

    ``auth``: ``"auto"`` (Basic over HTTPS, OAuth 1.0a over HTTP), ``"basic"``, ``"query"`` or ``"oauth1"``.
    """

    channel = "woocommerce"

    def __init__(self, base_url: str, credentials: dict, *, auth: str = "auto", page_size: int = 100,
                 time_scale: float = 1.0, session: Optional[ChannelSession] = None, max_retries: int = 5,
                 timeout: tuple[float, float] = (5.0, 30.0)):
        key = (credentials or {}).get("consumer_key")
        secret = (credentials or {}).get("consumer_secret")
        if not key or not secret:
            raise ValueError("woocommerce: credentials need 'consumer_key' and 'consumer_secret'")
        if "://" not in base_url:
            base_url = "https://" + base_url
        self.base_url = base_url.rstrip("/")
        self.page_size = min(int(page_size), 100)
        self.session = session or make_session("woocommerce", time_scale=time_scale, max_retries=max_retries,
                                               timeout=timeout)
        if auth == "auto":
            auth = "basic" if self.base_url.startswith("https://") else "oauth1"
        if auth == "basic":
            self.session.auth = HTTPBasicAuth(key, secret)
        elif auth == "query":
            self.session.auth = _QueryKeyAuth(key, secret)
        elif auth == "oauth1":
            self.session.auth = WooOAuth1(key, secret)
        else:
            raise ValueError(f"woocommerce: unknown auth {auth!r}")
        self.session.headers["Accept"] = "application/json"

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{API_PATH}/{path}"

    def _raw_id(self, raw: Any) -> str:
        return str(raw["id"])

    def _normalize_raw(self, raw: Any):
        return normalize_order(self._with_refund_dates(raw))

    def _with_refund_dates(self, raw: Any) -> Any:
        """The order with its refunds' dates filled in from ``GET /orders/{id}/refunds``.

        An order's embedded ``refunds[]`` carry only id, reason and total; the refund
        resource has ``date_created_gmt``. Asked only for orders with an undated refund; the
        copy keeps the dates so that the stored payload normalises the same way again.
        """
        if not isinstance(raw, dict) or raw.get("id") is None:
            return raw
        embedded = raw.get("refunds")
        if not isinstance(embedded, list) or all(
                not isinstance(r, dict) or r.get("date_created_gmt") for r in embedded):
            return raw
        data, _ = self.session.get_json(self._url(f"orders/{raw['id']}/refunds"))
        if not isinstance(data, list):
            raise ChannelError("woocommerce: refunds did not return a JSON array", channel="woocommerce")
        dated = {str(r.get("id")): r for r in data if isinstance(r, dict)}
        copy = dict(raw)
        copy["refunds"] = []
        for refund in embedded:
            full = dated.get(str(refund.get("id"))) if isinstance(refund, dict) else None
            if full is not None:
                refund = dict(refund, date_created=full.get("date_created"),
                              date_created_gmt=full.get("date_created_gmt"))
            copy["refunds"].append(refund)
        return copy

    def _fetch_raw_page(self, updated_since: datetime, cursor: Optional[str]) -> tuple[list, Optional[str]]:
        page = int(cursor) if cursor else 1
        params = {
            "modified_after": updated_since.replace(tzinfo=None).isoformat(timespec="seconds"),
            "dates_are_gmt": "true",
            "per_page": self.page_size,
            "page": page,
            "orderby": "id",
            "order": "asc",
        }
        data, response = self.session.get_json(self._url("orders"), params=params)
        if not isinstance(data, list):
            raise ChannelError("woocommerce: orders did not return a JSON array", channel="woocommerce",
                               status=response.status_code)
        total_pages = response.headers.get("X-WP-TotalPages")
        if total_pages is not None and total_pages.strip().isdigit():
            has_next = page < int(total_pages)
        else:
            has_next = len(data) >= self.page_size
        return data, (str(page + 1) if has_next and data else None)

    def fetch_order(self, external_id: str):
        data, _ = self.session.get_json(self._url(f"orders/{external_id}"))
        return normalize_order(self._with_refund_dates(data))

    def fetch_refunds(self, external_id: str) -> list[NormalizedRefund]:
        data, _ = self.session.get_json(self._url(f"orders/{external_id}/refunds"))
        if not isinstance(data, list):
            raise ChannelError("woocommerce: refunds did not return a JSON array", channel="woocommerce")
        return [normalize_refund(r) for r in data]

    def _all_pages(self, path: str) -> list:
        items, page = [], 1
        while True:
            data, response = self.session.get_json(self._url(path), params={"per_page": 100, "page": page})
            if not isinstance(data, list):
                raise ChannelError(f"woocommerce: {path} did not return a JSON array", channel="woocommerce")
            items += data
            pages = response.headers.get("X-WP-TotalPages", "")
            if not data or not pages.isdigit() or page >= int(pages):
                return items
            page += 1

    def fetch_listings(self) -> ListingSnapshot:
        """Products, and the variations of variable products (each its own listing)."""
        listings = []
        for product in self._all_pages("products"):
            name = html.unescape(text(product.get("name")) or "")
            if product.get("type") == "variable":
                for variation in self._all_pages(f"products/{product['id']}/variations"):
                    option = ", ".join(text(a.get("option")) or "" for a in variation.get("attributes") or [])
                    listings.append(NormalizedListing(
                        external_key=f"{product['id']}/{variation['id']}", sku=text(variation.get("sku")),
                        title=f"{name} – {option}" if option else name, external_id=str(product["id"]),
                        external_variant_id=str(variation["id"])))
            else:
                listings.append(NormalizedListing(external_key=str(product["id"]), sku=text(product.get("sku")),
                                                  title=name, external_id=str(product["id"])))
        return ListingSnapshot(listings)

    def test_connection(self) -> None:
        data, _ = self.session.get_json(self._url("orders"), params={"per_page": 1})
        if not isinstance(data, list):
            raise ChannelError("woocommerce: orders did not return a JSON array", channel="woocommerce")
