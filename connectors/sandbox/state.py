"""In-memory state of the sandbox: catalog, generated orders, clock, faults, rate-limit buckets.

Orders are kept in one channel-neutral shape (:class:`SimOrder`); ``render.py`` turns them into
each API's JSON. Everything random comes from ``random.Random(seed)`` so a given seed (and a fixed
``start_time``) gives the same orders.
"""
from __future__ import annotations

import random
import threading
from collections import OrderedDict
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Optional

from .. import currencies

CHANNELS = ("shopify", "woocommerce", "amazon")

DEFAULT_CREDENTIALS: dict[str, dict[str, str]] = {
    "shopify": {"access_token": "shpat_sandbox_0123456789abcdef"},
    "woocommerce": {"consumer_key": "ck_sandbox_0123456789abcdef", "consumer_secret": "cs_sandbox_fedcba9876543210"},
    "amazon": {
        "client_id": "amzn1.application-oa2-client.sandbox",
        "client_secret": "amzn1.oa2-cs.v1.sandbox-secret",
        "refresh_token": "Atzr|sandbox-refresh-token",
        "seller_id": "A3SANDBOXSELLER1",
    },
}

DEFAULT_CATALOG: list[dict[str, Any]] = [
    {"sku": "TEE-BLK-M", "name": "Organic Tee – Black / M", "price": "24.00"},
    {"sku": "TEE-WHT-L", "name": "Organic Tee – White / L", "price": "24.00"},
    {"sku": "mug-01", "name": "Café Mug “Früh”", "price": "12.50"},
    {"sku": "HOOD-GRY-S", "name": "Zip Hoodie Grey S", "price": "59.90"},
    {"sku": "CAP-NVY", "name": "Baseball Cap Navy", "price": "19.99"},
    {"sku": "SOCK-3PK", "name": "Socks 3-pack", "price": "14.95"},
    {"sku": "BAG-TOTE", "name": "Canvas Tote & Pouch", "price": "18.00"},
    {"sku": "BOTTLE-750", "name": "Steel Bottle 750 ml", "price": "29.00"},
    {"sku": "NB-A5-dot", "name": "Notebook A5 dotted", "price": "9.80"},
    {"sku": "PEN-SET-ÆØ", "name": "Pen set Ærø", "price": "7.45"},
    {"sku": "TEA-MATCHA", "name": "抹茶 Matcha 100g", "price": "21.30"},
    {"sku": "EBOOK-GUIDE", "name": "Care Guide (e-book)", "price": "4.99", "digital": True},
]

# country, currency, tax rate, [(first, last)], city, region, postcode, street, phone
COUNTRIES = [
    ("US", "USD", Decimal("0.0725"), [("Bob", "Norman"), ("Chloë", "O'Brien"), ("Nguyễn", "Văn An")],
     "San Francisco", "CA", "94103", "969 Market St", "+1 415 555 0199"),
    ("DE", "EUR", Decimal("0.19"), [("Zoë", "Müller"), ("Jürgen", "Groß"), ("Amélie", "Poulain")],
     "München", "BY", "80331", "Marienplatz 8", "+49 89 1234567"),
    ("GB", "GBP", Decimal("0.20"), [("Siobhán", "Ní Bhriain"), ("Oliver", "Smith")],
     "London", "LND", "EC1A 1BB", "1 St Martin's Le Grand", "+44 20 7946 0018"),
    ("JP", "JPY", Decimal("0.10"), [("太郎", "山田"), ("Hanako", "Sato")],
     "東京都", "13", "100-0001", "千代田1-1", "+81 3-1234-5678"),
    ("PL", "PLN", Decimal("0.23"), [("Łukasz", "Żółć"), ("Agnieszka", "Wiśniewska")],
     "Kraków", "MA", "31-042", "Rynek Główny 1", "+48 12 345 67 89"),
    ("CA", "CAD", Decimal("0.13"), [("François", "Lévesque"), ("Søren", "Kierkegård")],
     "Toronto", "ON", "M5H 2N2", "100 Queen St W", "+1 416 555 0142"),
]
RATES = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "JPY": Decimal("150"),
         "PLN": Decimal("4"), "CAD": Decimal("1.36")}

