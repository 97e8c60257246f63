"""Test data made through the real services (never direct inserts of domain state)."""
from __future__ import annotations

import itertools
import zlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from connectors.base import NormalizedAddress, NormalizedLine, NormalizedOrder

from app.models import Channel, Product, Warehouse
from app.services.channels import config as channels
from app.services.channels import importing
from app.services.inventory import stock as inventory
from app.services.inventory import reference
from app.services.core.actor import Actor

_seq = itertools.count(1)


def normalized_order(lines, *, external_id=None, email="buyer@example.com",
                     name="Ada Lovelace", country="US", currency="USD",
                     financial_status="paid", placed_at=None, **extra) -> NormalizedOrder:
    """lines: [(sku, quantity, unit_price), ...]"""
    n = next(_seq)
    placed_at = placed_at or datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc) + timedelta(minutes=n)
    norm_lines = [NormalizedLine(external_id=f"L{n}-{i}", sku=sku, title=f"Item {sku}",
                                 quantity=qty, unit_price=Decimal(str(price)))
                  for i, (sku, qty, price) in enumerate(lines)]
    subtotal = sum((l.unit_price * l.quantity for l in norm_lines), Decimal("0"))
    # One address per buyer (many orders to one address is a risk signal, services/lifecycle/risk.py).
    flat = f"Apt {zlib.crc32((email or name).encode()) % 997}"
    address = NormalizedAddress(name=name, line1="1 Main St", line2=flat, city="Springfield",
                                postcode="12345", country=country)
    values = dict(
        external_id=external_id or f"EXT-{n}", order_number=f"#{1000 + n}",
        placed_at=placed_at, updated_at=placed_at, currency=currency, subtotal=subtotal,
        total=subtotal, email=email, customer_name=name, shipping_address=address,
        billing_address=address, lines=norm_lines, financial_status=financial_status,
        channel_status="open",
    )
    values.update(extra)
    order = NormalizedOrder(**values)
    order.raw = {"id": order.external_id, "n": n, "status": financial_status,
                 "cancelled": order.cancelled, "extra": sorted(map(str, extra.items()))}
    return order


class Factory:
    def __init__(self, session, actor: Actor):
        self.session, self.actor = session, actor

    def warehouse(self, code="WH1", country="US", priority=100, ships_to=()) -> Warehouse:
        return reference.save(self.session, "warehouse", {
            "code": code, "name": f"Warehouse {code}", "country": country,
            "priority": priority, "ships_to": list(ships_to)}, self.actor)

    def product(self, sku="SKU-1", stock: dict | None = None, name=None) -> Product:
        product = reference.save(self.session, "product",
                                 {"sku": sku, "name": name or f"Product {sku}", "price": "10.00"},
                                 self.actor)
        for warehouse, quantity in (stock or {}).items():
            if not quantity:
                continue
            inventory.receive(self.session, warehouse.id, product.id, quantity, self.actor,
                              reference="initial stock")
        return product

    def channel(self, code="shop", kind="shopify") -> Channel:
        return channels.save_channel(self.session, {"code": code, "name": code.title(),
                                                    "kind": kind}, self.actor)

    def order(self, channel: Channel, lines, **kwargs):
        normalized = normalized_order(lines, **kwargs)
        return importing.import_order(self.session, channel, normalized,
                                      Actor.channel(channel.code)).order
