"""The allocation queue: orders waiting for stock, claimed in queue order with
``FOR UPDATE SKIP LOCKED`` (parallel workers take disjoint batches), read as plain rows
and allocated in batches (``allocation.allocate_batch``)."""
from __future__ import annotations


from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from app.models import Order, OrderHold, OrderLine, StockLevel, Warehouse
from app.models.orders import QUEUE_STATUSES
from app.services.core import order_rows
from app.services.core.actor import Actor
from app.services.core.order_rows import OrderRow
from app.services.core.sql_lists import in_ids

from app.services.lifecycle.allocation import (
    WAITING_STATUSES, allocate_batch, batch_context, needs_orm, queue_order,
)


def _not_held():
    return ~exists().where(OrderHold.order_id == Order.id, OrderHold.released_at.is_(None))


def _has_backorder(product_id: int | None = None, *, in_stock: bool = False):
    """The order has a line waiting for stock (of ``product_id``). ``in_stock``: of a
    product some active warehouse has units of now; the others would only be planned to
    wait again, and a queue head full of them would keep newer orders from their turn.

    An uncorrelated ``IN (subquery)``, which the database computes once per claim (from
    the partial index of backordered lines), not a lookup per waiting order: a queue with
    thousands of backorders of products out of stock stays cheap to claim from."""
    lines = select(OrderLine.order_id).where(OrderLine.quantity_backordered > 0)
    if product_id is not None:
        lines = lines.where(OrderLine.product_id == product_id)
    if in_stock:
        lines = lines.where(OrderLine.product_id.in_(
            select(StockLevel.product_id)
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .where(StockLevel.on_hand > StockLevel.reserved, Warehouse.active.is_(True))))
    return Order.id.in_(lines)


def _allocate_ids(session: Session, claimed: list[tuple[int, str]], actor: Actor) -> int:
    """Load the claimed orders ((id, status) in queue order) and allocate them as one
    batch: as plain rows (order_rows), but the ORM object of an order the session already
    holds, or whose decision may need it (``needs_orm``)."""
    if not claimed:  # stock arrived with nobody waiting, or an empty queue: nothing to read
        return 0
    ctx = batch_context(session)
    orm_ids = [i for i, status in claimed if needs_orm(status, ctx)
               or session.identity_map.get(identity_key(Order, i)) is not None]
    loaded: dict[int, Order | OrderRow] = {}
    for start in range(0, len(orm_ids), 500):
        loaded.update((o.id, o) for o in session.scalars(
            select(Order).where(in_ids(session, Order.id, orm_ids[start:start + 500]))
            .options(selectinload(Order.lines), selectinload(Order.holds))))
    orm = set(orm_ids)
    loaded.update(order_rows.load(session, [i for i, _ in claimed if i not in orm]))
    return allocate_batch(session, [loaded[i] for i, _ in claimed if i in loaded], actor, ctx)


def _claim(query, limit: int):
    """Waiting orders in queue order, row-locked; orders another transaction holds (a
    parallel allocation worker, a staff edit) are skipped, not waited for."""
    # ``status IN QUEUE_STATUSES`` lets the database read the head of ix_orders_queue (in
    # queue order) and stop at ``limit``, instead of sorting every order in the queue.
    return (query.where(Order.status.in_(QUEUE_STATUSES), _not_held())
            .order_by(*queue_order()).limit(limit)
            .with_for_update(of=Order, skip_locked=True))


def allocate_waiting(session: Session, product_id: int, actor: Actor, limit: int = 200) -> int:
    """Stock of a product arrived: give it to the orders waiting for it, in queue order.
    Returns how many orders changed status."""
    claimed = session.execute(_claim(
        select(Order.id, Order.status).where(Order.status.in_(WAITING_STATUSES),
                                             _has_backorder(product_id)),
        limit)).all()
    return _allocate_ids(session, claimed, actor)


def allocate_all_waiting(session: Session, actor: Actor, limit: int = 1000) -> int:
    """Every order not allocated yet, and every order waiting for stock that is in stock
    somewhere now, in one queue order (the allocate_backorders job and `flask oms
    allocate`). Returns how many changed status."""
    claimed = session.execute(_claim(
        select(Order.id, Order.status).where(
            or_(and_(Order.status == "new", Order.fulfilled_by_channel.is_(False)),
                and_(Order.status.in_(WAITING_STATUSES), _has_backorder(in_stock=True)))),
        limit)).all()
    return _allocate_ids(session, claimed, actor)