AMAZON_REGIONS = {
    "na": [("ATVPDKIKX0DER", "US", "Amazon.com"), ("A2EUQ1WTGCTBG2", "CA", "Amazon.ca")],
    "eu": [("A1PA6795UKMFR9", "DE", "Amazon.de"), ("A1F83G8C2ARO7P", "GB", "Amazon.co.uk"),
           ("A1C3SOZRARQ6R3", "PL", "Amazon.pl")],
    "fe": [("A1VC38T7YXB528", "JP", "Amazon.co.jp")],
}
AMAZON_PREFIX = {"na": "1", "eu": "3", "fe": "5"}

# SP-API usage plans (requests per nominal second, burst); each Orders API version has its own
SP_API_LIMITS = {"getOrders": (0.0167, 20), "getOrder": (0.5, 30), "getOrderItems": (0.5, 30),
                 "getOrderAddress": (0.5, 30), "getOrderBuyerInfo": (0.5, 30),
                 "getMarketplaceParticipations": (0.016, 15),
                 "searchOrders": (0.0056, 20), "getOrder2026": (0.5, 30),
                 "createRestrictedDataToken": (1.0, 10), "searchListingsItems": (5.0, 5),
                 "confirmShipment": (2.0, 10), "createFeedDocument": (0.5, 15), "createFeed": (0.0083, 15),
                 "getFeed": (2.0, 15), "getFeeds": (0.0222, 10), "getFeedDocument": (0.0222, 10),
                 "createReport": (0.0167, 15), "getReport": (2.0, 15), "getReportDocument": (0.0167, 15)}
# searchOrders pagination tokens live this long (nominal seconds)
PAGINATION_TOKEN_SECONDS = 24 * 3600
SHOPIFY_BUCKET = 40
SHOPIFY_LEAK = 2.0


def quantum(currency: str) -> Decimal:
    return currencies.quantum(currency)


