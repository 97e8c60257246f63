"""Allocation benchmark on PostgreSQL (its own fresh database, waybill_bench_alloc).

    .venv/bin/python bench/allocate.py [--orders 20000] [--warehouses 6] [--workers 8]
                                       [--hot-orders 3000] [--repeat 5] [--database-url URL]

1. Throughput: N waiting orders (1-3 lines over 60 SKUs, US ZIP codes from coast to coast)
   allocated by ``allocation_queue.allocate_all_waiting`` (the job's code path: routing with the
   decision record, guarded reservations, ledger rows, events) across the warehouses,
   in batches of 1,000 orders per transaction. Prints orders per second.
2. Contention: W parallel worker processes (separate processes, as the job and web
   workers run: Python threads would measure the GIL) on one hot SKU in one warehouse with
   fewer units than orders, against the floor: a bare conditional-UPDATE loop
   (``reserved = reserved + 1 WHERE reserved + 1 <= on_hand``, autocommit) on the same
   database in the same run.
   Waybill in two modes, each run on a fresh hot SKU: as the allocation job runs (workers
   claim batches of up to 100 waiting orders with FOR UPDATE SKIP LOCKED, one guarded
   UPDATE of the level per batch), in turns with the floor ``--repeat`` times, each ratio
   against the floor run just before it and the median printed (this machine's speed
   drifts by a fifth from one run to the next); and once as a webhook runs
   (``allocate_order``, one order per transaction), against the median floor. Every timed
   run starts from the same state: the database is vacuumed and analyzed just before it
   (as autovacuum would after a bulk import), so no run pays for the dead rows of the runs
   before it. Each worker allocates one warm-up order of another SKU before the clock
   starts (a running worker's pace is timed, not its first statements' compilation) and
   stops when its claim finds nothing. Prints reservations per second, the ratios, and
   checks that nothing was oversold: each hot level's reserved equals its units and its
   open allocations, and reserved + backordered equals what was ordered.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select, text

from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMS_INSTANCE_DIR", "/tmp/waybill-bench-instance")

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/waybill_bench_alloc"
SITES = [("NJ", 40.73, -74.17), ("GA", 33.75, -84.39), ("IL", 41.88, -87.63),
         ("TX", 32.78, -96.80), ("CO", 39.74, -104.99), ("NV", 39.53, -119.81),
         ("WA", 47.61, -122.33), ("CA", 34.05, -118.24)]
ZIPS = ["10001", "02108", "19103", "20001", "30303", "33101", "60601", "48201", "55401",
        "63101", "75201", "77002", "80202", "85001", "89501", "94105", "90012", "98101",
        "97201", "99501", "96813", "70112", "37203", "28202", "46204"]


def bulk_orders(session, channel_id, specs, prefix) -> list[int]:
    """specs: [(zip, priority, [(product, qty), ...])] -> new, screened orders (bulk insert:
    the bench measures allocation, not import)."""
    from app.models import Order, OrderLine
    from app.models.base import utcnow

    now = utcnow()
    ids = []
    for start in range(0, len(specs), 2000):
        chunk = specs[start:start + 2000]
        rows = [dict(channel_id=channel_id, external_id=f"{prefix}{start + i}",
                     order_number=f"{prefix}{start + i}", currency="USD", placed_at=now,
                     status="new", ship_country="US", priority=priority, screened_at=now,
                     shipping_address={"name": "B", "line1": "1 Main St", "city": "X",
                                       "postcode": zip_, "country": "US"},
                     tags=[], local_edits={}, version=1, created_at=now, updated_at=now)
                for i, (zip_, priority, _lines) in enumerate(chunk)]
        chunk_ids = list(session.scalars(insert(Order).returning(Order.id, sort_by_parameter_order=True), rows))
        line_rows = [dict(order_id=oid, sku=p.sku, product_id=p.id, title=p.name, quantity=q,
                          unit_price=Decimal("5"), external_id=f"{oid}-{j}")
                     for oid, (_z, _p, lines) in zip(chunk_ids, chunk)
                     for j, (p, q) in enumerate(lines)]
        session.execute(insert(OrderLine), line_rows)
        session.commit()
        ids.extend(chunk_ids)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--warehouses", type=int, default=6)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--hot-orders", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5,
                        help="contention: floor and batch mode in turns, this many times")
    parser.add_argument("--profile", action="store_true",
                        help="print where the throughput part spends its time (cProfile)")
    parser.add_argument("--database-url",
                        default=os.environ.get("OMS_BENCH_ALLOC_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    fresh_database(args.database_url)

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import StockLevel
    from app.services.channels import config as channels
    from app.services.inventory import stock as inventory
    from app.services.inventory import reference
    from app.services.core.actor import Actor

    app = create_app(SQLALCHEMY_DATABASE_URI=args.database_url, OMS_DATABASE_URL=args.database_url,
                     OMS_SCHEDULER=False)
    actor = Actor.system()
    rng = random.Random(7)
    with app.app_context():
        upgrade()
        s = db.session
        warehouse_ids = [reference.save(s, "warehouse", {
            "code": f"WH-{code}", "name": f"Warehouse {code}", "country": "US",
            "latitude": lat, "longitude": lon, "priority": 100}, actor).id
            for code, lat, lon in SITES[:args.warehouses]]
        channel_obj = channels.save_channel(s, {"code": "bench", "name": "Bench", "kind": "manual"},
                                            actor)
        channel_id = channel_obj.id
        s.remove()
        throughput = throughput_run(app, args, warehouse_ids, channel_id, rng)

        # --- contention on one hot SKU ---
        _vacuum(db)
        units = int(args.hot_orders * 0.8)
        hot_wh = warehouse_ids[0]
        # The floor and the batch mode in turns, --repeat times: the machine's speed drifts
        # from one second to the next, so each ratio compares two neighbouring runs.
        pairs, floor_levels = [], []
        for r in range(args.repeat):
            floor_product = reference.save(db.session, "product",
                                           {"sku": f"FLOOR-{r}", "name": "Floor"}, actor)
            inventory.receive(db.session, hot_wh, floor_product.id, units, actor)
            floor_levels.append(inventory.get_level(db.session, hot_wh, floor_product.id).id)
            db.session.remove()
            _vacuum(db)
            floor = bare_update_loop(args, floor_levels[-1])
            pairs.append((floor, hot_sku_run(app, args, "batch", hot_wh, channel_id, units, r)))
        per_order = hot_sku_run(app, args, "per-order", hot_wh, channel_id, units, 0)
        s = db.session
        floor_reserved = max(s.scalars(select(StockLevel.reserved)
                                       .where(StockLevel.id.in_(floor_levels))))
        oversold = s.scalar(select(func.count()).select_from(StockLevel)
                            .where(StockLevel.reserved > StockLevel.on_hand))
        s.remove()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, PostgreSQL on 127.0.0.1 (same machine)")
    t = throughput
    print(f"throughput: {t['handled']:,} orders ({t['lines']:.2f} lines per order) across "
          f"{len(warehouse_ids)} warehouses in {t['seconds']:.1f} s -> "
          f"{t['handled'] / t['seconds']:,.0f} orders/s (target 2,000/s); "
          f"{t['split']:,} split; statuses {t['statuses']}")
    print(f"contention: {args.workers} worker processes on one hot SKU in one warehouse, "
          f"{units:,} units for {args.hot_orders:,} one-unit orders (the rest must wait); "
          f"the floor and the batch mode in turns, {args.repeat} time(s)")
    ok = floor_reserved <= units and oversold == 0
    ratios, floor_rates = [], []
    for r, ((floor_count, floor_s), run) in enumerate(pairs, 1):
        floor_rates.append(floor_count / floor_s)
        print(f"  run {r}: floor (bare conditional UPDATE) {floor_count:,} reserved in "
              f"{floor_s:.2f} s -> {floor_rates[-1]:,.0f} reservations/s")
        ratios.append(_print_run("waybill batch", run, floor_rates[-1]))
        ok = ok and run["ok"] and not run["errors"]
    median_floor = statistics.median(floor_rates)
    print(f"  once: waybill per-order {MODES['per-order']}, against the median floor "
          f"{median_floor:,.0f} reservations/s")
    _print_run("waybill per-order", per_order, median_floor)
    ok = ok and per_order["ok"] and not per_order["errors"]
    print(f"  batch mode {MODES['batch']}: median ratio to the floor "
          f"{statistics.median(ratios):.3f} (runs: {', '.join(f'{x:.3f}' for x in ratios)})")
    print("  target: ratio at least 0.8 (the batch mode is what the allocation job runs)")
    print(f"  oversell check: each hot level's reserved = its units = its open allocations, "
          f"reserved + backordered = ordered, levels with reserved > on_hand: {oversold} -> "
          f"{'OK, no oversell' if ok else 'FAILED'}")
    if not ok:
        sys.exit(1)


def throughput_run(app, args, warehouse_ids, channel_id, rng) -> dict:
    """``--orders`` waiting orders over 60 SKUs (stock uneven per warehouse: some orders
    must split), allocated as the job does it: allocate_all_waiting in batches of 1,000
    until a run changes nothing."""
    from app.extensions import db
    from app.models import AllocationDecision, Order
    from app.services.inventory import stock as inventory
    from app.services.inventory import reference
    from app.services.core.actor import Actor

    actor, tag = Actor.system(), "T"
    with app.app_context():
        s = db.session
        products = [reference.save(s, "product", {"sku": f"{tag}{i:03d}", "name": f"Bench {i}"},
                                   actor) for i in range(60)]
        for p in products:
            for warehouse_id in warehouse_ids:
                if rng.random() < 0.7:
                    inventory.receive(s, warehouse_id, p.id, rng.randrange(200, 1500), actor)
        specs = [(rng.choice(ZIPS), rng.randrange(3),
                  [(rng.choice(products), rng.randrange(1, 4)) for _ in range(rng.randrange(1, 4))])
                 for _ in range(args.orders)]
        bulk_orders(s, channel_id, specs, tag)
        s.remove()
        _vacuum(db)
    with app.app_context():
        profiler = None
        if args.profile:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        handled = _allocate_until_done(db, Actor.job("allocate_backorders"), 1000)
        seconds = time.perf_counter() - started
        if profiler:
            import pstats
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    with app.app_context():
        s = db.session
        mine = Order.order_number.like(f"{tag}%")
        statuses = dict(s.execute(select(Order.status, func.count()).where(mine)
                                  .group_by(Order.status)).all())
        split = s.scalar(select(func.count()).select_from(AllocationDecision).join(Order)
                         .where(mine, AllocationDecision.split.is_(True)))
        s.remove()
    return {"handled": handled, "seconds": seconds, "split": split,
            "statuses": statuses, "lines": sum(len(x[2]) for x in specs) / len(specs)}


def _allocate_until_done(db, who, limit: int) -> int:
    """The job's loop: claim and allocate batches until a run changes nothing (what is
    left waits for stock, or is claimed by another worker, which finishes it)."""
    from app.services.lifecycle import allocation_queue
    from app.services.core.transaction import unit_of_work

    handled = 0
    while True:
        with unit_of_work(db.session):
            changed = allocation_queue.allocate_all_waiting(db.session, who, limit=limit)
        db.session.remove()
        if not changed:
            return handled
        handled += changed


def _vacuum(db) -> None:
    """Clear dead index entries and refresh the planner's statistics, as autovacuum would
    before long on a real database (bulk inserts and thousands of status changes)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _print_run(label: str, run: dict, floor_rate: float) -> float:
    """Print one Waybill run against a floor rate; returns the ratio."""
    rate = run["reserved"] / run["seconds"]
    print(f"         {label}: {run['reserved']:,} reserved in {run['seconds']:.2f} s -> "
          f"{rate:,.0f} reservations/s, ratio to the floor {rate / floor_rate:.3f}; "
          f"{run['backordered']:,} backordered; errors: {len(run['errors'])}")
    for error in run["errors"][:3]:
        print(f"    error: {error[:300]}")
    return rate / floor_rate


