"""Pick lists (waves): chosen from the allocated, unheld orders of one warehouse by filters,
lines in walking order, picked by scanning bin then item, a short pick counted through the
ledger and sent back to allocation (DESIGN.md "Fulfilment").

An order is in at most one live pick list: the candidates are ``allocated`` orders (creating a
list moves them to ``picking``) with no line on a list still open or picking, and creating
locks them (``SKIP LOCKED``: two people making waves at once get disjoint orders)."""
from __future__ import annotations

import re
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from app.models import Allocation, Order, OrderHold, OrderLine, PickList, PickListLine, Product, StockLevel
from app.models.base import utcnow
from app.services.core import events, validation
from app.services.core.actor import Actor
from app.services.core.batch_writes import write_column_changes
from app.services.core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.inventory import stock as inventory
from app.services.lifecycle import allocation as allocating
from app.services.orders import actions as orders

LIVE = ("open", "picking")
MAX_ORDERS = 500
DEFAULT_MAX_ORDERS = 100
FILTER_KEYS = ("shipping_method", "priority", "ship_by_before", "channel_id", "single_item",
               "max_orders", "max_units")
_PARTS = re.compile(r"(\d+)")
PICKING_COLUMNS = frozenset({"status"})  # what moving to picking changes on an order


def walking_key(bin_code: str | None) -> tuple:
    """Bins sort aisle-rack-shelf naturally (``A2-10`` after ``A2-9``); no bin last."""
    if not bin_code:
        return (1, ())
    return (0, tuple((0, int(part), "") if part.isdigit() else (1, 0, part.upper())
                     for part in _PARTS.split(bin_code) if part))


# --- choosing the orders ---------------------------------------------------------------------

