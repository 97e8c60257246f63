"""Read-side helpers for orders (FAB_NOTES §5.7): each returns rows with explicit eager
loading, so that an API or a page renders them without one query per row."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from ..models import Allocation, Order, OrderHold, OrderLine


def order_detail(session: Session, order_id: int) -> Order | None:
    """One order with its channel, lines (and products), holds, allocations (and
    warehouses), shipments and events: six queries whatever the order's size."""
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
    """A customer's latest orders (uses the customer_id index), channel loaded."""
    return list(session.scalars(
        select(Order).where(Order.customer_id == customer_id)
        .options(joinedload(Order.channel))
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)
    ))
