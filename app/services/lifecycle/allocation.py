"""Allocation: decide which warehouse ships which units, reserve them, and record why.
Steps 1-3 below are ``routing``'s (candidates, ranking, the plan of one order); the queue
of waiting orders is ``allocation_queue``'s; this module runs batches and writes them.

Orders are served in queue order (priority, ship-by, placed-at). For one order:

1. **Candidates**: active warehouses that ship to the destination country and that the
   rules allow (``rules.routing``: excluded codes are out, preferred codes rank first).
   Every other warehouse is listed in the decision record with the reason it was left out.
2. **Ranking**: rule preference, warehouse priority, great-circle distance from the
   warehouse to the destination's centroid (``app/data/centroids.py``: US ZIP3 area, else
   the country), stock depth.
3. **Plan**: the best-ranked warehouse that can ship the whole order; else, where splitting
   is allowed (the ``allow_split`` setting and no rule forbidding it), as few shipments as
   possible: greedily the warehouse covering most of what is still missing first; else
   nothing (the order waits for one warehouse to have everything).
4. **Reservation**: orders are allocated in batches (one order on import, a page of a
   poll, up to a thousand from the queue) against one ``inventory.StockBook``: the stock
   levels the batch may use are read once (without a lock at first; see ``allocate_batch``),
   each order is planned against what the orders before it left, a SKU repeated on several
   lines is reserved summed (all or nothing), and the book writes a ledger row per order
   and level, an allocation per line and, last, one guarded UPDATE per level. Queue runs
   claim their orders with ``FOR UPDATE SKIP LOCKED`` (parallel workers take disjoint
   batches) and read them as plain rows (``order_rows``), not ORM objects.
5. **The rest**: by the ``backorder_policy`` setting on the order's first decision:
   backorder (wait for stock), hold (a ``manual`` hold, "waiting for stock: backorder
   policy") or cancel the unavailable units. Retries of a waiting order only backorder.

Every decision that is a first decision or reserves anything writes an
``AllocationDecision`` (candidates with their scores or why they were excluded, the plan,
split or not, what is left waiting), which the order page shows.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from app.models import AllocationDecision, Order, OrderLine
from app.models.orders import QUEUE_STATUSES
from app.models.base import utcnow
from app.services.core import events
from app.services.core import order_rows
from app.services.orders import actions as orders
from app.services.lifecycle import rules
from app.services.core import settings
from app.services.core.actor import Actor
from app.services.core.batch_writes import insert_rows, write_column_changes
from app.services.inventory.stock import StockBook, StockMoved
from app.services.core.order_rows import OrderRow
from app.services.lifecycle.routing import (
    WarehouseInfo, active_warehouses, destination, plan_order, score_warehouses, screen_warehouses,
)

# What a decision changes on orders and lines, written for the whole batch at once
# (batch_writes); an order that a policy held or cancelled goes through the unit of work.
ORDER_COLUMNS = frozenset({"status", "fulfillment_status"})
LINE_COLUMNS = frozenset({"quantity_allocated", "quantity_backordered"})
ALLOCATABLE_STATUSES = frozenset(QUEUE_STATUSES)
WAITING_STATUSES = tuple(s for s in QUEUE_STATUSES if s != "new")  # waiting for stock
HOLD_NOTE = "waiting for stock: backorder policy"
CANCEL_REASON = "out of stock: backorder policy"
# A batch is planned against levels read without a lock, this many times at most, each
# time against fresher figures; then once more with the levels locked (allocate_batch).
OPTIMISTIC_ATTEMPTS = 2


def queue_order():
    """The allocation queue: higher priority first, then the earliest ship-by (orders
    without one after those with one), then the oldest. The partial index ix_orders_queue
    holds the queue in this order (models/orders.py): keep the two alike."""
    return (Order.priority.desc(), Order.ship_by.is_(None), Order.ship_by, Order.placed_at,
            Order.id)


def _needed(line: OrderLine) -> int:
    return max(line.quantity_open - line.quantity_allocated, 0)


# --- a batch of orders ----------------------------------------------------------------------

def batch_context(session: Session) -> dict:
    """What every decision of one batch shares: read once per batch, not once per order."""
    return {"warehouses": [WarehouseInfo(w) for w in active_warehouses(session)],
            "settings": settings.get_many(session, ("allow_split", "backorder_policy")),
            "allocation_rules": rules.enabled_rules(session, "on_allocation"),
            "distances": {}}


def needs_orm(status: str, ctx: dict) -> bool:
    """Whether an order's decision may need more than plain rows carry: a first decision
    runs the on_allocation rules and may hold or cancel by the backorder policy."""
    return status == "new" and bool(ctx["allocation_rules"]
                                    or ctx["settings"]["backorder_policy"] != "backorder")


def _wants_stock(order: Order) -> bool:
    return (order.status in ALLOCATABLE_STATUSES and not order.is_held
            and any(line.product_id and _needed(line) > 0 for line in order.lines))


def allocate_order(session: Session, order: Order, actor: Actor, _ctx: dict | None = None) -> str:
    """Reserve what one order still needs; set its status. Returns the new status.
    No commit (runs in the caller's transaction)."""
    allocate_batch(session, [order], actor, _ctx)
    return order.status


def allocate_batch(session: Session, batch: list[Order | OrderRow], actor: Actor,
                   ctx: dict | None = None) -> int:
    """Allocate orders one after the other, in the order given (the queue order), against
    one StockBook: each order is planned against what the orders before it left, and the
    book is written at the end. Returns how many orders changed status. No commit.
    ``batch`` holds ORM orders, or plain ``OrderRow``s (the queue) where ``needs_orm`` is
    false.

    Optimistic first: the levels are read without a lock and their guarded UPDATEs are the
    batch's last statements, so the rows stay locked only from there to the commit (a hot
    SKU's level is not held while a batch plans and writes its rows). When a concurrent
    transaction took the same stock meanwhile, the batch finds it before writing
    (``StockBook.confirm``) or a guard fails: the savepoint is rolled back and the batch
    planned again against fresh figures, still without a lock (``OPTIMISTIC_ATTEMPTS``:
    batches that find a hot SKU's stock gone then backorder in parallel rather than queue
    for its row), and last with the levels locked, which cannot fail."""
    batch = [order for order in batch if _wants_stock(order)]
    if not batch:
        return 0
    if isinstance(session, scoped_session):  # resolved once, not on every use per order
        session = session()
    ctx = ctx or batch_context(session)
    routes = {}
    for order in batch:
        # The on_allocation rules run once per order (its first decision), not on every retry.
        if order.status == "new" and ctx["allocation_rules"]:
            routes[order.id] = rules.evaluate_for_allocation(session, order, actor,
                                                             ctx["allocation_rules"])
        else:
            routes[order.id] = rules.routing(order)
    batch = [order for order in batch if not order.is_held]  # a rule may have held it
    if not batch:
        return 0
    session.flush()  # the lines of a just-imported order need their ids
    for _attempt in range(OPTIMISTIC_ATTEMPTS):
        try:
            with session.begin_nested():
                return _allocate_against_book(session, batch, routes, ctx, actor, lock=False)
        except StockMoved:
            _forget_plan(session, batch)
    return _allocate_against_book(session, batch, routes, ctx, actor, lock=True)


def _forget_plan(session: Session, batch: list[Order | OrderRow]) -> None:
    """After the savepoint of a failed attempt was rolled back: the orders as the
    database has them again (what the attempt wrote past the ORM is gone)."""
    for order in batch:
        if isinstance(order, OrderRow):
            order.reset()
            continue
        for line in order.lines:
            session.expire(line)
        session.expire(order)


def _allocate_against_book(session: Session, batch: list[Order], routes: dict, ctx: dict,
                           actor: Actor, lock: bool) -> int:
    product_ids = {line.product_id for order in batch for line in order.lines if line.product_id}
    book = StockBook(session, [w.id for w in ctx["warehouses"]], product_ids, actor, lock=lock)
    changed, decisions = 0, []
    loaded = [order for order in batch if isinstance(order, Order)]
    with session.no_autoflush:
        with events.batched(session, loaded, book.now):  # one time for all the batch's rows
            for order in batch:
                before = order.status
                decision = _decide(session, order, routes[order.id], ctx, book, actor)
                if decision:
                    decisions.append(decision)
                changed += order.status != before
            book.confirm()  # stock taken while the batch planned: found before any write
            # Orders and lines first: the foreign-key checks of the rows inserted next then
            # find them already locked by this transaction (no row lock written per check).
            write_column_changes(session, [line for order in loaded for line in order.lines],
                                 LINE_COLUMNS)
            write_column_changes(session, loaded, ORDER_COLUMNS)
            order_rows.write(session, [o for o in batch if isinstance(o, OrderRow)])
            book.write_rows()
            insert_rows(session, AllocationDecision.__table__, decisions)
        session.flush()  # what a backorder policy did through the ORM (holds, cancellations)
        book.write_levels()  # last: from here to the commit the level rows are locked
    for order in loaded:  # their allocations were written past the ORM
        session.expire(order, ["allocations"])
    return changed


def _decide(session: Session, order: Order, route: dict, ctx: dict, book: StockBook,
            actor: Actor) -> dict | None:
    """Plan one order against the book, reserve, settle what is missing by the backorder
    policy. Returns its decision record's row (None when there is nothing to record)."""
    first = order.status == "new"
    conf = ctx["settings"]
    split_allowed = bool(conf["allow_split"]) and not route["forbid_split"]
    dest = destination(order)
    point = tuple(dest["point"]) if dest["point"] else None
    allowed, excluded = screen_warehouses(ctx["warehouses"], order, route)
    by_product: dict[int, list[OrderLine]] = defaultdict(list)
    for line in order.lines:
        if line.product_id and _needed(line) > 0:
            by_product[line.product_id].append(line)
    need = {pid: sum(_needed(l) for l in ls) for pid, ls in by_product.items()}
    scored = score_warehouses(allowed, book, need, route, point, ctx["distances"])
    kind, steps = plan_order(scored, book, need, split_allowed)

    reserved: list[dict] = []
    for warehouse, pid, units in steps:
        for line, quantity in book.reserve(by_product[pid], warehouse.id, pid, units, _needed):
            reserved.append({"sku": line.sku, "line_id": line.id,
                             "warehouse": warehouse.code, "quantity": quantity})
    if reserved:
        events.allocated(session, order, actor, reserved)
    policy = conf["backorder_policy"] if first else "backorder"
    status, left, outcome = _settle(session, order, actor, policy)
    if not (first or reserved or outcome in ("hold", "cancel")):
        return None
    codes = {r["warehouse"] for r in reserved}
    entries = [entry for _w, entry in scored]
    return dict(
        order_id=order.id, created_at=book.now, actor=actor.label, status=status,
        outcome=outcome if outcome != "done" else kind if len(codes) <= 1 else "split",
        split=len(codes) > 1, chosen=next(iter(codes)) if len(codes) == 1 else None,
        destination=dest, candidates=entries + excluded, plan=reserved, backordered=left,
        shipments=len(codes), note=_explain(kind, split_allowed, route, reserved, left, outcome),
    )


def _explain(kind, split_allowed, route, reserved, left, outcome) -> str:
    parts = []
    codes = sorted({r["warehouse"] for r in reserved})
    if kind == "whole" and len(codes) == 1:
        parts.append(f"{codes[0]} can ship the whole order and ranks first")
    elif len(codes) > 1:
        parts.append(f"no single warehouse has everything: split across {', '.join(codes)}")
    elif codes:
        parts.append(f"reserved from {codes[0]}")
    elif not split_allowed:
        why = "a rule forbids split" if route["forbid_split"] else "split shipments are off"
        parts.append(f"no single warehouse has everything and {why}")
    else:
        parts.append("no candidate warehouse has stock")
    if left:
        units = sum(l["quantity"] for l in left)
        parts.append({"hold": f"{units} unit(s) short: held ({HOLD_NOTE})",
                      "cancel": f"{units} unit(s) short: cancelled ({CANCEL_REASON})"}
                     .get(outcome, f"{units} unit(s) backordered"))
    return "; ".join(parts)


def _settle(session: Session, order: Order | OrderRow, actor: Actor, policy: str
            ) -> tuple[str, list[dict], str]:
    """Apply the backorder policy to what is still missing, record backorders and move the
    status to what the reservations now say. Returns (status, missing lines, outcome)."""
    missing = [{"sku": l.sku, "line_id": l.id, "quantity": _needed(l)}
               for l in order.lines if l.product_id and _needed(l) > 0]
    outcome = "done" if not missing else "backorder"
    if missing and policy != "backorder" and isinstance(order, OrderRow):
        raise TypeError("a hold or a cancellation by policy needs the ORM order (needs_orm)")
    if missing and policy == "cancel":
        outcome = "cancel"
        lines = {l.id: l for l in order.lines}
        for item in missing:
            line = lines[item["line_id"]]
            line.quantity_cancelled += item["quantity"]
            line.quantity_backordered = 0
        parts = ", ".join(f"{m['quantity']}× {m['sku']}" for m in missing)
        events.order_event(session, order, actor, "lines_cancelled",
                           f"Cancelled {parts}: {CANCEL_REASON}",
                           {"lines": missing, "reason": CANCEL_REASON})
        if not any(l.quantity_open > 0 for l in order.lines):  # nothing left to ship
            if orders.can_transition(order, "cancelled"):
                orders.transition(session, order, "cancelled", actor, CANCEL_REASON)
                order.cancelled_at, order.cancel_reason = utcnow(), CANCEL_REASON
                events.cancelled(session, order, actor, CANCEL_REASON)
            return order.status, missing, outcome
    waiting = []
    for line in order.lines:
        need = _needed(line) if line.product_id else 0
        if need != line.quantity_backordered:
            line.quantity_backordered = need
            if need:
                waiting.append({"sku": line.sku, "line_id": line.id, "quantity": need})
    allocated = sum(l.quantity_allocated for l in order.lines)
    short = sum(l.quantity_backordered for l in order.lines)
    target = "allocated" if not short else "partially_allocated" if allocated else "backordered"
    if waiting:
        events.backordered(session, order, actor, waiting)
    if target != order.status and orders.can_transition(order, target):
        orders.transition(session, order, target, actor)
    if short and policy == "hold":
        outcome = "hold"
        rules.hold(session, order, "manual", HOLD_NOTE, actor)
    return order.status, missing, outcome


def latest_decision(session: Session, order_id: int) -> AllocationDecision | None:
    return session.scalar(
        select(AllocationDecision).where(AllocationDecision.order_id == order_id)
        .order_by(AllocationDecision.created_at.desc(), AllocationDecision.id.desc()).limit(1))