def q(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


@dataclass
class SimLine:
    line_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax: Decimal
    digital: bool = False
    cancelled: int = 0  # units removed after the order was placed (an order edit)
    shipped: int = 0  # units a seller's fulfilment write shipped (writes.py)

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class SimRefund:
    refund_id: int
    amount: Decimal
    created_at: datetime
    reason: str
    lines: dict = field(default_factory=dict)  # line id -> units (refunds written by a seller)
    reference: Optional[str] = None  # the seller's key (note, reason, adjustment item id)
    shipping: Decimal = Decimal("0")


@dataclass
class SimOrder:
    channel: str
    shop: str
    seq: int
    external_id: str
    number: str
    created_at: datetime
    updated_at: datetime
    currency: str
    country: str
    first_name: str
    last_name: str
    email: str  # "" when the channel has none
    phone: str
    address: Optional[dict]  # None for digital-only orders
    lines: list[SimLine]
    shipping: Decimal
    shipping_method: str
    payment: str  # pending | authorized | paid
    fulfilled: bool = False
    fulfilled_at: Optional[datetime] = None
    cancelled_at: Optional[datetime] = None
    cancel_reason: Optional[str] = None
    refunds: list[SimRefund] = field(default_factory=list)
    fba: bool = False
    marketplace_id: Optional[str] = None
    sales_channel: Optional[str] = None
    prime: bool = False
    tags: list[str] = field(default_factory=list)
    paid_at: Optional[datetime] = None
    version: int = 1
    corrupt: bool = False  # rendered with an unparseable field (tests of invalid payload handling)
    # Raw overrides of the rendered payload, {dotted path: value}, e.g. {"id": "9" * 70,
    # "line_items.0.quantity": 10**70}: poison values the database cannot hold (tests).
    patch: dict = field(default_factory=dict)
    # what a seller wrote back (writes.py): fulfilments with tracking, WooCommerce notes,
    # a status set by hand, Amazon packages
    fulfillments: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    status_override: Optional[str] = None
    meta: list = field(default_factory=list)

    def shipped_units(self, line: "SimLine") -> int:
        """Units of a line that left: all of them for an order the generator shipped."""
        return line.quantity - line.cancelled if self.fulfilled and not line.shipped else line.shipped

    @property
    def partially_shipped(self) -> bool:
        return not self.fulfilled and any(li.shipped for li in self.lines)

    @property
    def subtotal(self) -> Decimal:
        return sum((li.subtotal for li in self.lines), Decimal("0"))

    @property
    def discount(self) -> Decimal:
        return sum((li.discount for li in self.lines), Decimal("0"))

    @property
    def tax(self) -> Decimal:
        return sum((li.tax for li in self.lines), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount + self.tax + self.shipping

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal("0"))

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def digital(self) -> bool:
        return all(li.digital for li in self.lines)

    def summary(self) -> dict:
        """What a test needs to check an import against (channel-neutral facts)."""
        pending_amazon = self.channel == "amazon" and (self.payment == "pending" or self.cancelled)
        return {
            "external_id": self.external_id,
            "number": self.number,
            "currency": self.currency,
            "total": None if pending_amazon else str(self.total),
            "subtotal": str(self.subtotal),
            "discount": str(self.discount),
            "tax": str(self.tax),
            "shipping": str(self.shipping),
            "skus": [li.sku for li in self.lines],
            "quantities": [li.quantity for li in self.lines],
            "cancelled_units": [li.cancelled for li in self.lines],
            # Amazon: no buyer before payment, after cancellation, or (e-mail) for FBA orders
            "email": None if pending_amazon or (self.channel == "amazon" and self.fba) else (self.email or None),
            "payment": self.payment,
            "fulfilled": self.fulfilled,
            "fba": self.fba,
            "cancelled": self.cancelled,
            "refunded": str(self.refunded),
            "refund_count": len(self.refunds),
            "shipped_units": [self.shipped_units(li) for li in self.lines],
            "fulfillments": [{k: v for k, v in f.items() if k != "lines"} | {"lines": dict(f["lines"])}
                             for f in self.fulfillments],
            "notes": len(self.notes),
            "status_override": self.status_override,
            "digital": self.address is None,
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
        }


BACKLOG_DRAW_DAYS = 3.0


class Clock:
    """Virtual UTC clock. Fixed mode (``start`` given): every tick moves forward by a seeded random
    step, fully deterministic. Real mode: ticks follow the wall clock (never backwards)."""

    def __init__(self, rng: random.Random, start: Optional[datetime]):
        self.fixed = start is not None
        self._now = (start or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
        self._rng = rng

    def now(self) -> datetime:
        if not self.fixed:
            self._now = max(self._now, datetime.now(timezone.utc).replace(microsecond=0))
        return self._now

    def tick(self, low: int = 5, high: int = 120) -> datetime:
        step = timedelta(seconds=self._rng.randint(low, high))
        if self.fixed:
            self._now += step
        else:
            self._now = max(self._now, datetime.now(timezone.utc).replace(microsecond=0))
        return self._now

    def past(self, max_days: float = 0) -> datetime:
        """A creation time for a new order: the next tick (fixed mode); in real mode a moment
        ago (a minute or two: an order that arrives now was placed just now, and tops the
        newest-first order list), or up to ``max_days`` back for a backlog."""
        if self.fixed:
            return self.tick()
        # One draw over the same range either way: a seeded sandbox then picks the same
        # orders, payments and faults after it as before new orders were placed "just now".
        seconds = self._rng.randint(60, int(max(max_days, BACKLOG_DRAW_DAYS) * 86400))
        if max_days <= 0:
            return self.now() - timedelta(seconds=5 + seconds % 116)
        return self.now() - timedelta(seconds=seconds)


class Bucket:
    """Server-side token bucket (non-blocking), in nominal time scaled by ``state.time_scale``."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self, time_scale: float) -> tuple[bool, float]:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) / time_scale * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, 0.0
        return False, (1 - self.tokens) / self.rate


class LeakyBucket:
    """Shopify's call limit: +1 per call, leaks ``leak`` per nominal second, 429 when full."""

    def __init__(self, capacity: int = SHOPIFY_BUCKET, leak: float = SHOPIFY_LEAK):
        self.capacity, self.leak = capacity, leak
        self.used = 0.0
        self.stamp = time.monotonic()

    def call(self, time_scale: float) -> tuple[bool, int]:
        now = time.monotonic()
        self.used = max(0.0, self.used - (now - self.stamp) / time_scale * self.leak)
        self.stamp = now
        if self.used + 1 > self.capacity:
            return False, self.capacity
        self.used += 1
        return True, max(1, int(round(self.used)))


FAULT_KINDS = ("429", "500", "503", "slow", "truncated", "duplicate")


@dataclass
class Faults:
    rates: dict[str, float] = field(default_factory=dict)  # kind -> share of requests
    script: list[str] = field(default_factory=list)  # kinds (or "ok") for the next requests, in order
    slow_seconds: float = 0.5  # real seconds
    retry_after: Any = 1  # nominal seconds, or "date" for an HTTP date, or None for no header


class SandboxState:
    def __init__(self, catalog: Optional[list[dict]] = None, seed: int = 0,
                 start_time: Optional[datetime] = None, credentials: Optional[dict] = None):
        self.lock = threading.RLock()
        self.credentials = credentials or DEFAULT_CREDENTIALS
        self._start_time = start_time
        self.reset(seed=seed, catalog=catalog)

    # -- set-up ------------------------------------------------------------------------------
    def reset(self, seed: Optional[int] = None, catalog: Optional[list[dict]] = None,
              time_scale: float = 1.0) -> None:
        with self.lock:
            self.seed = self.seed if seed is None and hasattr(self, "seed") else (seed or 0)
            self.rng = random.Random(self.seed)
            self.fault_rng: dict[str, random.Random] = {c: random.Random(f"{self.seed}-{c}") for c in CHANNELS}
            self.clock = Clock(self.rng, self._start_time)
            if catalog is not None or not hasattr(self, "catalog"):
                self.set_catalog(catalog)
            self.orders: dict[tuple[str, str], list[SimOrder]] = {}
            self.by_id: dict[tuple[str, str, str], SimOrder] = {}
            self.seq = 0
            self.line_seq = 0
            self.refund_seq = 0
            self.faults: dict[str, Faults] = {c: Faults() for c in CHANNELS}
            self.fault_counts: dict[str, dict[str, int]] = {c: {k: 0 for k in FAULT_KINDS} for c in CHANNELS}
            self.request_counts: dict[str, int] = {c: 0 for c in CHANNELS}
            self.throttled_counts: dict[str, int] = {c: 0 for c in CHANNELS}
            self.time_scale = float(time_scale)
            self.shopify_buckets: dict[str, LeakyBucket] = {}
            self.amazon_buckets: dict[tuple[str, str], Bucket] = {}
            self.access_tokens: dict[str, float] = {}  # token -> real monotonic expiry
            # Restricted Data Tokens: token -> (real monotonic expiry, [(method, path, data elements)])
            self.rdt_tokens: dict[str, tuple[float, list[tuple[str, str, frozenset]]]] = {}
            # Whether the application has the restricted role that 2026-01-01 needs for buyer and
            # recipient data (includedData=BUYER,RECIPIENT); False: those blocks are left out
            self.amazon_pii_role = True
            # searchOrders tokens issued before this generation are expired (``expire_pagination``)
            self.amazon_token_generation = 0
            self.amazon_expired_tokens_served = 0
            # listings: each channel's products and their variants, built from the catalog
            self.products: dict[tuple[str, str], list[dict]] = {}
            self.product_seq = 0
            self.shopify_locations = [
                {"id": 65_000_000_001, "name": "Main warehouse", "active": True},
                {"id": 65_000_000_002, "name": "Retail store", "active": True},
                {"id": 65_000_000_003, "name": "Old depot (closed)", "active": False}]
            self.shopify_inventory: dict[tuple[str, int, int], int] = {}  # (shop, item, location) -> qty
            # WooCommerce and Amazon stock as the channel shows it (sandbox/stock.py)
            self.channel_stock: dict[tuple[str, str, str], int] = {}
            self.stock_writes: dict[str, int] = {}  # stock write calls answered, per channel
            self.stock_written_at: dict[str, float] = {}  # when each channel's view last changed
            self.graphql_buckets: dict[str, Any] = {}
            # (channel, shop, key of the NEXT page request) -> the page served before it
            self.last_list: OrderedDict[tuple[str, str, str], tuple[int, dict, bytes]] = OrderedDict()
            self.amazon_items_page_size = 100
            # Amazon Feeds API: documents (id -> {"content_type", "content"}) and feeds
            self.feed_documents: dict[str, dict] = {}
            self.feeds: dict[str, dict] = {}
            # Amazon returns the buyers asked for (reports.request_return) and Reports API reports
            self.amazon_returns: list[dict] = []
            self.reports: dict[str, dict] = {}
            self.fulfillment_seq = 0
            # Shopify's @idempotent(key:) on refundCreate: key -> the refund it made
            self.idempotency_keys: dict[tuple[str, str], Any] = {}
            # tests: called as hook(channel, operation, request) after a POST/PUT was handled
            # and before its answer leaves (e.g. to SIGKILL the sender right then)
            self.request_hook = None

    def set_catalog(self, catalog: Optional[list[dict]]) -> None:
        items = catalog if catalog else DEFAULT_CATALOG
        parsed = []
        for item in items:
            if not item.get("sku") or not item.get("name") or item.get("price") in (None, ""):
                raise ValueError("every catalog item needs sku, name and price")
            parsed.append({"sku": str(item["sku"]), "name": str(item["name"]),
                           "price": Decimal(str(item["price"])), "digital": bool(item.get("digital"))})
        with self.lock:
            self.catalog = parsed

    def set_time_scale(self, scale: float) -> None:
        if not scale or scale <= 0:
            raise ValueError("time_scale must be > 0")
        with self.lock:
            self.time_scale = float(scale)

    def set_faults(self, channel: str, spec: dict) -> Faults:
        faults = Faults()
        for kind in FAULT_KINDS:
            share = spec.get(kind, spec.get(f"rate_{kind}"))
            if share:
                faults.rates[kind] = float(share)
        faults.script = [str(s) for s in spec.get("script") or []]
        if "slow_seconds" in spec:
            faults.slow_seconds = float(spec["slow_seconds"])
        if "retry_after" in spec:
            faults.retry_after = spec["retry_after"]
        if "seed" in spec:
            self.fault_rng[channel] = random.Random(spec["seed"])
        with self.lock:
            self.faults[channel] = faults
        return faults

    def pick_fault(self, channel: str) -> Optional[str]:
        with self.lock:
            faults = self.faults[channel]
            if faults.script:
                kind = faults.script.pop(0)
                return None if kind == "ok" else kind
            roll = self.fault_rng[channel].random()
            for kind in FAULT_KINDS:
                share = faults.rates.get(kind, 0.0)
                if roll < share:
                    return kind
                roll -= share
            return None

    def count_fault(self, channel: str, kind: str) -> None:
        with self.lock:
            self.fault_counts[channel][kind] = self.fault_counts[channel].get(kind, 0) + 1

    # -- generation --------------------------------------------------------------------------
    def _money_in(self, base: Decimal, currency: str) -> Decimal:
        return q(base * RATES[currency], currency)

    def create_orders(self, channel: str, count: int, shop: Optional[str] = None,
                      backlog_days: float = 0) -> list[SimOrder]:
        """New orders placed just now, or with ``backlog_days`` spread over that many days
        back (the orders a shop already had when the sandbox starts)."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        shop = shop or ("na" if channel == "amazon" else "demo")
        if channel == "amazon" and shop not in AMAZON_REGIONS:
            raise ValueError(f"unknown Amazon region {shop!r} (na, eu, fe)")
        created = []
        with self.lock:
            for _ in range(int(count)):
                created.append(self._create_one(channel, shop, backlog_days))
        return created

    def _create_one(self, channel: str, shop: str, backlog_days: float = 0) -> SimOrder:
        rng = self.rng
        self.seq += 1
        seq = self.seq
        marketplace_id = sales_channel = None
        if channel == "amazon":
            marketplace_id, country_code, sales_channel = rng.choice(AMAZON_REGIONS[shop])
            country = next(c for c in COUNTRIES if c[0] == country_code)
        else:
            country = rng.choice(COUNTRIES)
        code, currency, tax_rate, names, city, region, postcode, street, phone = country
        first, last = rng.choice(names)
        fba = channel == "amazon" and rng.random() < 0.3
        physical = [c for c in self.catalog if not c["digital"]] or self.catalog
        digital_only = channel != "amazon" and rng.random() < 0.08 and any(c["digital"] for c in self.catalog)
        pool = [c for c in self.catalog if c["digital"]] if digital_only else physical
        discounted = rng.random() < 0.3
        lines = []
        for item in rng.sample(pool, k=min(len(pool), rng.choice([1, 1, 2, 2, 3, 4, 6]))):
            self.line_seq += 1
            qty = rng.choice([1, 1, 1, 2, 3])
            price = self._money_in(item["price"], currency)
            line_discount = q(price * qty * Decimal("0.10"), currency) if discounted else Decimal(0)
            tax = q((price * qty - line_discount) * tax_rate, currency)
            lines.append(SimLine(self.line_seq, item["sku"], item["name"], qty, price, line_discount, tax,
                                 digital=item["digital"]))
        shipping = Decimal(0) if digital_only else self._money_in(rng.choice([Decimal("0"), Decimal("4.90"),
                                                                               Decimal("9.90")]), currency)
        created = self.clock.past(backlog_days)
        roll = rng.random()
        if roll < 0.15:
            payment, fulfilled = "pending", False
        elif roll < 0.2 and channel == "shopify":
            payment, fulfilled = "authorized", False
        elif roll < 0.75:
            payment, fulfilled = "paid", False
        else:
            payment, fulfilled = "paid", True
        if fba and payment == "paid":
            fulfilled = True  # Amazon ships FBA orders itself
        if channel == "amazon" and payment == "authorized":
            payment = "paid"
        if channel == "shopify":
            external_id = str(5_500_000_000_000 + seq * 1009)
            number = f"#{1000 + seq}"
        elif channel == "woocommerce":
            external_id = str(100 + seq * 3)
            number = external_id
        else:
            external_id = f"{AMAZON_PREFIX[shop]}{rng.randint(10, 99)}-{rng.randint(0, 9999999):07d}-{rng.randint(0, 9999999):07d}"
            number = external_id
        email = f"{_ascii(first)}.{_ascii(last)}{seq}@example.com".lower()
        if channel == "shopify" and rng.random() < 0.1:
            email = ""  # POS / phone orders
        if channel == "amazon":
            email = "" if rng.random() < 0.1 else f"{rng.randint(10**11, 10**12 - 1)}@marketplace.amazon.com"
        address = None if digital_only else {
            "first_name": first, "last_name": last, "address1": street, "address2": rng.choice(["", "", "Apt. 4"]),
            "city": city, "region": region, "postcode": postcode, "country": code, "phone": phone,
            "company": rng.choice(["", "", "", "Müller & Söhne GmbH"]),
        }
        order = SimOrder(
            channel=channel, shop=shop, seq=seq, external_id=external_id, number=number,
            created_at=created,
            # A real channel stamps a new order as changed now, whenever it was placed:
            # pollers find it through updated_at_min.
            updated_at=max(created + timedelta(seconds=rng.randint(1, 90)), self.clock.now()),
            currency=currency, country=code, first_name=first, last_name=last, email=email, phone=phone,
            address=address, lines=lines, shipping=shipping,
            shipping_method=rng.choice(["Standard", "Express", "Expedited"]) if not digital_only else "",
            payment=payment, fba=fba, marketplace_id=marketplace_id, sales_channel=sales_channel,
            prime=channel == "amazon" and rng.random() < 0.4,
            tags=rng.choice([[], [], ["vip"], ["wholesale", "b2b"]]) if channel == "shopify" else [],
        )
        if order.updated_at > self.clock.now():
            order.updated_at = self.clock.now()
        if payment == "paid":
            order.paid_at = order.updated_at
        if fulfilled:
            order.fulfilled = True
            order.fulfilled_at = order.updated_at
        if rng.random() < 0.05 and not fulfilled:
            self._cancel(order, order.updated_at, rng.choice(["customer", "inventory", "fraud"]))
        self.orders.setdefault((channel, shop), []).append(order)
        self.by_id[(channel, shop, external_id)] = order
        return order

    # -- updates -----------------------------------------------------------------------------
    def _targets(self, channel: str, shop: Optional[str], ids: Optional[list], count: int,
                 eligible) -> list[SimOrder]:
        shop = shop or ("na" if channel == "amazon" else "demo")
        orders = self.orders.get((channel, shop), [])
        if ids:
            wanted = {str(i) for i in ids}
            return [o for o in orders if o.external_id in wanted]
        candidates = [o for o in orders if eligible(o)]
        return self.rng.sample(candidates, k=min(count, len(candidates)))

    def update_orders(self, channel: str, *, count: int = 1, ids: Optional[list] = None,
                      action: str = "random", shop: Optional[str] = None,
                      patch: Optional[dict] = None) -> list[SimOrder]:
        """``action="patch"`` overrides raw fields of the rendered payload (``patch``)."""
        with self.lock:
            targets = self._targets(channel, shop, ids, count, lambda o: not o.cancelled)
            changed = []
            for order in targets:
                act = action
                if act == "random":
                    act = self.rng.choice(["pay", "fulfil", "refund", "address"])
                if act == "patch":
                    order.patch = {**order.patch, **(patch or {})}
                if self._apply(order, act):
                    changed.append(order)
            return changed

    def cancel_orders(self, channel: str, *, count: int = 1, ids: Optional[list] = None,
                      shop: Optional[str] = None, reason: str = "customer") -> list[SimOrder]:
        with self.lock:
            targets = self._targets(channel, shop, ids, count, lambda o: not o.cancelled and not o.fulfilled)
            for order in targets:
                self._apply(order, "cancel", reason=reason)
            return targets

    def _apply(self, order: SimOrder, action: str, reason: str = "customer") -> bool:
        now = self.clock.tick()
        if action == "pay":
            if order.payment == "paid" or order.cancelled:
                return self._apply(order, "address")
            order.payment, order.paid_at = "paid", now
            if order.fba:
                order.fulfilled, order.fulfilled_at = True, now
        elif action == "fulfil":
            if order.cancelled or order.fulfilled:
                return self._apply(order, "address")
            if order.payment != "paid":
                order.payment, order.paid_at = "paid", now
            order.fulfilled, order.fulfilled_at = True, now
        elif action == "refund":
            if order.channel == "amazon" or order.payment != "paid" or order.refunded >= order.total:
                return self._apply(order, "fulfil" if order.channel == "amazon" else "address")
            remaining = order.total - order.refunded
            amount = remaining if self.rng.random() < 0.3 else q(remaining * Decimal("0.25"), order.currency)
            if amount <= 0:
                amount = remaining
            self.refund_seq += 1
            order.refunds.append(SimRefund(8_800_000 + self.refund_seq, amount, now,
                                           self.rng.choice(["damaged in transit", "wrong size", "", "Kunde: zu groß"])))
        elif action == "cancel":
            self._cancel(order, now, reason)
        elif action == "corrupt":
            order.corrupt = True
        elif action == "patch":
            pass  # update_orders stored the overrides
        elif action == "cancel_units":
            # Shopify order edit: one unit of the first line that still has one is removed
            # (line_items[].current_quantity goes down). The other APIs show no such thing.
            line = next((li for li in order.lines if li.quantity - li.cancelled > 0), None)
            if order.channel != "shopify" or line is None:
                return self._apply(order, "address")
            line.cancelled += 1
        elif action == "address":
            if order.address is None:
                order.tags = sorted(set(order.tags) | {"edited"}) if order.channel == "shopify" else order.tags
            else:
                order.address = dict(order.address, address2="c/o Reception")
        else:
            raise ValueError(f"unknown action {action!r}")
        order.updated_at = now
        order.version += 1
        return True

    def _cancel(self, order: SimOrder, when: datetime, reason: str) -> None:
        """Cancelling a paid order refunds what is left (Amazon: no refunds in the Orders API)."""
        order.cancelled_at, order.cancel_reason = when, reason
        if order.payment == "paid" and order.channel != "amazon" and order.refunded < order.total:
            self.refund_seq += 1
            order.refunds.append(SimRefund(8_800_000 + self.refund_seq, order.total - order.refunded, when,
                                           "order cancelled"))

    # -- listings (products and variants) ------------------------------------------------------
    def channel_products(self, channel: str, shop: str) -> list[dict]:
        """The channel's products: one per catalog item (one variant each) until others are added."""
        with self.lock:
            key = (channel, shop)
            if key not in self.products:
                self.products[key] = []
                for item in self.catalog:
                    self._add_product(channel, shop, item["name"], [(item["sku"], item["name"], item["price"])])
            return self.products[key]

    def add_product(self, channel: str, shop: Optional[str], title: str, variants: int,
                    sku_prefix: Optional[str] = None, price: str = "10.00") -> dict:
        """A product with ``variants`` variants (SKU ``<prefix>-001`` ...): Shopify allows 2,048."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        shop = shop or ("na" if channel == "amazon" else "demo")
        prefix = sku_prefix or title.upper().replace(" ", "-")[:20]
        with self.lock:
            self.channel_products(channel, shop)
            return self._add_product(channel, shop, title, [
                (f"{prefix}-{i:03d}", f"{title} / {i}", Decimal(price)) for i in range(1, int(variants) + 1)])

    def _add_product(self, channel: str, shop: str, title: str, variants: list[tuple]) -> dict:
        self.product_seq += 1
        seq = self.product_seq
        product = {
            "id": 8_000_000_000 + seq, "woo_id": 300 + seq, "title": title,
            "handle": _ascii(title).lower() or f"product-{seq}",
            "updated_at": self.clock.now().isoformat().replace("+00:00", "Z"),
            "product_type": "SHIRT" if "tee" in title.lower() else "PRODUCT",
            "variants": [],
        }
        for index, (sku, name, price) in enumerate(variants, start=1):
            product["variants"].append({
                "id": 41_000_000_000 + seq * 10_000 + index, "woo_id": 5_000 + seq * 10_000 + index,
                "inventory_item_id": 43_000_000_000 + seq * 10_000 + index,
                "sku": sku, "title": name if len(variants) > 1 else "Default Title", "price": price,
                "asin": f"B0{(seq * 10_000 + index) % 10**8:08d}",
            })
        self.products[(channel, shop)].append(product)
        return product

    # -- queries -----------------------------------------------------------------------------
    def list_orders(self, channel: str, shop: str) -> list[SimOrder]:
        with self.lock:
            return list(self.orders.get((channel, shop), []))

    def get_order(self, channel: str, shop: str, external_id: str) -> Optional[SimOrder]:
        with self.lock:
            return self.by_id.get((channel, shop, str(external_id)))

    def snapshot(self) -> dict:
        with self.lock:
            channels: dict[str, dict] = {c: {} for c in CHANNELS}
            for (channel, shop), orders in self.orders.items():
                channels[channel][shop] = {
                    "count": len(orders),
                    "orders": {o.external_id: o.summary() for o in orders},
                }
            return {
                "seed": self.seed,
                "time_scale": self.time_scale,
                "now": self.clock.now().isoformat(),
                "catalog": [{"sku": c["sku"], "name": c["name"], "price": str(c["price"])} for c in self.catalog],
                "channels": channels,
                "requests": dict(self.request_counts),
                "throttled": dict(self.throttled_counts),
                "faults_served": {c: dict(v) for c, v in self.fault_counts.items()},
                "credentials": self.credentials,
                "amazon_items_page_size": self.amazon_items_page_size,
            }


def _ascii(name: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    plain = "".join(ch for ch in plain if ch.isalnum())
    return plain or "buyer"
