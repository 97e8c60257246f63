"""Routing: which warehouses may ship an order (active, shipping to the destination,
allowed by the rules) and how they rank (rule preference, priority, great-circle
distance to the destination, stock depth); the plan of one order against a stock book."""
from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.centroids import centroid
from app.models import Order, Warehouse
from app.services.lifecycle import rules
from app.services.inventory.stock import StockBook


EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def destination(order: Order) -> dict:
    address = order.shipping_address or {}
    country = (order.ship_country or address.get("country") or "").upper() or None
    postcode = address.get("postcode") if isinstance(address, dict) else None
    point = centroid(country, postcode)
    return {"country": country, "postcode": postcode,
            "point": list(point) if point else None}


def warehouse_point(warehouse: Warehouse) -> tuple[float, float] | None:
    if warehouse.latitude is not None and warehouse.longitude is not None:
        return float(warehouse.latitude), float(warehouse.longitude)
    return centroid(warehouse.country, warehouse.postcode)  # no coordinates: its area's


class WarehouseInfo:
    """What routing reads of a warehouse, as plain attributes (a batch reads them for every
    order it plans) and with its point resolved once."""

    __slots__ = ("id", "code", "name", "priority", "ships_to", "point")

    def __init__(self, warehouse: Warehouse):
        self.id, self.code, self.name = warehouse.id, warehouse.code, warehouse.name
        self.priority, self.ships_to = warehouse.priority, warehouse.ships_to
        self.point = warehouse_point(warehouse)


# --- candidates ----------------------------------------------------------------------------

def active_warehouses(session: Session) -> list[Warehouse]:
    return list(session.scalars(
        select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.priority,
                                                                     Warehouse.id)))


def screen_warehouses(warehouses, order: Order, route: dict) -> tuple[list[Warehouse], list[dict]]:
    """(allowed warehouses, [{code, name, excluded}] for the others)."""
    country = order.ship_country
    excluded_codes = set(route.get("exclude_warehouses") or [])
    allowed, out = [], []
    for w in warehouses:
        why = None
        if w.ships_to and not (country and country in w.ships_to):
            why = f"does not ship to {country or 'an unknown country'}"
        elif w.code in excluded_codes:
            why = "excluded by a rule"
        if why:
            out.append({"code": w.code, "name": w.name, "excluded": why})
        else:
            allowed.append(w)
    return allowed, out


def _rank_key(w: Warehouse, prefer: list[str], distance: float | None, depth: int):
    rank = prefer.index(w.code) if w.code in prefer else len(prefer)
    return (rank, w.priority, distance if distance is not None else math.inf, -depth, w.id)


def candidate_warehouses(session: Session, order: Order) -> list[Warehouse]:
    """Active warehouses that ship to the order's country and that the rules allow,
    best first by rule preference, priority and distance (stock is not looked at)."""
    route = rules.routing(order)
    allowed, _ = screen_warehouses(active_warehouses(session), order, route)
    point = destination(order)["point"]
    prefer = route["prefer_warehouses"]

    def key(w):
        wp = warehouse_point(w)
        return _rank_key(w, prefer, haversine_km(wp, point) if wp and point else None, 0)
    return sorted(allowed, key=key)


def score_warehouses(allowed, book: StockBook, need: dict[int, int], route: dict, point,
           distances: dict) -> list[tuple[WarehouseInfo, dict]]:
    """(warehouse, its entry in the decision record) per allowed warehouse, best first
    (``distances``: a batch's memo of rounded distances by warehouse and destination)."""
    prefer = route["prefer_warehouses"]
    scored = []
    levels = book.levels
    for w in allowed:
        coverage, depth, whole = 0, 0, True
        for product_id, units in need.items():
            level = levels.get((w.id, product_id))  # book.available(), inlined: the hot loop
            available = max(level.on_hand - level.reserved, 0) if level is not None else 0
            coverage += min(available, units)
            depth += available - units
            whole = whole and available >= units
        distance = distances.get((w.id, point), ())
        if distance == ():
            distance = distances[w.id, point] = (
                round(haversine_km(w.point, point), 1) if w.point and point else None)
        scored.append((_rank_key(w, prefer, distance, depth), w, {
            "code": w.code, "name": w.name, "excluded": None,
            "preferred": prefer.index(w.code) + 1 if w.code in prefer else None,
            "priority": w.priority, "distance_km": distance, "depth": depth,
            "coverage": coverage, "whole": whole,
        }))
    scored.sort(key=lambda s: s[0])
    for rank, (_key, _w, entry) in enumerate(scored, 1):
        entry["rank"] = rank
    return [(w, entry) for _key, w, entry in scored]


def plan_order(scored: list[tuple[WarehouseInfo, dict]], book: StockBook, need: dict[int, int],
          split_allowed: bool) -> tuple[str, list[tuple[WarehouseInfo, int, int]]]:
    """(kind, [(warehouse, product_id, units)]): kind is whole, split or none."""
    for w, entry in scored:
        if entry["whole"]:
            return "whole", [(w, pid, units) for pid, units in need.items() if units > 0]
    if not split_allowed:
        return "none", []
    remaining = {pid: units for pid, units in need.items() if units > 0}
    steps, used = [], set()
    while remaining:
        best, best_cover = None, 0
        for w, _entry in scored:  # ties keep the ranking order
            if w.id in used:
                continue
            cover = sum(min(book.available(w.id, pid), units) for pid, units in remaining.items())
            if cover > best_cover:
                best, best_cover = w, cover
        if best is None:
            break
        used.add(best.id)
        for pid in list(remaining):
            take = min(book.available(best.id, pid), remaining[pid])
            if take > 0:
                steps.append((best, pid, take))
                remaining[pid] -= take
                if not remaining[pid]:
                    del remaining[pid]
    return ("split" if len(used) > 1 else "whole" if used else "none"), steps