def clean_filters(raw) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationFailed.field("filters", "must be an object")
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise ValidationFailed.field(f"filters.{unknown[0]}", f"unknown filter; use {', '.join(FILTER_KEYS)}")
    clean: dict = {"max_orders": validation.integer(raw.get("max_orders", DEFAULT_MAX_ORDERS),
                                                    "filters.max_orders", minimum=1, maximum=MAX_ORDERS)}
    if raw.get("shipping_method"):
        clean["shipping_method"] = validation.text(raw["shipping_method"], "filters.shipping_method",
                                                   max_length=128)
    for key in ("priority", "channel_id", "max_units"):
        if raw.get(key) not in (None, ""):
            clean[key] = validation.integer(raw[key], f"filters.{key}", minimum=0 if key == "priority" else 1)
    if raw.get("ship_by_before"):
        try:
            moment = datetime.fromisoformat(str(raw["ship_by_before"]).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed.field("filters.ship_by_before", "must be an ISO date or date-time") from None
        clean["ship_by_before"] = moment.isoformat()
    if raw.get("single_item") not in (None, False, "", "false", "0"):
        clean["single_item"] = True
    return clean


def _candidates_query(warehouse_id: int, filters: dict):
    on_live_list = exists().where(PickListLine.order_id == Order.id, PickListLine.pick_list_id == PickList.id,
                                  PickList.status.in_(LIVE))
    held = exists().where(OrderHold.order_id == Order.id, OrderHold.released_at.is_(None))
    here = exists().where(Allocation.order_id == Order.id, Allocation.status == "open",
                          Allocation.warehouse_id == warehouse_id)
    query = select(Order.id).where(Order.status == "allocated", here, ~held, ~on_live_list)
    if "shipping_method" in filters:
        query = query.where(func.lower(Order.shipping_method).contains(filters["shipping_method"].lower()))
    if "priority" in filters:
        query = query.where(Order.priority >= filters["priority"])
    if "channel_id" in filters:
        query = query.where(Order.channel_id == filters["channel_id"])
    if "ship_by_before" in filters:
        query = query.where(Order.ship_by < datetime.fromisoformat(filters["ship_by_before"]))
    if filters.get("single_item"):
        units = select(func.sum(OrderLine.quantity - OrderLine.quantity_cancelled)).where(
            OrderLine.order_id == Order.id).scalar_subquery()
        query = query.where(units == 1)
    return query.order_by(*allocating.queue_order())


def _open_allocations(session: Session, warehouse_id: int, order_ids) -> list[Allocation]:
    """The reservations still to pick: open, here, on no list but a cancelled one (units picked
    before a short pick are not picked twice)."""
    listed = select(PickListLine.allocation_id).join(PickList).where(
        PickListLine.order_id.in_(order_ids), PickList.status != "cancelled")
    return list(session.scalars(select(Allocation).where(
        Allocation.order_id.in_(order_ids), Allocation.status == "open", Allocation.id.not_in(listed),
        Allocation.warehouse_id == warehouse_id).order_by(Allocation.order_id, Allocation.id)))


def _within_units(order_ids: list[int], units: dict[int, int], max_units: int | None) -> list[int]:
    if max_units is None:
        return order_ids
    chosen, total = [], 0
    for order_id in order_ids:
        if total + units[order_id] > max_units:
            continue  # a smaller order further down may still fit
        chosen.append(order_id)
        total += units[order_id]
    return chosen


def _choose(session: Session, warehouse_id: int, filters: dict, *, lock: bool) -> tuple[list[int], list]:
    query = _candidates_query(warehouse_id, filters).limit(filters["max_orders"])
    if lock:
        query = query.with_for_update(of=Order, skip_locked=True)
    order_ids = list(session.scalars(query))
    allocations = _open_allocations(session, warehouse_id, order_ids)
    units: dict[int, int] = {order_id: 0 for order_id in order_ids}
    for allocation in allocations:
        units[allocation.order_id] += allocation.quantity
    order_ids = [order_id for order_id in order_ids if units[order_id]]  # all of it listed already
    chosen = _within_units(order_ids, units, filters.get("max_units"))
    keep = set(chosen)
    return chosen, [a for a in allocations if a.order_id in keep]


def _warehouse(session: Session, warehouse_id) -> int:
    from app.models import Warehouse

    warehouse_id = validation.identifier(warehouse_id, "warehouse_id")
    if session.get(Warehouse, warehouse_id) is None:
        raise ValidationFailed.field("warehouse_id", f"unknown warehouse {warehouse_id}")
    return warehouse_id


def preview(session: Session, warehouse_id, filters) -> dict:
    """What a pick list with these filters would hold now (reads only)."""
    warehouse_id, filters = _warehouse(session, warehouse_id), clean_filters(filters)
    order_ids, allocations = _choose(session, warehouse_id, filters, lock=False)
    numbers = dict(session.execute(select(Order.id, Order.order_number).where(Order.id.in_(order_ids))).all())
    result = {"warehouse_id": warehouse_id, "filters": filters, "orders": len(order_ids),
              "units": sum(a.quantity for a in allocations),
              "order_numbers": [numbers[i] for i in order_ids]}
    session.rollback()
    return result


# --- creating, cancelling --------------------------------------------------------------------

def _lines_for(session: Session, allocations: list[Allocation], slots: dict[int, int]) -> list[PickListLine]:
    levels = {level.id: level for level in session.scalars(select(StockLevel).where(
        StockLevel.id.in_({a.stock_level_id for a in allocations})))}
    lines = {line.id: line for line in session.scalars(select(OrderLine).where(
        OrderLine.id.in_({a.order_line_id for a in allocations})))}
    products = {p.id: p for p in session.scalars(select(Product).where(
        Product.id.in_({level.product_id for level in levels.values()})))}
    rows = []
    for allocation in allocations:
        level = levels[allocation.stock_level_id]
        product, line = products[level.product_id], lines[allocation.order_line_id]
        rows.append(PickListLine(
            slot=slots[allocation.order_id], order_id=allocation.order_id, order_line_id=line.id,
            allocation_id=allocation.id, stock_level_id=level.id, product_id=product.id, bin=level.bin,
            sku=product.sku, barcode=product.barcode, title=(line.title or product.name)[:255],
            quantity=allocation.quantity, quantity_picked=0, quantity_short=0, quantity_packed=0))
    return rows


@transactional
def create(session: Session, warehouse_id, filters, actor: Actor) -> PickList:
    """A pick list of the orders the filters choose now; they move to ``picking``."""
    warehouse_id, filters = _warehouse(session, warehouse_id), clean_filters(filters)
    order_ids, allocations = _choose(session, warehouse_id, filters, lock=True)
    if not order_ids:
        raise ValidationFailed.field("filters", "no allocated, unheld order of this warehouse matches")
    pick_list = PickList(warehouse_id=warehouse_id, status="open", filters=filters, created_by=actor.label,
                         created_at=utcnow())
    session.add(pick_list)
    slots = {order_id: n for n, order_id in enumerate(order_ids, start=1)}
    pick_list.lines = _lines_for(session, allocations, slots)
    session.flush()
    chosen = list(session.scalars(select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.holds))))
    # the wave's orders in one UPDATE and their events in one INSERT, not a statement each
    with session.no_autoflush, events.batched(session, chosen):
        for order in chosen:
            orders.transition(session, order, "picking", actor, f"pick list {pick_list.code}, slot {slots[order.id]}")
        write_column_changes(session, chosen, PICKING_COLUMNS)
    return pick_list


