"""Stock primitives (Saleor's warehouse/management.py): every change of on_hand or
reserved is a conditional UPDATE plus a ledger row (allocation's ``StockBook`` sums a
batch's reservations of one level into one UPDATE, still a ledger row per order).

The UPDATE carries its own guard (``on_hand + d >= 0 AND reserved + r <= on_hand + d``),
so two transactions racing for the last unit cannot both win: on PostgreSQL the second
re-checks the guard after the first commits and matches no row. The CHECK constraints on
``stock_levels`` are the last line of defence.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import Session

from app.models import Allocation, OrderLine, Product, StockLevel, StockMovement, Warehouse
from app.models.base import utcnow
from app.services.core import audit, domain_events, validation
from app.services.core.batch_writes import insert_rows
from app.services.core.sql_lists import in_ids
from app.services.core.actor import Actor
from app.services.core.errors import InsufficientStock, NotFound, UnknownRecord, ValidationFailed
from app.services.core.transaction import transactional


def get_level(session: Session, warehouse_id: int, product_id: int, *,
              create: bool = True) -> StockLevel:
    level = session.scalar(
        select(StockLevel).where(StockLevel.warehouse_id == warehouse_id,
                                 StockLevel.product_id == product_id)
    )
    if level is None:
        if not create:
            raise NotFound(f"No stock level for product {product_id} in warehouse {warehouse_id}")
        if session.get(Warehouse, warehouse_id) is None:
            raise UnknownRecord.field("warehouse_id", f"unknown warehouse {warehouse_id}")
        if session.get(Product, product_id) is None:
            raise UnknownRecord.field("product_id", f"unknown product {product_id}")
        level = StockLevel(warehouse_id=warehouse_id, product_id=product_id, on_hand=0,
                           reserved=0, updated_at=utcnow())
        session.add(level)
        session.flush()
    return level


def move(session: Session, level: StockLevel, *, on_hand_delta: int = 0,
         reserved_delta: int = 0, reason: str, actor: Actor, reference: str | None = None,
         order_id: int | None = None, note: str | None = None) -> StockMovement:
    """Apply one guarded change to a level and write its ledger row (no commit)."""
    result = session.execute(
        update(StockLevel)
        .where(
            StockLevel.id == level.id,
            StockLevel.on_hand + on_hand_delta >= 0,
            StockLevel.reserved + reserved_delta >= 0,
            StockLevel.reserved + reserved_delta <= StockLevel.on_hand + on_hand_delta,
        )
        .values(on_hand=StockLevel.on_hand + on_hand_delta,
                reserved=StockLevel.reserved + reserved_delta, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(level)
        raise InsufficientStock(
            f"Not enough stock of product {level.product_id} in warehouse {level.warehouse_id}: "
            f"on hand {level.on_hand}, reserved {level.reserved}, "
            f"change on hand {on_hand_delta:+d}, reserved {reserved_delta:+d}"
        )
    movement = StockMovement(
        stock_level_id=level.id, warehouse_id=level.warehouse_id, product_id=level.product_id,
        on_hand_delta=on_hand_delta, reserved_delta=reserved_delta, reason=reason,
        reference=reference, order_id=order_id, note=note, actor=actor.label,
        user_id=actor.user_id, created_at=utcnow(),
    )
    session.add(movement)
    session.expire(level, ["on_hand", "reserved", "updated_at"])
    domain_events.publish(session, "stock.changed", {
        "stock_level_id": level.id, "product_id": level.product_id, "reason": reason,
        "on_hand_delta": on_hand_delta, "reserved_delta": reserved_delta, "actor": actor})
    return movement


class Move(NamedTuple):
    """One change of a level's figures, as its ledger row says it."""
    stock_level_id: int
    warehouse_id: int
    product_id: int
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str | None = None
    order_id: int | None = None
    note: str | None = None


