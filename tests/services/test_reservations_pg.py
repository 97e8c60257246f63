"""Race-free reservations, proven on PostgreSQL: 16 parallel workers, each with its own
app context, session and connection, allocate 1,200 orders against scarce stock (about
half of what is ordered) while a monitor polls the stock levels. Afterwards: no level ever
had reserved > on_hand, each level's reserved equals its open allocations, the ledger
balances, and every order's allocated + backordered units equal what it ordered."""
from __future__ import annotations

import queue
import random
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.util import identity_key

from app.extensions import db
from app.models import Allocation, Order, OrderLine, StockLevel
from app.models.base import utcnow
from app.services.lifecycle import allocation, allocation_queue
from app.services.core.actor import Actor
from app.services.core.transaction import unit_of_work
from tests.conftest import is_postgres
from tests.services.test_invariants import assert_invariants

pytestmark = pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")

WORKERS = 16
ORDERS = 1200
PRODUCTS = 6


def _orders_in_bulk(session, channel, products, rng) -> list[int]:
    """New, screened orders written directly (the import path would allocate each one
    serially as it arrives: this test needs them waiting for the parallel workers)."""
    now = utcnow()
    address = {"name": "Ada", "line1": "1 Main St", "city": "Town", "postcode": "10001",
               "country": "US"}
    made = []
    for n in range(ORDERS):
        order = Order(channel_id=channel.id, external_id=f"RACE-{n}", order_number=f"R{n}",
                      currency="USD", placed_at=now, status="new", ship_country="US",
                      shipping_address=address, screened_at=now, priority=rng.randrange(3))
        picks = [rng.choice(products) for _ in range(rng.randrange(1, 4))]  # repeats happen
        for i, product in enumerate(picks):
            order.lines.append(OrderLine(external_id=f"{n}-{i}", sku=product.sku,
                                         product_id=product.id, title=product.name,
                                         quantity=rng.randrange(1, 4), unit_price=Decimal("5")))
        session.add(order)
        made.append(order)
    session.commit()
    return [o.id for o in made]


def test_parallel_workers_never_oversell(app, session, make):
    rng = random.Random(4)
    warehouses = [make.warehouse(f"R{i}", "US", priority=10 * (i % 2)) for i in range(4)]
    products = [make.product(f"RACE-{p}") for p in range(PRODUCTS)]
    channel = make.channel("race")
    ids = _orders_in_bulk(session, channel, products, rng)
    ordered = session.scalar(select(func.sum(OrderLine.quantity)))
    # Scarce: about half of what is ordered, unevenly over the warehouses.
    per_product = ordered // (2 * PRODUCTS)
    admin = make.actor
    from app.services.inventory import stock as inventory
    for product in products:
        for w in warehouses:
            inventory.receive(session, w.id, product.id, max(1, per_product // 4 + rng.randrange(-5, 6)),
                              admin)
    session.commit()
    assert session.scalar(select(func.count(Allocation.id))) == 0

    work: "queue.Queue[int]" = queue.Queue()
    for order_id in ids:
        work.put(order_id)
    errors, retries, done = [], [0], []
    stop = threading.Event()
    violations = []
    start = threading.Barrier(WORKERS + 1)

    def worker(k: int):
        actor = Actor.job(f"race-{k}")
        with app.app_context():
            start.wait()
            try:
                while True:
                    try:
                        order_id = work.get_nowait()
                    except queue.Empty:
                        return
                    for attempt in range(5):
                        try:
                            with unit_of_work(db.session):
                                order = db.session.get(Order, order_id)
                                allocation.allocate_order(db.session, order, actor)
                            done.append(order_id)
                            break
                        except OperationalError:  # deadlock or serialization: retry
                            retries[0] += 1
                            time.sleep(0.01 * (attempt + 1))
                    else:
                        errors.append(f"order {order_id} failed 5 times")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    engine = db.engine

    def monitor():
        with app.app_context():
            while not stop.is_set():
                with engine.connect() as conn:
                    bad = conn.execute(text(
                        "SELECT count(*) FROM stock_levels WHERE reserved > on_hand "
                        "OR reserved < 0 OR on_hand < 0")).scalar()
                if bad:
                    violations.append(bad)
                time.sleep(0.005)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(WORKERS)]
    watcher = threading.Thread(target=monitor)
    for t in threads:
        t.start()
    watcher.start()
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.perf_counter() - began
    stop.set()
    watcher.join()

    assert not errors, errors[:5]
    assert sorted(done) == sorted(ids)
    assert not violations
    session.expire_all()
    assert_invariants(session)
    reserved = session.scalar(select(func.sum(StockLevel.reserved)))
    on_hand = session.scalar(select(func.sum(StockLevel.on_hand)))
    assert reserved <= on_hand and reserved > 0.9 * on_hand  # scarce stock was handed out
    for line in session.scalars(select(OrderLine)):
        assert line.quantity_allocated + line.quantity_backordered == line.quantity, line.id
    statuses = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    assert statuses.get("backordered") and statuses.get("allocated"), statuses
    print(f"\n{WORKERS} workers, {ORDERS} orders in {elapsed:.1f}s "
          f"({ORDERS / elapsed:.0f} orders/s), {retries[0]} retries, "
          f"reserved {reserved}/{on_hand} on hand, statuses {statuses}")


