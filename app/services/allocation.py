"""Allocation: decide which warehouse ships which units and reserve them.

Candidates are active warehouses that ship to the destination. One warehouse that can
ship everything wins (by priority, then stock depth); otherwise, when splitting is
allowed, each line takes what it can from the candidates in that order; the rest waits
as a backorder. Reservations go through ``inventory.reserve`` (guarded UPDATE), so a
warehouse emptied by a concurrent transaction simply falls through to the next one.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from ..models import Order, OrderLine, StockLevel, Warehouse
from . import events, inventory, orders, settings
from .actor import Actor
from .errors import InsufficientStock

ALLOCATABLE_STATUSES = frozenset({"new", "backordered", "partially_allocated"})


def _needed(line: OrderLine) -> int:
    return max(line.quantity_open - line.quantity_allocated, 0)


def candidate_warehouses(session: Session, order: Order) -> list[Warehouse]:
    warehouses = session.scalars(
        select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.priority, Warehouse.id)
    ).all()
    country = order.ship_country
    return [w for w in warehouses if not w.ships_to or (country and country in w.ships_to)]


def allocate_order(session: Session, order: Order, actor: Actor) -> str:
    """Reserve what the order still needs; set its status. Returns the new status."""
    if order.status not in ALLOCATABLE_STATUSES or order.is_held:
        return order.status
    lines = [line for line in order.lines if line.product_id and _needed(line) > 0]
    if not lines:
        return order.status
    warehouses = candidate_warehouses(session, order)
    levels = _levels(session, [w.id for w in warehouses], {l.product_id for l in lines})
    plan = []
    whole = _single_warehouse(warehouses, levels, lines)
    if whole is not None:
        order_of_warehouses = [whole] + [w for w in warehouses if w is not whole]
    elif settings.get(session, "allow_split"):
        order_of_warehouses = warehouses
    else:  # no single warehouse can ship it all and splitting is off: wait for stock
        order_of_warehouses = []
    for warehouse in order_of_warehouses:
        for line in lines:
            need = _needed(line)
            level = levels.get((warehouse.id, line.product_id))
            if need <= 0 or level is None:
                continue
            take = min(need, level.available)
            if take <= 0:
                continue
            try:
                inventory.reserve(session, line, level, take, actor)
            except InsufficientStock:  # taken by a concurrent order meanwhile
                continue
            plan.append({"sku": line.sku, "line_id": line.id, "warehouse": warehouse.code,
                         "quantity": take})
    if plan:
        events.allocated(session, order, actor, plan)
    return _settle(session, order, actor)


def _settle(session: Session, order: Order, actor: Actor) -> str:
    """Record backorders and move the status to what the reservations now say."""
    waiting = []
    for line in order.lines:
        need = _needed(line) if line.product_id else 0
        if need != line.quantity_backordered:
            line.quantity_backordered = need
            if need:
                waiting.append({"sku": line.sku, "line_id": line.id, "quantity": need})
    allocated = sum(l.quantity_allocated for l in order.lines)
    missing = sum(l.quantity_backordered for l in order.lines)
    target = "allocated" if not missing else "partially_allocated" if allocated else "backordered"
    if waiting:
        events.backordered(session, order, actor, waiting)
    if target != order.status and orders.can_transition(order, target):
        orders.transition(session, order, target, actor)
    return order.status


def _levels(session, warehouse_ids, product_ids) -> dict[tuple[int, int], StockLevel]:
    if not warehouse_ids or not product_ids:
        return {}
    rows = session.scalars(select(StockLevel).where(
        StockLevel.warehouse_id.in_(warehouse_ids), StockLevel.product_id.in_(product_ids)))
    return {(level.warehouse_id, level.product_id): level for level in rows}


def _single_warehouse(warehouses, levels, lines) -> Warehouse | None:
    need_by_product: dict[int, int] = defaultdict(int)
    for line in lines:  # a SKU repeated on several lines is summed before checking
        need_by_product[line.product_id] += _needed(line)
    best, best_depth = None, -1
    for warehouse in warehouses:
        depth = 0
        for product_id, need in need_by_product.items():
            level = levels.get((warehouse.id, product_id))
            if level is None or level.available < need:
                break
            depth += level.available - need
        else:
            if best is None or warehouse.priority < best.priority or (
                    warehouse.priority == best.priority and depth > best_depth):
                best, best_depth = warehouse, depth
    return best


def allocate_waiting(session: Session, product_id: int, actor: Actor, limit: int = 200) -> int:
    """Stock of a product arrived: give it to waiting orders in priority order."""
    waiting_lines = select(OrderLine.order_id).where(
        OrderLine.product_id == product_id, OrderLine.quantity_backordered > 0)
    waiting = session.scalars(
        select(Order)
        .where(Order.status.in_(("backordered", "partially_allocated")),
               Order.id.in_(waiting_lines))
        .order_by(Order.priority.desc(), Order.ship_by.is_(None), Order.ship_by, Order.placed_at,
                  Order.id)
        .options(selectinload(Order.lines), selectinload(Order.holds))
        .limit(limit)
    ).all()
    changed = 0
    for order in waiting:
        before = order.status
        if allocate_order(session, order, actor) != before:
            changed += 1
    return changed


def allocate_all_waiting(session: Session, actor: Actor, limit: int = 1000) -> int:
    """Retry every waiting order (the allocate_backorders job and `flask oms allocate`)."""
    waiting_products = session.scalars(
        select(OrderLine.product_id).join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(("backordered", "partially_allocated")),
               OrderLine.quantity_backordered > 0, OrderLine.product_id.is_not(None))
        .group_by(OrderLine.product_id)
    ).all()
    changed = 0
    for product_id in waiting_products:
        changed += allocate_waiting(session, product_id, actor, limit=limit)
    new_orders = session.scalars(
        select(Order).where(Order.status == "new", Order.fulfilled_by_channel.is_(False))
        .order_by(Order.priority.desc(), Order.placed_at).limit(limit)
        .options(selectinload(Order.lines), selectinload(Order.holds))
    ).all()
    for order in new_orders:
        if not order.is_held and allocate_order(session, order, actor) != "new":
            changed += 1
    return changed