def move_many(session: Session, moves: list[Move], actor: Actor) -> None:
    """``move`` for several changes at once (a shipment's lines): one guarded UPDATE per level
    (the deltas of a level summed, the levels in key order so two transactions never wait on
    each other in a circle), sent as one executemany, and the ledger rows in one INSERT.
    All or nothing: a level without the units raises InsufficientStock. No commit."""
    if not moves:
        return
    deltas: dict[int, list[int]] = {}
    for m in moves:
        delta = deltas.setdefault(m.stock_level_id, [0, 0])
        delta[0] += m.on_hand_delta
        delta[1] += m.reserved_delta
    table, stamp = StockLevel.__table__, utcnow()
    on_hand, reserved = table.c.on_hand + bindparam("on_hand_delta"), table.c.reserved + bindparam("reserved_delta")
    result = session.connection().execute(
        table.update().where(table.c.id == bindparam("level_id"), on_hand >= 0, reserved >= 0, reserved <= on_hand)
        .values(on_hand=on_hand, reserved=reserved, updated_at=stamp),
        [{"level_id": level_id, "on_hand_delta": d[0], "reserved_delta": d[1]}
         for level_id, d in sorted(deltas.items())])
    if result.rowcount != len(deltas):
        _insufficient(session, deltas, stamp)
    insert_rows(session, StockMovement.__table__, [
        dict(m._asdict(), actor=actor.label, user_id=actor.user_id, created_at=stamp) for m in moves])
    _expire_levels(session, deltas)
    for m in moves:
        domain_events.publish(session, "stock.changed", {
            "stock_level_id": m.stock_level_id, "product_id": m.product_id, "reason": m.reason,
            "on_hand_delta": m.on_hand_delta, "reserved_delta": m.reserved_delta, "actor": actor})


def _insufficient(session: Session, deltas: dict[int, list[int]], stamp) -> None:
    """Say which level of a refused ``move_many`` lacks the units: the one the UPDATE did not
    stamp (the others carry its time, and this transaction's lock)."""
    rows = session.execute(select(StockLevel.id, StockLevel.warehouse_id, StockLevel.product_id,
                                  StockLevel.on_hand, StockLevel.reserved, StockLevel.updated_at)
                           .where(StockLevel.id.in_(sorted(deltas))).order_by(StockLevel.id)).all()
    for row in rows:
        if row.updated_at != stamp:
            on_hand_delta, reserved_delta = deltas[row.id]
            raise InsufficientStock(
                f"Not enough stock of product {row.product_id} in warehouse {row.warehouse_id}: "
                f"on hand {row.on_hand}, reserved {row.reserved}, "
                f"change on hand {on_hand_delta:+d}, reserved {reserved_delta:+d}")
    raise InsufficientStock("A stock level to change is gone")


@transactional
def adjust(session: Session, warehouse_id: int, product_id: int, delta, note: str,
           actor: Actor) -> StockMovement:
    """A counted correction of on_hand (found, damaged, lost, ...) with its reason."""
    delta = validation.quantity(delta, "delta", allow_negative=True)
    note = validation.text(note, "reason", max_length=500)
    level = get_level(session, warehouse_id, product_id)
    try:
        movement = move(session, level, on_hand_delta=delta, reason="adjustment", actor=actor,
                        note=note)
    except InsufficientStock:
        raise ValidationFailed.field(
            "delta", f"That would leave {level.on_hand + delta} on hand while "
                     f"{level.reserved} {'is' if level.reserved == 1 else 'are'} reserved"
        ) from None
    if delta > 0:
        _stock_arrived(session, product_id, actor)
    return movement


@transactional
def receive(session: Session, warehouse_id: int, product_id: int, quantity, actor: Actor,
            reference: str | None = None) -> StockMovement:
    quantity = validation.quantity(quantity)
    reference = validation.text(reference, "reference", max_length=128, required=False)
    level = get_level(session, warehouse_id, product_id)
    movement = move(session, level, on_hand_delta=quantity, reason="receipt", actor=actor,
                    reference=reference)
    _stock_arrived(session, product_id, actor)
    return movement


@transactional
def set_bin(session: Session, level_id: int, bin: str | None, actor: Actor) -> StockLevel:
    level = session.get(StockLevel, level_id)
    if level is None:
        raise NotFound(f"Stock level {level_id} not found")
    bin = validation.text(bin, "bin", max_length=32, required=False)
    audit.record(session, actor, "stock_level", level.id, "update",
                 {"bin": {"old": level.bin, "new": bin}})
    level.bin = bin
    return level


