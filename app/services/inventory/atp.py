"""Available to promise per channel (DESIGN.md "Channel write-back"): what a channel may sell.

ATP of a product on a channel = Σ available (on hand − reserved) over the warehouses that serve
the channel, minus the channel's buffer (``stock_buffer`` units plus ``stock_buffer_percent``
of what is available, rounded up: the buffer errs towards not overselling), never below zero,
and at most ``stock_cap`` when the channel has one. A channel with locations mapped to our
warehouses (Shopify: ``location_warehouses`` = {location id: [warehouse ids]}) gets the same
rule per location, over that location's warehouses; its total is the sum of its locations.

The rules are read from the channel row (a model, so inventory needs nothing from channels).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import StockLevel, Warehouse
from app.services.core.sql_lists import in_ids


@dataclass(frozen=True)
class StockRules:
    buffer: int = 0
    buffer_percent: int = 0
    cap: Optional[int] = None
    warehouse_ids: Optional[tuple[int, ...]] = None  # None: every active warehouse
    locations: Optional[dict[str, tuple[int, ...]]] = None  # {location id: warehouse ids}

    @classmethod
    def of(cls, channel) -> "StockRules":
        locations = channel.location_warehouses or None
        return cls(buffer=channel.stock_buffer or 0, buffer_percent=channel.stock_buffer_percent or 0,
                   cap=channel.stock_cap,
                   warehouse_ids=(tuple(int(w) for w in channel.stock_warehouse_ids)
                                  if channel.stock_warehouse_ids is not None else None),
                   locations=({str(k): tuple(int(w) for w in v) for k, v in locations.items()}
                              if locations else None))

    def promise(self, available: int) -> int:
        """What may be shown of ``available`` units."""
        held = self.buffer + -(-max(available, 0) * self.buffer_percent // 100)
        shown = max(available - held, 0)
        return shown if self.cap is None else min(shown, self.cap)

    def serving(self) -> Optional[set[int]]:
        """Every warehouse whose stock counts (None: all active ones)."""
        if self.locations is not None:
            return {w for ids in self.locations.values() for w in ids}
        return set(self.warehouse_ids) if self.warehouse_ids is not None else None


@dataclass
class Promise:
    quantity: int
    by_location: Optional[dict[str, int]] = field(default=None)


def available_by_warehouse(session: Session, product_ids, warehouse_ids: Optional[set[int]]
                           ) -> dict[int, dict[int, int]]:
    """{product id: {warehouse id: available}} over active warehouses (only ``warehouse_ids``
    when given)."""
    query = (select(StockLevel.product_id, StockLevel.warehouse_id,
                    func.sum(StockLevel.on_hand - StockLevel.reserved))
             .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
             .where(Warehouse.active.is_(True), in_ids(session, StockLevel.product_id, sorted(set(product_ids))))
             .group_by(StockLevel.product_id, StockLevel.warehouse_id))
    if warehouse_ids is not None:
        query = query.where(in_ids(session, StockLevel.warehouse_id, sorted(warehouse_ids) or [-1]))
    found: dict[int, dict[int, int]] = {}
    for product_id, warehouse_id, available in session.execute(query):
        found.setdefault(product_id, {})[warehouse_id] = int(available or 0)
    return found


def promises(session: Session, rules: StockRules, product_ids) -> dict[int, Promise]:
    """{product id: Promise} for every product asked (0 where there is no stock)."""
    product_ids = sorted(set(product_ids))
    if not product_ids:
        return {}
    stock = available_by_warehouse(session, product_ids, rules.serving())
    result = {}
    for product_id in product_ids:
        levels = stock.get(product_id, {})
        if rules.locations is None:
            result[product_id] = Promise(rules.promise(sum(levels.values())))
            continue
        by_location = {location: rules.promise(sum(levels.get(w, 0) for w in warehouses))
                       for location, warehouses in rules.locations.items()}
        result[product_id] = Promise(sum(by_location.values()), by_location)
    return result


def for_channel(session: Session, channel, product_ids) -> dict[int, Promise]:
    return promises(session, StockRules.of(channel), product_ids)