def get(session: Session, pick_list_id: int, *, for_update: bool = False) -> PickList:
    """The pick list with its lines, in one query (locked: the list's row)."""
    query = select(PickList).where(PickList.id == pick_list_id).options(joinedload(PickList.lines))
    pick_list = session.execute(query.with_for_update(of=PickList) if for_update else query).unique().scalar_one_or_none()
    if pick_list is None:
        raise NotFound(f"Pick list {pick_list_id} not found")
    return pick_list


@transactional
def cancel(session: Session, pick_list_id: int, actor: Actor) -> PickList:
    """Its orders not yet packed go back from ``picking`` to their allocation status; units
    picked go back to the shelf (their reservations never left)."""
    pick_list = get(session, pick_list_id, for_update=True)
    if pick_list.status not in LIVE:
        raise InvalidTransition(f"Pick list {pick_list.code} is {pick_list.status}: it cannot be cancelled")
    pick_list.status, pick_list.completed_at = "cancelled", utcnow()
    for order in _orders(session, {line.order_id for line in pick_list.lines}):
        if order.status == "picking":
            orders.transition(session, order, _allocation_status(order), actor,
                              f"pick list {pick_list.code} cancelled")
    return pick_list


def _orders(session: Session, order_ids) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)
                                .options(selectinload(Order.lines)).with_for_update()))


def _allocation_status(order: Order) -> str:
    short = any(line.quantity_open - line.quantity_allocated > 0 for line in order.lines if line.product_id)
    if not short:
        return "allocated"
    return "partially_allocated" if any(line.quantity_allocated for line in order.lines) else "backordered"


# --- picking ---------------------------------------------------------------------------------

def walk(pick_list: PickList) -> list[dict]:
    """The stops in walking order: one per bin and product, with the order slots it serves."""
    stops: "OrderedDict[tuple, dict]" = OrderedDict()
    for line in sorted(pick_list.lines, key=lambda l: (walking_key(l.bin), l.sku, l.slot)):
        stop = stops.setdefault((line.bin, line.product_id), {
            "bin": line.bin, "sku": line.sku, "barcode": line.barcode, "title": line.title,
            "quantity": 0, "picked": 0, "short": 0, "slots": [], "line_ids": []})
        stop["quantity"] += line.quantity
        stop["picked"] += line.quantity_picked
        stop["short"] += line.quantity_short
        stop["slots"].append({"slot": line.slot, "quantity": line.quantity, "order_id": line.order_id})
        stop["line_ids"].append(line.id)
    return list(stops.values())


def _start(pick_list: PickList, actor: Actor) -> None:
    if pick_list.status == "done":
        raise WrongScan.field("item", f"one too many: pick list {pick_list.code} is complete")
    if pick_list.status not in LIVE:
        raise InvalidTransition(f"Pick list {pick_list.code} is {pick_list.status}")
    if pick_list.status == "open":
        pick_list.status, pick_list.started_at = "picking", utcnow()
        pick_list.assigned_to = pick_list.assigned_to or actor.label


def _matches(line: PickListLine, code: str) -> bool:
    code = code.strip().upper()
    return code in {(line.barcode or "").upper(), line.sku.upper()}


class WrongScan(ValidationFailed):
    """A scan refused on the floor: the picker hears it and reads why."""
    code = "wrong_scan"


def _scannable(session: Session, pick_list_id: int, bin_code: str | None) -> tuple[PickList, list[PickListLine], int]:
    """In one query: the pick list, locked; the lines a scan at ``bin_code`` may be for (the
    bin's: a scan reads one stop, not the whole list; every line when no bin is given); and
    how many lines elsewhere still have units to pick (is the list done after this scan)."""
    lines = PickListLine.pick_list_id == PickList.id
    elsewhere = literal(0)
    if bin_code:
        code, other = bin_code.strip().upper(), aliased(PickListLine)
        lines = and_(lines, func.upper(PickListLine.bin) == code)
        elsewhere = select(func.count()).where(
            other.pick_list_id == PickList.id, other.quantity > other.quantity_picked + other.quantity_short,
            or_(other.bin.is_(None), func.upper(other.bin) != code)).scalar_subquery()
    rows = session.execute(select(PickList, PickListLine, elsewhere).outerjoin(PickListLine, lines)
                           .where(PickList.id == pick_list_id).order_by(PickListLine.id)
                           .with_for_update(of=PickList)).all()
    if not rows:
        raise NotFound(f"Pick list {pick_list_id} not found")
    return rows[0][0], [line for _list, line, _left in rows if line is not None], rows[0][2]