def test_parallel_batch_workers_never_oversell(app, session, make):
    """The allocation job's way: 16 workers each claim batches of waiting orders (FOR
    UPDATE SKIP LOCKED) and allocate a batch against one stock book, optimistic first."""
    rng = random.Random(9)
    warehouses = [make.warehouse(f"B{i}", "US", priority=10 * (i % 2)) for i in range(4)]
    products = [make.product(f"BATCH-{p}") for p in range(PRODUCTS)]
    ids = _orders_in_bulk(session, make.channel("batch"), products, rng)
    ordered = session.scalar(select(func.sum(OrderLine.quantity)))
    from app.services.inventory import stock as inventory
    for product in products:
        for w in warehouses:
            inventory.receive(session, w.id, product.id,
                              max(1, ordered // (8 * PRODUCTS) + rng.randrange(-5, 6)), make.actor)
    session.commit()
    errors, batches = [], [0]
    start = threading.Barrier(WORKERS)
    left_new = select(func.count()).where(Order.id.in_(ids), Order.status == "new")

    def worker(k: int):
        actor = Actor.job(f"batch-{k}")
        with app.app_context():
            start.wait()
            try:
                while True:
                    try:
                        with unit_of_work(db.session):
                            allocation_queue.allocate_all_waiting(db.session, actor, limit=40)
                        batches[0] += 1
                    except OperationalError:  # a deadlock PostgreSQL broke: try again
                        time.sleep(0.01)
                    if not db.session.scalar(left_new):
                        return
                    db.session.remove()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors[:5]
    session.expire_all()
    assert_invariants(session)
    assert not session.scalar(left_new)
    for line in session.scalars(select(OrderLine)):
        assert line.quantity_allocated + line.quantity_backordered == line.quantity, line.id
    statuses = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    assert statuses.get("backordered") and statuses.get("allocated"), statuses
    reserved = session.scalar(select(func.sum(StockLevel.reserved)))
    on_hand = session.scalar(select(func.sum(StockLevel.on_hand)))
    assert 0.9 * on_hand < reserved <= on_hand


def _stock_race(session, make, stock: int, quantities) -> list[int]:
    """One product with ``stock`` units in one warehouse and a new, screened one-line order
    per quantity, in queue order. Returns the order ids."""
    from app.services.inventory import stock as inventory

    w = make.warehouse("OPT", "US")
    product = make.product("OPT-A")
    inventory.receive(session, w.id, product.id, stock, make.actor)
    channel = make.channel("opt")
    now = utcnow()
    address = {"name": "Ada", "line1": "1 Main St", "city": "Town", "postcode": "10001",
               "country": "US"}
    made = []
    for n, quantity in enumerate(quantities):
        order = Order(channel_id=channel.id, external_id=f"OPT-{n}", order_number=f"OPT{n}",
                      currency="USD", placed_at=now, status="new", ship_country="US",
                      shipping_address=address, screened_at=now)
        order.lines.append(OrderLine(external_id=f"OPT-{n}-0", sku=product.sku,
                                     product_id=product.id, title="A", quantity=quantity,
                                     unit_price=Decimal("5")))
        session.add(order)
        made.append(order)
    session.commit()
    return [order.id for order in made]


def _allocate_with_rivals(app, path: str, order_id: int, rival_ids: list[int], when: str
                          ) -> list[str]:
    """Allocate ``order_id`` (``path``: as a webhook does, or claimed by the queue job as a
    plain row) while, each time this thread is about to send a statement starting with
    ``when``, the next rival order is allocated and committed by another thread. Returns
    the statements this thread sent."""
    from sqlalchemy import event

    main_thread, rivals, sent = threading.get_ident(), list(rival_ids), []

    def rival(rival_id):
        with app.app_context():
            with unit_of_work(db.session):
                allocation.allocate_order(db.session, db.session.get(Order, rival_id),
                                          Actor.job("rival"))
            db.session.remove()

    def before_statement(conn, cursor, statement, params, context, executemany):
        if threading.get_ident() != main_thread:
            return
        sent.append(statement)
        if statement.startswith(when) and rivals:
            t = threading.Thread(target=rival, args=(rivals.pop(0),))
            t.start()
            t.join(timeout=30)

    event.listen(db.engine, "before_cursor_execute", before_statement)
    try:
        with app.app_context():
            with unit_of_work(db.session):
                if path == "queue":  # limit 1: the job claims the first order only
                    allocation_queue.allocate_all_waiting(db.session, Actor.job("first"), limit=1)
                    assert identity_key(Order, order_id) not in db.session.identity_map
                else:
                    allocation.allocate_order(db.session, db.session.get(Order, order_id),
                                              Actor.job("first"))
            db.session.remove()
    finally:
        event.remove(db.engine, "before_cursor_execute", before_statement)
    assert not rivals, "every rival ran"
    return sent


def _assert_one_decision(session, order_id: int, allocated: int, backordered: int) -> None:
    """The order ends with what it got, one decision record and one allocated event: what
    a rolled-back attempt wrote is gone."""
    from app.models import AllocationDecision, OrderEvent

    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.lines[0].quantity_allocated, order.lines[0].quantity_backordered) == (
        allocated, backordered)
    assert order.status == "partially_allocated"
    assert session.scalar(select(func.count()).where(
        AllocationDecision.order_id == order_id)) == 1
    assert session.scalar(select(func.count()).where(
        OrderEvent.order_id == order_id, OrderEvent.type == "allocated")) == 1
    assert_invariants(session)


LEVEL_UPDATE = "UPDATE stock_levels SET reserved"
CONFIRM_READ = "SELECT stock_levels.id, stock_levels.on_hand, stock_levels.reserved"
DECISION_INSERT = "INSERT INTO allocation_decisions"


@pytest.mark.parametrize("path", ["allocate_order", "queue"])
def test_stock_taken_between_plan_and_write_is_planned_again(app, session, make, path):
    """Allocation reads the levels without a lock and writes their guarded UPDATE last. A
    concurrent allocation that commits just before that UPDATE makes its guard fail: the
    savepoint is rolled back (no second decision, no duplicate events) and the order is
    planned again, taking what is left. ``queue``: the order is claimed by the allocation
    job and read as a plain row (order_rows), whose written values and version the
    rollback must undo too."""
    first_id, rival_id = _stock_race(session, make, 3, (3, 2))
    sent = _allocate_with_rivals(app, path, first_id, [rival_id], when=LEVEL_UPDATE)

    assert sum(s.startswith(DECISION_INSERT) for s in sent) == 2  # one rolled back
    assert session.get(Order, rival_id).status == "allocated"
    _assert_one_decision(session, first_id, allocated=1, backordered=2)


@pytest.mark.parametrize("path", ["allocate_order", "queue"])
def test_stock_taken_while_planning_is_found_before_anything_is_written(app, session, make,
                                                                        path):
    """Stock taken while the batch planned is found when the batch reads its levels again
    before writing (StockBook.confirm): it is planned again without having written (and
    rolled back) a single row."""
    first_id, rival_id = _stock_race(session, make, 3, (3, 2))
    sent = _allocate_with_rivals(app, path, first_id, [rival_id], when=CONFIRM_READ)

    assert sum(s.startswith(DECISION_INSERT) for s in sent) == 1  # nothing rolled back
    _assert_one_decision(session, first_id, allocated=1, backordered=2)


def test_stock_taken_at_every_optimistic_attempt_ends_in_a_locked_plan(app, session, make):
    """Each optimistic attempt plans against fresh figures, and each may lose its stock
    again; after OPTIMISTIC_ATTEMPTS of them the batch is planned with the level locked,
    which no rival can undo."""
    rival_count = allocation.OPTIMISTIC_ATTEMPTS
    ids = _stock_race(session, make, 3 + rival_count, (3 + rival_count,) + (1,) * rival_count)
    sent = _allocate_with_rivals(app, "allocate_order", ids[0], ids[1:], when=LEVEL_UPDATE)

    reads = [s for s in sent if s.startswith("SELECT stock_levels.id, stock_levels.warehouse_id")]
    assert len(reads) == rival_count + 1
    assert ["FOR NO KEY UPDATE" in s for s in reads] == [False] * rival_count + [True]
    _assert_one_decision(session, ids[0], allocated=3, backordered=rival_count)