def reserve(session: Session, line: OrderLine, level: StockLevel, quantity: int,
            actor: Actor) -> Allocation:
    """Reserve units of a line in one warehouse (raises InsufficientStock). No commit."""
    move(session, level, reserved_delta=quantity, reason="reservation", actor=actor,
         reference=f"order line {line.id}", order_id=line.order_id)
    allocation = Allocation(
        order_id=line.order_id, order_line_id=line.id, warehouse_id=level.warehouse_id,
        stock_level_id=level.id, quantity=quantity, status="open", created_at=utcnow(),
    )
    session.add(allocation)
    line.quantity_allocated += quantity
    return allocation


class StockMoved(InsufficientStock):
    """A level read without a lock no longer has what the batch planned to take from it."""


class StockBook:
    """The stock levels one allocation batch reserves from (every active warehouse's level
    of every product the batch needs), read once, planned against in memory, and written
    back with one guarded UPDATE per level.

    A batch writes one UPDATE per level however many orders it serves: a hot SKU's level
    is written once per batch, not once per order. Each order's reservation is still its
    own ledger row and one allocation per line. Read with ``lock=False``, ``confirm`` or a
    guard may fail (``StockMoved``: a concurrent transaction took the stock); read with
    ``lock=True`` the rows are locked in key order (two batches never wait on each other's
    rows) and the plan is certain. The CHECK constraints stay the last line of defence. On
    SQLite the transaction's write lock (BEGIN IMMEDIATE) is the lock either way.
    """

    def __init__(self, session: Session, warehouse_ids, product_ids, actor: Actor,
                 lock: bool = True):
        self.session, self.actor = session, actor
        self.levels: dict[tuple[int, int], "LevelFigures"] = {}
        self.planned: dict[int, int] = {}  # level id -> units reserved by this batch
        self.movements: list[dict] = []
        self.allocations: list[dict] = []
        self.locked = lock
        self.now = utcnow()  # the batch's rows carry one time, as now() in the database
        if warehouse_ids and product_ids:
            query = (select(StockLevel.id, StockLevel.warehouse_id, StockLevel.product_id,
                            StockLevel.on_hand, StockLevel.reserved)
                     .where(in_ids(session, StockLevel.warehouse_id, sorted(set(warehouse_ids))),
                            in_ids(session, StockLevel.product_id, sorted(set(product_ids))))
                     .order_by(StockLevel.id))
            # FOR NO KEY UPDATE: the batch changes figures, never keys, so the foreign-key
            # checks of other batches' ledger rows and allocations (KEY SHARE) do not wait.
            rows = session.execute(query.with_for_update(key_share=True) if lock else query)
            self.levels = {(r.warehouse_id, r.product_id): LevelFigures(*r) for r in rows}

    def available(self, warehouse_id: int, product_id: int) -> int:
        level = self.levels.get((warehouse_id, product_id))
        return max(level.on_hand - level.reserved, 0) if level is not None else 0

    def reserve(self, lines: list[OrderLine], warehouse_id: int, product_id: int,
                quantity: int, needed) -> list[tuple[OrderLine, int]]:
        """Reserve ``quantity`` units of one product in one warehouse for the lines of one
        order that carry it (a SKU repeated on several lines is checked summed: all or
        nothing), shared out over the lines in order, one allocation per line, one ledger
        row. Raises InsufficientStock. Returns [(line, units)]."""
        if quantity <= 0:
            return []
        level = self.levels.get((warehouse_id, product_id))
        if level is None or level.on_hand - level.reserved < quantity:
            raise InsufficientStock(f"Not enough stock of product {product_id} in warehouse "
                                    f"{warehouse_id} for {quantity} unit(s)")
        level.reserved += quantity
        self.planned[level.id] = self.planned.get(level.id, 0) + quantity
        now, left, taken = self.now, quantity, []
        for line in lines:
            take = min(needed(line), left)
            if take <= 0:
                continue
            self.allocations.append(dict(
                order_id=line.order_id, order_line_id=line.id, warehouse_id=warehouse_id,
                stock_level_id=level.id, quantity=take, status="open", created_at=now,
                closed_at=None))
            line.quantity_allocated += take
            taken.append((line, take))
            left -= take
        if left:  # more reserved than the lines need: a caller's bug, never a silent leak
            raise ValueError(f"reserved {quantity} but the lines need only {quantity - left}")
        reference = (f"order line {lines[0].id}" if len(lines) == 1
                     else "order lines " + ",".join(str(l.id) for l in lines))[:128]
        self.movements.append(dict(
            stock_level_id=level.id, warehouse_id=warehouse_id, product_id=product_id,
            on_hand_delta=0, reserved_delta=quantity, reason="reservation", reference=reference,
            order_id=lines[0].order_id, note=None, actor=self.actor.label,
            user_id=self.actor.user_id, created_at=now))
        return taken

    def confirm(self) -> None:
        """Before the batch writes anything: read the levels it plans to take from again
        (without a lock) and raise StockMoved when a concurrent transaction has taken
        stock the plan counts on. Found here, a conflict costs the plan, not the written
        rows of a savepoint rolled back; the guarded UPDATEs stay the proof."""
        if self.locked or not self.planned:
            return
        rows = self.session.execute(
            select(StockLevel.id, StockLevel.on_hand, StockLevel.reserved)
            .where(in_ids(self.session, StockLevel.id, sorted(self.planned))))
        for level_id, on_hand, reserved in rows:
            if reserved + self.planned[level_id] > on_hand:
                raise StockMoved("Stock was taken by a concurrent transaction")

    def write_rows(self) -> None:
        """The ledger rows and the allocations."""
        insert_rows(self.session, StockMovement.__table__, self.movements)
        insert_rows(self.session, Allocation.__table__, self.allocations)
        self.movements, self.allocations = [], []

    def write_levels(self) -> None:
        """One guarded UPDATE per level, in key order (two batches never wait on each
        other's rows). Raises StockMoved when a level read without a lock changed."""
        if not self.planned:
            return
        table = StockLevel.__table__
        result = self.session.connection().execute(
            table.update()
            .where(table.c.id == bindparam("level_id"),
                   table.c.reserved + bindparam("units") <= table.c.on_hand)
            .values(reserved=table.c.reserved + bindparam("units"), updated_at=utcnow()),
            [{"level_id": level_id, "units": units}
             for level_id, units in sorted(self.planned.items())])
        if result.rowcount != len(self.planned):
            if self.locked:  # the rows are locked: only a bug gets here
                raise InsufficientStock("A locked stock level changed")
            raise StockMoved("Stock was taken by a concurrent transaction")
        _expire_levels(self.session, self.planned)
        self._publish_changes()
        self.planned = {}

    def _publish_changes(self) -> None:
        """``stock.changed`` once per level written (not per order): what a channel may sell
        moved, and the stock push and webhooks hear of it as they do of a single move."""
        product_of = {level.id: level.product_id for level in self.levels.values()}
        for level_id, units in sorted(self.planned.items()):
            domain_events.publish(self.session, "stock.changed", {
                "stock_level_id": level_id, "product_id": product_of[level_id],
                "reason": "reservation", "on_hand_delta": 0, "reserved_delta": units,
                "actor": self.actor})


