"""Read-side queries for the admin UI (Saleor's fetch.py): explicit eager loading, bounded
results, aggregates computed in SQL. Nothing here writes."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Allocation, AllocationDecision, Customer, Order, OrderEvent, OrderHold, OrderLine, Product, Return, ReturnLine,
    Shipment, ShipmentLine, StockLevel, SyncConflict,
)
from app.models.orders import ORDER_STATUSES
from app.services.core.errors import NotFound


# --- one order -------------------------------------------------------------------------

@dataclass
class WarehouseAllocations:
    warehouse: object
    allocations: list[Allocation]

    @property
    def open_quantity(self) -> int:
        return sum(a.quantity for a in self.allocations if a.status == "open")


@dataclass
class OrderDetail:
    order: Order
    events: list[OrderEvent]
    allocations: list[WarehouseAllocations]
    returnable: list[tuple[OrderLine, int]]  # (line, units that can still be returned)
    decision: Optional[AllocationDecision] = None  # the latest routing decision

    @property
    def open_holds(self) -> list[OrderHold]:
        return self.order.open_holds

    @property
    def has_open_allocations(self) -> bool:
        return any(w.open_quantity for w in self.allocations)


def order_detail(session: Session, order_id: int, event_limit: int = 500) -> OrderDetail:
    """Everything the order page shows, in a fixed number of queries."""
    order = session.scalar(
        select(Order).where(Order.id == order_id).options(
            selectinload(Order.channel), selectinload(Order.customer),
            selectinload(Order.lines).selectinload(OrderLine.product),
            selectinload(Order.holds),
            selectinload(Order.allocations).selectinload(Allocation.warehouse),
            selectinload(Order.shipments).selectinload(Shipment.tracking_events),
            selectinload(Order.shipments).selectinload(Shipment.lines)
            .selectinload(ShipmentLine.line),
            selectinload(Order.shipments).selectinload(Shipment.warehouse),
            selectinload(Order.returns).selectinload(Return.lines).selectinload(ReturnLine.line),
            selectinload(Order.returns).selectinload(Return.refunds),
        )
    )
    if order is None:
        raise NotFound(f"Order {order_id} not found")
    events = session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id)
        .order_by(OrderEvent.created_at.desc(), OrderEvent.id.desc()).limit(event_limit)
    ).all()
    by_warehouse: "OrderedDict[int, WarehouseAllocations]" = OrderedDict()
    for allocation in order.allocations:
        group = by_warehouse.setdefault(
            allocation.warehouse_id, WarehouseAllocations(allocation.warehouse, []))
        group.allocations.append(allocation)
    lines = {line.id: line for line in order.lines}
    for group in by_warehouse.values():
        for allocation in group.allocations:
            allocation.line = lines.get(allocation.order_line_id, allocation.line)
    pending = _pending_returns(order)
    returnable = []
    for line in order.lines:
        left = line.quantity_shipped - line.quantity_returned - pending.get(line.id, 0)
        if left > 0:
            returnable.append((line, left))
    decision = session.scalar(
        select(AllocationDecision).where(AllocationDecision.order_id == order.id)
        .order_by(AllocationDecision.created_at.desc(), AllocationDecision.id.desc()).limit(1))
    return OrderDetail(order=order, events=list(events), allocations=list(by_warehouse.values()),
                       returnable=returnable, decision=decision)


def _pending_returns(order: Order) -> dict[int, int]:
    """Units already on an open (not yet received) return, per order line."""
    pending: dict[int, int] = {}
    for ret in order.returns:
        if ret.status in ("requested", "authorized"):
            for rl in ret.lines:
                pending[rl.order_line_id] = pending.get(rl.order_line_id, 0) + rl.quantity
    return pending


# --- one customer ------------------------------------------------------------------------

@dataclass
class CustomerSummary:
    customer: Customer
    orders: list[Order]
    order_count: int
    totals: list[tuple[str, Decimal]]  # (currency, sum of totals), cancelled orders excluded
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.order_count // self.page_size))


def customer_summary(session: Session, customer_id: int, page: int = 0,
                     page_size: int = 25) -> CustomerSummary:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"Customer {customer_id} not found")
    page = max(0, int(page))
    count = session.scalar(select(func.count(Order.id)).where(Order.customer_id == customer.id))
    orders = session.scalars(
        select(Order).where(Order.customer_id == customer.id)
        .options(selectinload(Order.channel), selectinload(Order.holds))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(page_size).offset(page * page_size)
    ).all()
    totals = session.execute(
        select(Order.currency, func.sum(Order.total))
        .where(Order.customer_id == customer.id, Order.status != "cancelled")
        .group_by(Order.currency).order_by(Order.currency)
    ).all()
    return CustomerSummary(
        customer=customer, orders=list(orders), order_count=count or 0,
        totals=[(currency, Decimal(str(total or 0))) for currency, total in totals],
        page=page, page_size=page_size,
    )


# --- the dashboard -----------------------------------------------------------------------

@dataclass
class Dashboard:
    orders_by_status: list[tuple[str, int]]
    holds_by_reason: list[tuple[str, int]]
    conflicts_by_kind: list[tuple[str, int]]
    low_stock: list[dict]
    low_stock_count: int
    total_orders: int = 0
    open_conflicts: int = 0
    held_orders: int = 0
    extra: dict = field(default_factory=dict)


def dashboard(session: Session, low_stock_limit: int = 10) -> Dashboard:
    """Counts for the start page, each one aggregate query."""
    by_status = dict(session.execute(
        select(Order.status, func.count(Order.id)).group_by(Order.status)).all())
    statuses = [(s, by_status[s]) for s in ORDER_STATUSES if by_status.get(s)]
    open_holds = OrderHold.released_at.is_(None)
    holds = session.execute(
        select(OrderHold.reason, func.count(func.distinct(OrderHold.order_id)))
        .where(open_holds).group_by(OrderHold.reason)
        .order_by(func.count(func.distinct(OrderHold.order_id)).desc())
    ).all()
    held_orders = session.scalar(
        select(func.count(func.distinct(OrderHold.order_id))).where(open_holds)) or 0
    conflicts = session.execute(
        select(SyncConflict.kind, func.count(SyncConflict.id))
        .where(SyncConflict.status == "open").group_by(SyncConflict.kind)
        .order_by(func.count(SyncConflict.id).desc())
    ).all()
    available = func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0)
    low = (
        select(Product.id, Product.sku, Product.name, Product.reorder_point,
               available.label("available"))
        .select_from(Product).outerjoin(StockLevel, StockLevel.product_id == Product.id)
        .where(Product.active.is_(True), Product.reorder_point > 0)
        .group_by(Product.id, Product.sku, Product.name, Product.reorder_point)
        .having(available <= Product.reorder_point)
    )
    low_count = session.scalar(select(func.count()).select_from(low.subquery())) or 0
    low_rows = session.execute(low.order_by(available.asc(), Product.sku).limit(low_stock_limit)).all()
    return Dashboard(
        orders_by_status=statuses,
        holds_by_reason=[(r, n) for r, n in holds],
        conflicts_by_kind=[(k, n) for k, n in conflicts],
        low_stock=[dict(row._mapping) for row in low_rows],
        low_stock_count=low_count,
        total_orders=sum(by_status.values()),
        open_conflicts=sum(n for _k, n in conflicts),
        held_orders=held_orders,
    )


LOCAL_ORDER_TAG = "waybill-exchange"  # made here (an exchange): the channel does not know it


def written_back(order: Order) -> bool:
    """Whether Waybill writes this order's fulfilments, cancel and refunds back to its channel
    (services/channels/writeback): a channel with an API and credentials that does not ship
    the order itself, and an order the channel knows (not one made here)."""
    from connectors.registry import CHANNEL_KINDS

    channel = order.channel
    return (channel is not None and channel.kind in CHANNEL_KINDS and bool(channel.base_url)
            and channel.has_credentials and not order.fulfilled_by_channel
            and LOCAL_ORDER_TAG not in (order.tags or []))


def channel_group(order: Order) -> str:
    """The outbox group of an order's write-back messages: one per order and channel, so a
    refund never overtakes the fulfilment before it."""
    return f"channel:{order.channel_id}:order:{order.id}"


def stock_ledger(session: Session, order_id: int, limit: int = 200) -> list:
    """The stock movements an order caused (reservations, releases, shipments, counts), newest
    first: the order page's ledger."""
    from app.models import StockMovement

    return list(session.scalars(select(StockMovement).where(StockMovement.order_id == order_id)
                                .options(selectinload(StockMovement.product), selectinload(StockMovement.warehouse))
                                .order_by(StockMovement.id.desc()).limit(limit)))
