"""Orders as plain rows, for the allocation queue.

A queue run allocates up to a thousand orders it has only just claimed. Loading each as an
ORM object (an Order, its lines and its holds, each an instrumented object) and writing it
back through the unit of work cost more than the allocation itself. ``load`` reads just
the columns allocation needs, in two queries, into ``OrderRow`` and ``LineRow``: plain
objects with the same attribute names as ``Order`` and ``OrderLine``, so the allocation
code takes either. ``write`` sends what changed as one UPDATE per table, with the orders'
version check (``batch_writes.update_rows``).

Rows are for orders the session does not hold: the caller uses the ORM object of an order
already loaded (two copies of one order would disagree), and the ORM for anything rows do
not carry (holds, cancellations).
"""
from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.models import Order, OrderHold, OrderLine
from app.services.core.batch_writes import update_rows
from app.services.core.sql_lists import in_ids

ORDER_FIELDS = ("status", "fulfillment_status")  # what allocation may change on an order
LINE_FIELDS = ("quantity_allocated", "quantity_backordered")  # and on a line


class LineRow:
    __slots__ = ("id", "order_id", "sku", "product_id", "quantity", "quantity_cancelled",
                 "quantity_shipped", "quantity_allocated", "quantity_backordered", "seen")

    def __init__(self, id, order_id, sku, product_id, quantity, quantity_cancelled,
                 quantity_shipped, quantity_allocated, quantity_backordered):
        self.id, self.order_id, self.sku, self.product_id = id, order_id, sku, product_id
        self.quantity, self.quantity_cancelled = quantity, quantity_cancelled
        self.quantity_shipped = quantity_shipped
        self.quantity_allocated, self.quantity_backordered = quantity_allocated, quantity_backordered
        self.seen = (quantity_allocated, quantity_backordered)

    @property
    def quantity_open(self) -> int:  # as OrderLine.quantity_open
        return self.quantity - self.quantity_cancelled - self.quantity_shipped

    @property
    def changed(self) -> bool:
        return (self.quantity_allocated, self.quantity_backordered) != self.seen


class OrderRow:
    __slots__ = ("id", "version", "order_number", "status", "fulfillment_status",
                 "ship_country", "shipping_address", "routing", "is_held", "lines", "seen")

    def __init__(self, id, version, order_number, status, fulfillment_status, ship_country,
                 shipping_address, routing, is_held):
        self.id, self.version, self.order_number = id, version, order_number
        self.status, self.fulfillment_status = status, fulfillment_status
        self.ship_country, self.shipping_address = ship_country, shipping_address
        self.routing, self.is_held = routing, is_held
        self.lines: list[LineRow] = []
        self.seen = (version, status, fulfillment_status)

    @property
    def changed(self) -> bool:
        return (self.version, self.status, self.fulfillment_status) != self.seen

    def reset(self) -> None:
        """Back to the values read (a rolled-back savepoint undid what was written)."""
        self.version, self.status, self.fulfillment_status = self.seen
        for line in self.lines:
            line.quantity_allocated, line.quantity_backordered = line.seen


def load(session: Session, ids: list[int]) -> dict[int, OrderRow]:
    """The orders ``ids`` as rows, with their lines, by id."""
    if not ids:
        return {}
    held = exists().where(OrderHold.order_id == Order.id, OrderHold.released_at.is_(None))
    rows: dict[int, OrderRow] = {}
    for start in range(0, len(ids), 500):  # SQLite's limit on parameters
        chunk = ids[start:start + 500]
        for r in session.execute(
                select(Order.id, Order.version, Order.order_number, Order.status,
                       Order.fulfillment_status, Order.ship_country, Order.shipping_address,
                       Order.routing, held.label("is_held"))
                .where(in_ids(session, Order.id, chunk))):
            rows[r[0]] = OrderRow(*r)
        for r in session.execute(
                select(OrderLine.id, OrderLine.order_id, OrderLine.sku, OrderLine.product_id,
                       OrderLine.quantity, OrderLine.quantity_cancelled,
                       OrderLine.quantity_shipped, OrderLine.quantity_allocated,
                       OrderLine.quantity_backordered)
                .where(in_ids(session, OrderLine.order_id, chunk)).order_by(OrderLine.id)):
            rows[r[1]].lines.append(LineRow(*r))
    return rows


def write(session: Session, orders: list[OrderRow]) -> None:
    """What allocation changed on ``orders`` and their lines: one UPDATE per table. An
    order changed by another transaction since it was read fails the version check
    (StaleDataError). No commit."""
    update_rows(session, OrderLine.__table__, [
        {"id": line.id, "quantity_allocated": line.quantity_allocated,
         "quantity_backordered": line.quantity_backordered}
        for order in orders for line in order.lines if line.changed])
    changed = [order for order in orders if order.changed]
    update_rows(session, Order.__table__, [
        {"id": order.id, "version": order.version, "status": order.status,
         "fulfillment_status": order.fulfillment_status} for order in changed])
    for order in changed:  # as the database has it now (reset() goes back to ``seen``)
        order.version += 1