@transactional
def scan_item(session: Session, pick_list_id: int, bin_code: str | None, item_code, actor: Actor,
              quantity=1) -> dict:
    """Record ``quantity`` units scanned (or typed) of an item at a bin. A product not on the list
    at that bin, or more than is left to pick, is refused."""
    item_code = validation.text(item_code, "item", max_length=128)
    quantity = validation.quantity(quantity)
    pick_list, lines, elsewhere = _scannable(session, pick_list_id, bin_code)
    _start(pick_list, actor)
    at_bin = [l for l in lines if (l.bin or "").upper() == (bin_code or "").strip().upper()]
    if bin_code and not at_bin:
        raise WrongScan.field("bin", f"bin {bin_code} is not on this pick list")
    candidates = [l for l in (at_bin or lines) if _matches(l, item_code)]
    if not candidates:
        raise WrongScan.field("item", f"{item_code} is not to be picked" + (f" at {bin_code}" if bin_code else ""))
    left = sorted((l for l in candidates if l.quantity_left > 0), key=lambda l: l.slot)
    if sum(l.quantity_left for l in left) < quantity:
        raise WrongScan.field("item", f"one too many: {candidates[0].sku} is complete"
                              if not left else f"only {sum(l.quantity_left for l in left)} left of {candidates[0].sku}")
    slots, remaining = [], quantity
    for line in left:  # fill the slots in order: the picker drops the unit into that tote
        take = min(remaining, line.quantity_left)
        line.quantity_picked += take
        slots.append({"slot": line.slot, "quantity": take})
        remaining -= take
        if not remaining:
            break
    _finish_if_done(pick_list, lines, elsewhere)
    return {"sku": candidates[0].sku, "slots": slots, "status": pick_list.status}


@transactional
def short_pick(session: Session, pick_list_id: int, bin_code: str | None, item_code, actor: Actor) -> dict:
    """What is left of an item at a bin is not there: a counted adjustment (``count``) takes the
    missing units off the shelf, their reservation is released and the orders go back to
    allocation for them (another warehouse, or a backorder); what was picked stays picked."""
    item_code = validation.text(item_code, "item", max_length=128)
    pick_list = get(session, pick_list_id, for_update=True)
    _start(pick_list, actor)
    lines = [l for l in pick_list.lines if _matches(l, item_code) and l.quantity_left > 0
             and (not bin_code or (l.bin or "").upper() == bin_code.strip().upper())]
    if not lines:
        raise WrongScan.field("item", f"nothing of {item_code} is left to pick" + (f" at {bin_code}" if bin_code else ""))
    shorts = []
    for line in lines:
        missing = line.quantity_left
        _release_missing(session, pick_list, line, missing, actor)
        line.quantity_short += missing
        shorts.append({"slot": line.slot, "order_id": line.order_id, "missing": missing,
                       "picked": line.quantity_picked})
    session.flush()
    for order in _orders(session, {line.order_id for line in lines}):
        _back_to_allocation(session, order, pick_list, actor)
    _finish_if_done(pick_list, pick_list.lines)
    return {"sku": lines[0].sku, "shorts": shorts, "status": pick_list.status}


def _release_missing(session: Session, pick_list: PickList, line: PickListLine, missing: int,
                     actor: Actor) -> None:
    allocation = session.get(Allocation, line.allocation_id, with_for_update=True)
    why = f"short pick on {pick_list.code}: {line.quantity_picked} of {line.quantity} found in {line.bin or 'no bin'}"
    inventory.release_units(session, allocation, missing, actor, why)
    inventory.count_missing(session, allocation.stock_level, missing, actor, why, order_id=line.order_id,
                            reference=pick_list.code)


def _back_to_allocation(session: Session, order: Order, pick_list: PickList, actor: Actor) -> None:
    if order.status != "picking":
        return
    events.order_event(session, order, actor, "short_pick",
                       f"Short pick on {pick_list.code}: the missing units go back to allocation",
                       {"pick_list_id": pick_list.id})
    orders.transition(session, order, _allocation_status(order), actor, f"short pick on {pick_list.code}")
    allocating.allocate_order(session, order, actor)


def _finish_if_done(pick_list: PickList, lines: list[PickListLine], left_elsewhere: int = 0) -> None:
    """Done when none of ``lines`` and no line elsewhere on the list has units left."""
    if not left_elsewhere and all(line.quantity_left == 0 for line in lines):
        pick_list.status, pick_list.completed_at = "done", utcnow()


def picked_for_order(session: Session, order_id: int) -> list[PickListLine]:
    """The pick list lines of an order on lists not cancelled (what the pack station checks)."""
    return list(session.scalars(select(PickListLine).join(PickList).where(
        PickListLine.order_id == order_id, PickList.status != "cancelled").order_by(PickListLine.id)))


def unpicked(lines: list[PickListLine]) -> int:
    return sum(line.quantity_left for line in lines)


def ensure_picked(order: Order, lines: list[PickListLine]) -> None:
    if not lines:
        raise Conflict(f"Order {order.order_number} is on no pick list")
    if unpicked(lines):
        raise Conflict(f"Order {order.order_number} has {unpicked(lines)} units still to pick")
