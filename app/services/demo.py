"""Deterministic demo data, loaded only through the services (``flask oms init --demo``).

Three warehouses in three countries, 200 products with stock, bins and barcodes, three
channels (shopify, woocommerce, amazon), exchange rates and N orders walked through the
real lifecycle (import, holds, allocation, picking, shipping, tracking, returns,
cancellations), each with its timeline. A seeded RNG makes every run produce the same
data; orders that already exist are skipped, so running it twice changes nothing.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import NormalizedAddress, NormalizedLine, NormalizedOrder

from app.models import CarrierAccount, Channel, Order, OrderHold, Product, Warehouse
from app.models.base import clock_at
from app.services.channels import config as channels
from app.services.fulfilment import carriers
from app.services.fulfilment import shipments as fulfillment
from app.services.core import fx
from app.services.channels import importing
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from app.services.inventory import reference
from app.services.returns import actions as returns
from app.services.core.actor import Actor
from app.services.core.errors import DomainError
from app.services.core.transaction import unit_of_work

SEED = 20261126
BATCH = 250

WAREHOUSES = [
    {"code": "EWR", "name": "Newark Fulfillment Center", "country": "US", "city": "Newark",
     "postcode": "07114", "address_line1": "400 Delancy St", "latitude": "40.7357",
     "longitude": "-74.1724", "priority": 10, "ships_to": ["US", "CA", "MX"]},
    {"code": "LEJ", "name": "Leipzig Logistikzentrum", "country": "DE", "city": "Leipzig",
     "postcode": "04435", "address_line1": "Am Exer 10", "latitude": "51.3397",
     "longitude": "12.3731", "priority": 20,
     "ships_to": ["DE", "FR", "NL", "BE", "AT", "IT", "ES", "PL", "DK", "SE", "IE", "GB"]},
    {"code": "CVT", "name": "Coventry Warehouse", "country": "GB", "city": "Coventry",
     "postcode": "CV3 4FJ", "address_line1": "Siskin Pkwy E", "latitude": "52.4068",
     "longitude": "-1.5197", "priority": 30, "ships_to": ["GB", "IE"]},
]
CHANNELS = [
    {"code": "shopify-us", "name": "Shopify US store", "kind": "shopify",
     "path": "/shopify/demo", "currency": "USD"},
    {"code": "woo-eu", "name": "WooCommerce EU shop", "kind": "woocommerce",
     "path": "/woocommerce/demo", "currency": "EUR"},
    {"code": "amazon-uk", "name": "Amazon UK", "kind": "amazon",
     "path": "/amazon/eu", "currency": "GBP"},
]
RATES = {"EUR": "1.08", "GBP": "1.27", "CAD": "0.73", "AUD": "0.66", "JPY": "0.0067"}
DESTINATIONS = {
    "USD": [("US", "New York", "10001", "NY"), ("US", "Austin", "78701", "TX"),
            ("US", "Portland", "97205", "OR"), ("CA", "Toronto", "M5V 2T6", "ON")],
    "EUR": [("DE", "Berlin", "10115", None), ("FR", "Paris", "75002", None),
            ("NL", "Amsterdam", "1012 AB", None), ("IT", "Milano", "20121", None),
            ("ES", "Madrid", "28013", None)],
    "GBP": [("GB", "London", "EC1A 1BB", None), ("GB", "Manchester", "M1 1AE", None),
            ("IE", "Dublin", "D02 X285", None)],
}
FIRST = ["Ada", "Zoë", "Björn", "Chloé", "Mateo", "Aiko", "Olumide", "Siobhán", "Łukasz",
         "Priya", "José", "Freya", "Noah", "Mía", "Kenji", "Amélie", "Søren", "Leila",
         "Ömer", "Grace", "Dmitri", "Ines", "Yara", "Hugo"]
LAST = ["Lovelace", "Müller", "García", "Nakamura", "O'Brien", "Dubois", "Kowalski", "Rossi",
        "Andersson", "Okafor", "Smith", "Fernández", "Novák", "Sato", "Schäfer", "Brontë",
        "Nguyen", "Jensen", "Costa", "Ivanova"]
ADJECTIVES = ["Organic", "Classic", "Merino", "Recycled", "Ceramic", "Bamboo", "Linen",
              "Waxed", "Hand-thrown", "Nordic", "Copper", "Walnut", "Alpine", "Café"]
NOUNS = ["Mug", "Tote Bag", "Beanie", "Notebook", "Water Bottle", "Candle", "Scarf",
         "Tea Towel", "Plant Pot", "Socks", "Backpack", "Cutting Board", "Throw", "Apron"]
# (target status, weight): the demo's spread over the lifecycle.
STATUS_MIX = [
    ("new_payment_hold", 5), ("new_review_hold", 3), ("new_unknown_sku", 2),
    ("allocated", 12), ("allocated_manual_hold", 2), ("partially_allocated", 4),
    ("backordered", 4), ("picking", 6), ("packed", 5), ("partially_shipped", 3),
    ("shipped", 16), ("delivered", 24), ("returned", 4), ("cancelled", 6),
    ("fulfilled_by_channel", 4),
]
CARRIERS = {"US": "UPS", "CA": "UPS", "GB": "DHL", "IE": "DHL"}
# home goods: stoneware, wooden furniture, bags, linen, lamps
HS_CODES = ("6912.00", "9403.60", "4202.92", "6302.60", "9405.40")
ORIGINS = ("PT", "DE", "US", "GB", "IT")


@dataclass
class DemoContext:
    rng: random.Random
    warehouses: list[Warehouse]
    products: list[Product]
    out_of_stock: list[Product]
    channels: list[Channel]
    admin: Actor
    support: Actor
    warehouse_staff: Actor


def load(session: Session, orders: int = 1000, echo: Callable[[str], None] = print) -> dict:
    admin = Actor.system()
    with unit_of_work(session):
        warehouses = _warehouses(session, admin)
        products, out_of_stock = _products(session, warehouses, orders, admin)
        channel_rows = _channels(session, admin)
        _carrier_accounts(session, admin)
        _rates(session, admin)
    ctx = DemoContext(
        rng=random.Random(SEED), warehouses=warehouses, products=products,
        out_of_stock=out_of_stock, channels=channel_rows, admin=admin,
        support=Actor("user:demo-support"), warehouse_staff=Actor("user:demo-warehouse"),
    )
    created = _orders(session, ctx, orders, echo)
    _mails(session, echo)
    return {"warehouses": len(warehouses), "products": len(products) + len(out_of_stock),
            "channels": len(channel_rows), "orders_created": created,
            "orders_total": session.scalar(select(func.count(Order.id)))}


# Parcels that move: the sandbox keeps its parcels in memory, so labels bought before it ran
# (or in an earlier run of it) are unknown to it. Once it runs, ``flask oms demo-labels`` buys
# real sandbox labels for packed orders; the scheduler's poll_tracking (and the sandbox's
# webhooks) then follow them to the door on the sandbox's fast clock.
DEMO_BOX = {"length_cm": "30", "width_cm": "22", "height_cm": "12"}


def buy_sandbox_labels(session: Session, count: int = 20, echo: Callable[[str], None] = print) -> int:
    """Buy labels on the demo's sandbox carrier accounts (UPS and EasyPost in turn) for up to
    ``count`` packed orders, as the pack station does; returns how many were bought. An order
    the carrier refuses is named and skipped."""
    from app.services.fulfilment import boxes, labels

    staff = Actor("user:demo-warehouse")
    accounts = [spec["code"] for spec in CARRIER_ACCOUNTS]
    held = select(OrderHold.order_id).where(OrderHold.released_at.is_(None))
    order_ids = session.scalars(select(Order.id).where(Order.status == "packed", Order.id.not_in(held))
                                .order_by(Order.id).limit(count)).all()
    bought = 0
    for n, order_id in enumerate(order_ids):
        order = session.get(Order, order_id)
        try:
            weight = max(boxes.items_weight(order), Decimal("0.1"))
        except DomainError:
            weight = Decimal("1")
        session.rollback()  # buy_label runs its own transactions
        try:
            labels.buy_label(session, order_id, staff, carrier=accounts[n % len(accounts)],
                             packages=[dict(DEMO_BOX, weight_kg=str(weight))])
            bought += 1
        except DomainError as err:
            session.rollback()
            echo(f"demo labels: order {order_id} not shipped: {err.message}")
    return bought


def _mails(session: Session, echo) -> None:
    """The customer mails of the orders the demo shipped, rendered into the mail log (the
    demo has no SMTP server; with one configured they wait for the outbox as usual)."""
    from app.services.core import outbox_sender
    from app.services.notify import customer_mail

    if customer_mail.smtp_config() is not None:
        return
    session.commit()
    summary = outbox_sender.send_pass(session.get_bind(), topics=(customer_mail.TOPIC,))
    echo(f"customer mails: {summary.sent} in the mail log")


# --- reference data ---------------------------------------------------------------------

def _warehouses(session: Session, actor: Actor) -> list[Warehouse]:
    result = []
    for spec in WAREHOUSES:
        existing = session.scalar(select(Warehouse).where(Warehouse.code == spec["code"]))
        result.append(existing or reference.save(session, "warehouse", spec, actor))
    return result


def _products(session, warehouses, order_count, actor) -> tuple[list[Product], list[Product]]:
    rng = random.Random(SEED + 1)
    scale = max(1, order_count // 1000)
    existing = {p.sku: p for p in session.scalars(select(Product))}
    in_stock, out_of_stock = [], []
    for i in range(200):
        sku = f"WB-{i + 1:04d}"
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        price = Decimal(rng.randrange(500, 12000)) / 100
        quantities = [rng.randrange(30, 400) * scale for _ in warehouses]
        product = existing.get(sku)
        if product is None:
            product = reference.save(session, "product", {
                "sku": sku, "name": name, "barcode": f"40{i + 1:011d}", "price": str(price),
                "weight_kg": str(Decimal(rng.randrange(50, 3000)) / 1000),
                "reorder_point": rng.randrange(5, 40),
                # customs data, so the demo's international parcels get labels too
                "hs_code": HS_CODES[i % len(HS_CODES)], "origin_country": ORIGINS[i % len(ORIGINS)]}, actor)
            # The last ten products are sold out everywhere: they make backorders.
            if i < 190:
                for warehouse, quantity in zip(warehouses, quantities):
                    if rng.random() < 0.85:
                        inventory.receive(session, warehouse.id, product.id, quantity, actor,
                                          reference="opening stock")
                        level = inventory.get_level(session, warehouse.id, product.id)
                        level.bin = f"{rng.choice('ABCDEF')}-{rng.randrange(1, 40):02d}-{rng.randrange(1, 6)}"
        (in_stock if i < 190 else out_of_stock).append(product)
    return in_stock, out_of_stock


def _channels(session, actor) -> list[Channel]:
    result = []
    for spec in CHANNELS:
        existing = session.scalar(select(Channel).where(Channel.code == spec["code"]))
        if existing is None:
            values = {k: v for k, v in spec.items() if k not in ("currency", "path")}
            values["base_url"] = _sandbox_url() + spec["path"]
            values["poll_interval_seconds"] = 60
            existing = channels.save_channel(
                session, values, actor, credentials=_sandbox_credentials(spec["kind"]),
                webhook_secret=f"demo-{spec['code']}-webhook-secret")
        result.append(existing)
    return result


# Carrier accounts on the sandbox's carriers (``flask oms sandbox --trickle`` moves their parcels
# and POSTs their webhooks): a label bought in the demo is tracked to the door by poll_tracking.
CARRIER_ACCOUNTS = [
    {"code": "ups-sandbox", "name": "UPS (sandbox)", "kind": "ups", "path": "/ups", "label_format": "PDF"},
    {"code": "easypost-sandbox", "name": "EasyPost (sandbox)", "kind": "easypost", "path": "/easypost",
     "label_format": "PDF"},
]


def _carrier_accounts(session, actor) -> None:
    from connectors.sandbox import CARRIER_CREDENTIALS

    for spec in CARRIER_ACCOUNTS:
        if session.scalar(select(CarrierAccount.id).where(CarrierAccount.code == spec["code"])):
            continue
        credentials = dict(CARRIER_CREDENTIALS[spec["kind"]])
        values = {k: v for k, v in spec.items() if k != "path"}
        values.update(base_url=_sandbox_url() + spec["path"], account_number=credentials.pop("account_number", None))
        carriers.save_account(session, values, actor, credentials=credentials,
                              webhook_secret=f"demo-{spec['code']}-webhook-secret")


def _sandbox_url() -> str:
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config["OMS_SANDBOX_URL"].rstrip("/")
    import config

    return config.OMS_SANDBOX_URL.rstrip("/")


def _sandbox_credentials(kind: str) -> dict:
    """The credentials the channel sandbox accepts, so the demo channels can be polled."""
    from connectors.sandbox import DEFAULT_CREDENTIALS

    return dict(DEFAULT_CREDENTIALS[kind])


def _rates(session, actor) -> None:
    for currency, rate in RATES.items():
        if fx.rate_for(session, currency) is None:
            fx.set_rate(session, currency, rate, actor,
                        valid_from=datetime(2026, 1, 1, tzinfo=timezone.utc))


# --- orders ------------------------------------------------------------------------------

def _orders(session: Session, ctx: DemoContext, count: int, echo) -> int:
    existing = set(session.execute(select(Order.channel_id, Order.external_id)).all())
    anchor = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    statuses = [s for s, _ in STATUS_MIX]
    weights = [w for _, w in STATUS_MIX]
    created = 0
    for start in range(0, count, BATCH):
        with unit_of_work(session):  # one commit per batch, not per order
            for i in range(start, min(start + BATCH, count)):
                rng = random.Random(SEED * 7919 + i)  # per order: skipping one keeps the rest
                channel = ctx.channels[i % len(ctx.channels)]
                external_id = f"DEMO-{i + 1:06d}"
                if (channel.id, external_id) in existing:
                    continue
                target = rng.choices(statuses, weights)[0]
                if target == "fulfilled_by_channel" and channel.kind != "amazon":
                    target = "delivered"
                # Older orders have travelled further through the lifecycle.
                age_days = _age_for(target, rng)
                placed_at = anchor - timedelta(days=age_days, minutes=rng.randrange(0, 1440))
                _walk(session, ctx, rng, channel, external_id, i, target, placed_at)
                created += 1
        if count > BATCH:
            echo(f"demo orders: {min(start + BATCH, count)}/{count}")
    return created


# The longest the walk to a target can take, in days (the sum of the widest steps of
# _advance: note, picking, packing, shipping, tracking, delivery, return, receipt, refund).
# An order is placed at least that long before today, so its whole history is in the past.
WALK_DAYS = {"picking": 0.6, "packed": 0.7, "partially_shipped": 1.3, "shipped": 1.3,
             "delivered": 4.7, "returned": 17.2}


def _age_for(target: str, rng: random.Random) -> float:
    early = {"new_payment_hold", "new_review_hold", "new_unknown_sku", "allocated",
             "allocated_manual_hold", "partially_allocated", "backordered", "picking", "packed"}
    least = WALK_DAYS.get(target, 0.5)
    if target in early:
        return least + rng.uniform(0, 3)
    return rng.uniform(max(2, least), 90)


def _normalized(ctx, rng, channel, external_id, i, target, placed_at) -> NormalizedOrder:
    currency = next(c["currency"] for c in CHANNELS if c["code"] == channel.code)
    country, city, postcode, region = rng.choice(DESTINATIONS[currency])
    first, last = rng.choice(FIRST), rng.choice(LAST)
    name = f"{first} {last}"
    email = f"{_ascii(first)}.{_ascii(last)}{rng.randrange(1, 400)}@example.com".lower()
    products = rng.sample(ctx.products, rng.choice([1, 1, 2, 2, 3, 4]))
    lines = []
    for n, product in enumerate(products):
        sku = product.sku if rng.random() > 0.3 else product.sku.lower()  # channels vary case
        lines.append(NormalizedLine(external_id=f"{external_id}-{n + 1}", sku=sku,
                                    title=product.name, quantity=rng.choice([1, 1, 1, 2, 3]),
                                    unit_price=product.price or Decimal("10")))
    if target in ("partially_allocated", "partially_shipped"):
        product = rng.choice(ctx.out_of_stock)
        lines.append(NormalizedLine(f"{external_id}-x", product.sku, product.name, 1,
                                    product.price or Decimal("10")))
    if target == "backordered":
        lines = [NormalizedLine(f"{external_id}-b", p.sku, p.name, 1, p.price or Decimal("10"))
                 for p in rng.sample(ctx.out_of_stock, 2)]
    if target == "new_unknown_sku":
        lines.append(NormalizedLine(f"{external_id}-u", f"LEGACY-{rng.randrange(100, 999)}",
                                    "Discontinued gift set", 1, Decimal("24.00")))
    subtotal = sum((l.unit_price * l.quantity for l in lines), Decimal("0"))
    if target == "new_review_hold":  # a big B2B-sized order
        lines[0].quantity = 40
        subtotal = sum((l.unit_price * l.quantity for l in lines), Decimal("0"))
    shipping = Decimal("4.95") if subtotal < 50 else Decimal("0")
    tax = (subtotal * Decimal("0.08")).quantize(Decimal("0.01"))
    discount = Decimal("5.00") if rng.random() < 0.15 and subtotal > 30 else Decimal("0")
    address = NormalizedAddress(name=name, line1=f"{rng.randrange(1, 300)} {rng.choice(LAST)} Street",
                                city=city, region=region, postcode=postcode, country=country,
                                phone=f"+1 555 {rng.randrange(1000, 9999)}")
    number = {"shopify": f"#{1001 + i}", "woocommerce": str(5000 + i),
              "amazon": f"204-{1000000 + i:07d}-{rng.randrange(1000000, 9999999)}"}[channel.kind]
    financial = "pending" if target == "new_payment_hold" else "paid"
    order = NormalizedOrder(
        external_id=external_id, order_number=number, placed_at=placed_at, updated_at=placed_at,
        currency=currency, subtotal=subtotal, shipping_total=shipping, tax_total=tax,
        discount_total=discount, total=subtotal + shipping + tax - discount, email=email,
        customer_name=name, shipping_address=address, billing_address=address, lines=lines,
        financial_status=financial, channel_status="unshipped" if channel.kind == "amazon" else "processing",
        fulfilled_by_channel=target == "fulfilled_by_channel",
        shipping_method=rng.choice(["Standard", "Express", "Economy"]),
        tags=["vip"] if rng.random() < 0.05 else [],
    )
    order.raw = {"demo": True, "id": external_id, "number": number, "target": target,
                 "total": str(order.total), "currency": currency,
                 "lines": [[l.sku, l.quantity, str(l.unit_price)] for l in lines]}
    return order


def _ascii(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isalnum() and c.isascii())


def _walk(session, ctx: DemoContext, rng, channel, external_id, i, target, placed_at) -> None:
    """Import the order and take it through the services up to its target status."""
    normalized = _normalized(ctx, rng, channel, external_id, i, target, placed_at)
    moment = placed_at
    now = datetime.now(timezone.utc)

    def later(minutes_low: int, minutes_high: int):
        # Never past now (WALK_DAYS keeps it so; this holds it should a step grow).
        nonlocal moment
        moment = min(moment + timedelta(minutes=rng.randrange(minutes_low, minutes_high)), now)
        return clock_at(moment)

    with clock_at(moment):
        order = importing.import_order(session, channel, normalized, Actor.channel(channel.code)).order
    try:
        _advance(session, ctx, rng, order, target, later)
    except DomainError as err:  # stock ran out for a big demo: the order simply waits
        with later(1, 5):
            orders.add_note(session, order.id, f"Demo: stopped at {order.status} ({err.message})",
                            Actor.system())


def _advance(session, ctx, rng, order, target, later) -> None:
    support, staff = ctx.support, ctx.warehouse_staff
    if target == "new_review_hold":
        with later(1, 30):
            orders.place_hold(session, order.id, "review", "Large order: check with the customer",
                              support)
        return
    if target == "allocated_manual_hold":
        with later(5, 120):
            orders.place_hold(session, order.id, "manual", "Customer asked to wait for a gift note",
                              support)
        return
    if target == "cancelled":
        with later(10, 600):
            orders.cancel_order(session, order.id,
                                rng.choice(["Customer changed their mind", "Duplicate order",
                                            "Address undeliverable"]), support)
        return
    if rng.random() < 0.2:
        with later(5, 240):
            orders.add_note(session, order.id, rng.choice([
                "Customer called to confirm the delivery address.",
                "Gift wrap requested — put the card on top.",
                "Leave with the neighbour at no. 12 if nobody is home.",
            ]), support)
    if target not in ("picking", "packed", "partially_shipped", "shipped", "delivered", "returned"):
        return
    if order.status not in ("allocated", "partially_allocated"):
        return  # stock ran out (large demo): it waits as it is
    with later(30, 600):
        fulfillment.start_picking(session, order.id, staff)
    if target == "picking":
        return
    with later(10, 90):
        fulfillment.mark_packed(session, order.id, staff)
    if target == "packed":
        return
    country = order.ship_country or "US"
    carrier = CARRIERS.get(country, "DHL" if country not in ("US", "CA") else "UPS")
    with later(30, 300):
        shipment = fulfillment.ship(session, order.id, staff, carrier=carrier, service="Ground",
                                    tracking_number=_tracking(carrier, rng))
    with later(60, 600):
        fulfillment.add_tracking_event(session, shipment.id, "in_transit", Actor.job("poll_tracking"),
                                       description="Departed facility", location="Hub")
    if target in ("delivered", "returned"):
        with later(60 * 20, 60 * 72):
            fulfillment.add_tracking_event(session, shipment.id, "out_for_delivery",
                                           Actor.job("poll_tracking"), description="Out for delivery")
        with later(60, 600):
            fulfillment.add_tracking_event(session, shipment.id, "delivered",
                                           Actor.job("poll_tracking"), description="Delivered")
    if target == "returned":
        line = order.lines[0]
        with later(60 * 24, 60 * 24 * 7):
            ret = returns.create_return(session, order.id, {line.id: 1},
                                        rng.choice(["too_small", "damaged", "not_as_described"]),
                                        support)
            returns.authorize(session, ret.id, support)
        with later(60 * 24, 60 * 24 * 5):
            returns.receive_and_inspect(session, ret.id, None, staff)
        with later(30, 600):
            returns.refund_return(session, ret.id, Actor.system())


def _tracking(carrier: str, rng: random.Random) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    return "".join(rng.choice("0123456789") for _ in range(12))