class LevelFigures:
    """A stock level's figures as one batch sees them."""

    __slots__ = ("id", "warehouse_id", "product_id", "on_hand", "reserved")

    def __init__(self, id, warehouse_id, product_id, on_hand, reserved):
        self.id, self.warehouse_id, self.product_id = id, warehouse_id, product_id
        self.on_hand, self.reserved = on_hand, reserved


def _expire_levels(session: Session, level_ids) -> None:
    """Level objects loaded earlier in this session read their new figures next time."""
    for level_id in level_ids:
        level = session.identity_map.get(session.identity_key(StockLevel, level_id))
        if level is not None:
            session.expire(level, ["on_hand", "reserved", "updated_at"])


def release(session: Session, allocation: Allocation, actor: Actor, why: str) -> None:
    """Give an open reservation back to available stock. No commit.

    The released units are offered to waiting backorders when the transaction commits
    (``_offer_released``): by then a cancellation is complete, and an order that gave its
    stock back to be re-routed has taken again what it wanted."""
    if allocation.status != "open":
        return
    released = session.info.setdefault(_RELEASED, {})
    released.setdefault(allocation.stock_level.product_id, actor)
    move(session, allocation.stock_level, reserved_delta=-allocation.quantity, reason="release",
         actor=actor, reference=f"allocation {allocation.id}", order_id=allocation.order_id,
         note=why)
    allocation.line.quantity_allocated -= allocation.quantity
    allocation.status = "released"
    allocation.closed_at = utcnow()