MODES = {"batch": "(allocate_all_waiting, claims up to 100 orders FOR UPDATE SKIP LOCKED)",
         "per-order": "(allocate_order, one order per transaction, as a webhook)"}


def bare_update_loop(args, level_id: int) -> tuple[int, float]:
    """The floor: a bare conditional UPDATE per reservation, autocommit, same workers."""
    dsn = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    per_worker = -(-args.hot_orders // args.workers)
    results, seconds = _timed_processes(
        [(_bare_worker, (dsn, level_id, per_worker)) for _ in range(args.workers)])
    return sum(r["reserved"] for r in results), seconds


def _bare_worker(dsn: str, level_id: int, attempts: int, barrier, results) -> None:
    import psycopg

    reserved = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        barrier.wait()
        for _ in range(attempts):
            cur = conn.execute("UPDATE stock_levels SET reserved = reserved + 1 "
                               "WHERE id = %s AND reserved + 1 <= on_hand", (level_id,))
            reserved += cur.rowcount
    results.put({"reserved": reserved, "errors": []})


def hot_sku_run(app, args, mode: str, warehouse_id: int, channel_id: int, units: int,
                n: int) -> dict:
    """A fresh hot SKU (the ``n``-th of its mode) with ``units`` in one warehouse and
    ``--hot-orders`` one-unit orders for it, allocated by ``--workers`` processes (as the
    job and web workers run)."""
    from app.extensions import db
    from app.models import Allocation, OrderLine, StockLevel
    from app.services.inventory import stock as inventory
    from app.services.inventory import reference
    from app.services.core.actor import Actor

    actor = Actor.system()
    with app.app_context():
        tag = f"{mode}-{n}"
        hot = reference.save(db.session, "product", {"sku": f"HOT-{tag}", "name": "Hot"}, actor)
        hot_id = hot.id
        inventory.receive(db.session, warehouse_id, hot_id, units, actor)
        ids = bulk_orders(db.session, channel_id,
                          [("10001", 0, [(hot, 1)]) for _ in range(args.hot_orders)], f"H{tag}-")
        # One warm-up order per worker, ahead of the hot ones in the queue (priority 9).
        warm = reference.save(db.session, "product", {"sku": f"WARM-{tag}", "name": "Warm"}, actor)
        inventory.receive(db.session, warehouse_id, warm.id, args.workers, actor)
        warm_ids = bulk_orders(db.session, channel_id,
                               [("10001", 9, [(warm, 1)]) for _ in range(args.workers)],
                               f"W{tag}-")
        db.session.remove()
        _vacuum(db)  # every timed run starts clean: no dead rows of the runs before it
    results, seconds = _timed_processes(
        [(_waybill_worker, (args.database_url, mode, ids, warm_ids[k], k, args.workers))
         for k in range(args.workers)])
    with app.app_context():
        s = db.session
        level = s.scalar(select(StockLevel).where(StockLevel.product_id == hot_id))
        open_units = s.scalar(select(func.coalesce(func.sum(Allocation.quantity), 0)).where(
            Allocation.stock_level_id == level.id, Allocation.status == "open"))
        backordered = s.scalar(select(func.coalesce(func.sum(OrderLine.quantity_backordered), 0))
                               .where(OrderLine.product_id == hot_id))
        run = {"reserved": level.reserved, "seconds": seconds, "backordered": backordered,
               "errors": [e for r in results for e in r["errors"]],
               "ok": (level.reserved == units == open_units <= level.on_hand
                      and level.reserved + backordered == args.hot_orders)}
        s.remove()
    return run


def _waybill_worker(url: str, mode: str, ids: list[int], warm_id: int, k: int, workers: int,
                    barrier, results) -> None:
    """One allocation worker process: its own app, session and connection. Before the
    clock starts it allocates one warm-up order (``warm_id``; in batch mode whichever
    warm-up order its claim gets), so that what is timed is a running worker's pace, not
    a new process compiling its first statements (a job worker lives for days)."""
    from app import create_app
    from app.extensions import db
    from app.models import Order
    from app.services.lifecycle import allocation, allocation_queue
    from app.services.core.actor import Actor
    from app.services.core.transaction import unit_of_work

    app = create_app(SQLALCHEMY_DATABASE_URI=url, OMS_DATABASE_URL=url, OMS_SCHEDULER=False)
    who, errors = Actor.job(f"bench-{k}"), []
    with app.app_context():
        with unit_of_work(db.session):
            if mode == "per-order":
                allocation.allocate_order(db.session, db.session.get(Order, warm_id), who)
            else:
                allocation_queue.allocate_all_waiting(db.session, who, limit=1)
        db.session.remove()
        barrier.wait()
        try:
            if mode == "per-order":
                for order_id in ids[k::workers]:
                    with unit_of_work(db.session):
                        allocation.allocate_order(db.session, db.session.get(Order, order_id), who)
                    db.session.remove()
            else:
                # Until a claim finds nothing: what is left is claimed by other workers,
                # which finish it (the checks after the run prove every order was handled).
                while True:
                    with unit_of_work(db.session):
                        changed = allocation_queue.allocate_all_waiting(db.session, who, limit=100)
                    db.session.remove()
                    if not changed:
                        break
        except Exception as exc:  # noqa: BLE001 - reported in the output
            errors.append(repr(exc))
        finally:
            db.session.remove()
    results.put({"errors": errors})


def _timed_processes(targets) -> tuple[list[dict], float]:
    """Start one process per (function, args), release them together once all are ready
    (start-up is not timed), and time them until the last one ends."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(targets) + 1), ctx.Queue()
    processes = [ctx.Process(target=fn, args=(*fn_args, barrier, results))
                 for fn, fn_args in targets]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    collected = [results.get() for _ in processes]
    seconds = time.perf_counter() - started
    for process in processes:
        process.join()
    return collected, seconds


if __name__ == "__main__":
    main()
