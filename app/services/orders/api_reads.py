"""Read-side helpers of the REST API (FAB_NOTES §5.7): rows with explicit eager loading,
so that an endpoint renders them without one query per row. Nothing here writes.
(The HTML pages have their own in order_queries.py.)"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.models import (
    Allocation, Order, OrderHold, OrderLine, Product, StockLevel, Warehouse, normalize_sku,
)


# --- orders ------------------------------------------------------------------------------

def order_detail(session: Session, order_id: int) -> Order | None:
    """One order with its channel, lines (and products), holds, allocations (and
    warehouses), shipments and events: a fixed number of queries whatever its size."""
    return session.scalar(
        select(Order).where(Order.id == order_id).options(
            joinedload(Order.channel),
            selectinload(Order.lines).joinedload(OrderLine.product),
            selectinload(Order.holds),
            selectinload(Order.allocations).joinedload(Allocation.warehouse),
            selectinload(Order.shipments),
            selectinload(Order.events),
        ).execution_options(populate_existing=True)
    )


def order_exists(session: Session, order_id: int) -> bool:
    return session.scalar(select(Order.id).where(Order.id == order_id)) is not None


def open_hold_counts(session: Session, order_ids) -> dict[int, int]:
    """{order id: number of open holds} for a page of orders, in one grouped query."""
    ids = list(order_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(OrderHold.order_id, func.count(OrderHold.id))
        .where(OrderHold.order_id.in_(ids), OrderHold.released_at.is_(None))
        .group_by(OrderHold.order_id)
    ).all()
    return {order_id: count for order_id, count in rows}


def open_holds(session: Session, order_id: int) -> list[OrderHold]:
    return list(session.scalars(
        select(OrderHold).where(OrderHold.order_id == order_id, OrderHold.released_at.is_(None))
        .order_by(OrderHold.id)
    ))


def recent_orders_of_customer(session: Session, customer_id: int, limit: int = 20) -> list[Order]:
    """A customer's latest orders (customer_id index), channel loaded."""
    return list(session.scalars(
        select(Order).where(Order.customer_id == customer_id)
        .options(joinedload(Order.channel))
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)
    ))


# --- stock ---------------------------------------------------------------------------------

def level_detail(session: Session, level_id: int) -> StockLevel | None:
    return session.scalar(
        select(StockLevel).where(StockLevel.id == level_id)
        .options(joinedload(StockLevel.warehouse), joinedload(StockLevel.product))
        .execution_options(populate_existing=True)
    )


def warehouse_id_by_code(session: Session, code: str) -> int | None:
    code = (code or "").strip().upper()
    return session.scalar(select(Warehouse.id).where(Warehouse.code == code))


def product_id_by_sku(session: Session, sku: str) -> int | None:
    return session.scalar(select(Product.id).where(Product.sku == normalize_sku(sku)))