def release_units(session: Session, allocation: Allocation, quantity: int, actor: Actor, why: str) -> None:
    """Give back part of an open reservation (all of it releases the allocation). No commit."""
    if quantity >= allocation.quantity:
        release(session, allocation, actor, why)
        return
    move(session, allocation.stock_level, reserved_delta=-quantity, reason="release", actor=actor,
         reference=f"allocation {allocation.id}", order_id=allocation.order_id, note=why)
    allocation.quantity -= quantity
    allocation.line.quantity_allocated -= quantity


def count_missing(session: Session, level: StockLevel, quantity: int, actor: Actor, why: str, *,
                  order_id: int | None = None, reference: str | None = None) -> StockMovement:
    """Units a person found missing on the shelf: a counted adjustment of on_hand. No commit."""
    return move(session, level, on_hand_delta=-quantity, reason="count", actor=actor, note=why,
                order_id=order_id, reference=reference)


def ship(session: Session, parts: list[tuple[Allocation, int]], actor: Actor,
         reference: str) -> list[Allocation]:
    """Units of open allocations leave the building (``parts``: allocation, units): on_hand
    and reserved both drop, in one guarded UPDATE per level and one ledger row per part
    (``move_many``). Shipping part of an allocation splits it. Returns the shipped
    allocations. No commit."""
    for allocation, quantity in parts:
        if allocation.status != "open" or not 0 < quantity <= allocation.quantity:
            raise ValidationFailed.field("quantity", f"cannot ship {quantity} of allocation {allocation.id}")
    move_many(session, [Move(allocation.stock_level_id, allocation.warehouse_id, allocation.line.product_id,
                             -quantity, -quantity, "shipment", reference, allocation.order_id)
                        for allocation, quantity in parts], actor)
    now, shipped = utcnow(), []
    for allocation, quantity in parts:
        line = allocation.line
        line.quantity_allocated -= quantity
        line.quantity_shipped += quantity
        if quantity == allocation.quantity:
            allocation.status, allocation.closed_at = "shipped", now
            shipped.append(allocation)
            continue
        allocation.quantity -= quantity
        shipped.append(Allocation(
            order_id=allocation.order_id, order_line_id=allocation.order_line_id,
            warehouse_id=allocation.warehouse_id, stock_level_id=allocation.stock_level_id,
            quantity=quantity, status="shipped", created_at=allocation.created_at, closed_at=now))
        session.add(shipped[-1])
    return shipped


def restock(session: Session, warehouse_id: int, product_id: int, quantity: int, actor: Actor,
            reference: str, order_id: int | None = None) -> StockMovement:
    """Returned units back on the shelf. No commit."""
    level = get_level(session, warehouse_id, product_id)
    movement = move(session, level, on_hand_delta=quantity, reason="return", actor=actor,
                    reference=reference, order_id=order_id)
    _stock_arrived(session, product_id, actor)
    return movement


def _stock_arrived(session: Session, product_id: int, actor: Actor) -> None:
    """Units became available: waiting orders get them, in queue order (lifecycle's
    allocation subscribes to ``stock.available``)."""
    domain_events.publish(session, "stock.available", {"product_id": product_id, "actor": actor})


_RELEASED = "waybill_released_products"


@event.listens_for(Session, "before_commit")
def _offer_released(session: Session) -> None:
    """Stock released in this transaction (a cancellation, an edit, a re-route) goes to
    the orders waiting for it before the transaction commits."""
    rounds = 0
    while session.info.get(_RELEASED) and rounds < 3:  # allocating may release nothing
        released = session.info.pop(_RELEASED)
        rounds += 1
        for product_id, actor in released.items():
            _stock_arrived(session, product_id, actor)
    session.info.pop(_RELEASED, None)


@event.listens_for(Session, "after_rollback")
def _forget_released(session: Session) -> None:
    session.info.pop(_RELEASED, None)
