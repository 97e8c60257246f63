"""Warehouse floor benchmark on PostgreSQL (its own fresh database, waybill_bench_fulfil).

    .venv/bin/python bench/fulfil.py [--orders 5000] [--wave 100] [--database-url URL]

N allocated orders (1-2 lines of 1-2 units over 40 binned, barcoded SKUs) in one warehouse,
allocated by the allocation job's own code (not timed). Then, timed, exactly what the floor's
screens call, order by order, through the services behind the endpoints:
  - ``picking.create`` per wave of ``--wave`` orders (POST /api/v1/pick_list/),
  - ``picking.scan_item`` per stop of the walk, the quantity typed (POST /<pk>/scan),
  - ``packing.pack_and_ship`` per order (POST /api/v1/pack/order/<id>): every picked unit
    scanned, the package typed, no carrier account configured so the ``manual`` carrier serves
    (the figure is ours alone): pack and ship confirm in one transaction, the ledger's
    ``shipment`` movements, ``shipment.created`` and what hangs on it (write-back, mails).
The floor: every SQL statement the timed run sent (with its parameters and transaction
boundaries, recorded at the cursor) replayed by bare psycopg against a copy of the database
taken just before the run (``CREATE DATABASE ... TEMPLATE``: same rows, same sequences, so the
same ids come back) — the same statements per order, without Python, the ORM or the services.
Prints orders shipped per second, the ratio to the floor, the p95 of one ship confirm, and
checks the stock invariants afterwards (each level equals its ledger, reserved equals its open
allocations, nothing negative). Targets: >= 300 orders/s, >= 0.2 of the floor, p95 <= 200 ms.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import event, func, select, text

from _common import fresh_database  # noqa: E402
from allocate import _allocate_until_done, _vacuum, bulk_orders  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMS_INSTANCE_DIR", "/tmp/waybill-bench-instance")

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/waybill_bench_fulfil"
PACKAGE = [{"weight_kg": "0.6", "length_cm": "25", "width_cm": "18", "height_cm": "8"}]


def setup(app, args) -> int:
    from app.extensions import db
    from app.services.channels import config as channels
    from app.services.core.actor import Actor
    from app.services.inventory import reference
    from app.services.inventory import stock as inventory

    actor, rng = Actor.system(), random.Random(11)
    with app.app_context():
        s = db.session
        warehouse_id = reference.save(s, "warehouse", {"code": "EWR", "name": "Newark", "country": "US"}, actor).id
        channel_id = channels.save_channel(s, {"code": "bench", "name": "Bench", "kind": "manual"}, actor).id
        products = []
        for i in range(40):
            product = reference.save(s, "product", {"sku": f"F{i:03d}", "name": f"Floor item {i}",
                                                    "barcode": f"400{i:010d}"}, actor)
            inventory.receive(s, warehouse_id, product.id, args.orders * 2, actor)
            level = inventory.get_level(s, warehouse_id, product.id)
            inventory.set_bin(s, level.id, f"A{i // 10 + 1}-{i % 10 + 1}", actor)
            products.append(product)
        specs = [("07102", 0, [(p, rng.randrange(1, 3)) for p in rng.sample(products, rng.randrange(1, 3))])
                 for _ in range(args.orders)]
        bulk_orders(s, channel_id, specs, "F")
        s.remove()
        _allocate_until_done(db, Actor.job("allocate_backorders"), 1000)
        _vacuum(db)
    return warehouse_id


class Recorder:
    """Every statement sent at the cursor, with its parameters, and each COMMIT/ROLLBACK."""

    def __init__(self, engine):
        self.engine, self.log, self.on = engine, [], False
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.log.append(("sql", statement, parameters, executemany))

    def _commit(self, conn):
        if self.on:
            self.log.append(("commit",))

    def _rollback(self, conn):
        if self.on:
            self.log.append(("rollback",))


def floor_replay(url: str, log: list) -> tuple[float, float]:
    """Seconds the replay took, and the seconds of CPU this process spent in it."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        cur = conn.cursor()
        started, cpu = time.perf_counter(), time.process_time()
        for entry in log:
            if entry[0] == "sql":
                _kind, statement, parameters, many = entry
                # insertmanyvalues sends one statement for many rows: executemany is set, the
                # parameters are one mapping
                if many and isinstance(parameters, (list, tuple)) and parameters \
                        and not isinstance(parameters[0], (str, int, float)) and parameters[0] is not None:
                    cur.executemany(statement, parameters)
                else:
                    cur.execute(statement, parameters or None)
            elif entry[0] == "commit":
                conn.commit()
            else:
                conn.rollback()
        conn.commit()
        return time.perf_counter() - started, time.process_time() - cpu


def waybill_run(app, warehouse_id: int, wave: int) -> dict:
    from app.extensions import db
    from app.services.core.actor import Actor
    from app.services.fulfilment import packing, picking

    picker = Actor.system()
    ship_times, shipped, started, cpu = [], 0, time.perf_counter(), time.process_time()
    with app.app_context():
        s = db.session
        while True:
            try:
                pick_list = picking.create(s, warehouse_id, {"max_orders": wave}, picker)
            except Exception as err:  # noqa: BLE001 - no order left to pick ends the run
                if "no allocated" in str(err):
                    break
                raise
            pick_list_id, stops = pick_list.id, picking.walk(pick_list)
            for stop in stops:
                picking.scan_item(s, pick_list_id, stop["bin"], stop["barcode"], picker, stop["quantity"])
            for order_id in sorted({slot["order_id"] for stop in stops for slot in stop["slots"]}):
                items = {str(line["order_line_id"]): line["picked"] - line["packed"]
                         for line in packing.pack_lines(s, packing.orders.get_order(s, order_id))}
                s.rollback()  # the page read the order before the pack call
                one = time.perf_counter()
                packing.pack_and_ship(s, order_id, items, PACKAGE, picker)
                ship_times.append(time.perf_counter() - one)
                shipped += 1
        s.remove()
    return {"seconds": time.perf_counter() - started, "shipped": shipped, "ship_times": ship_times,
            "cpu": time.process_time() - cpu}


def invariants(app) -> list[str]:
    from app.extensions import db

    checks = {
        "levels equal to their ledger": """SELECT count(*) FROM stock_levels l LEFT JOIN (SELECT stock_level_id,
            sum(on_hand_delta) oh, sum(reserved_delta) r FROM stock_movements GROUP BY 1) m ON m.stock_level_id = l.id
            WHERE l.on_hand <> coalesce(m.oh, 0) OR l.reserved <> coalesce(m.r, 0)""",
        "reserved equal to open allocations": """SELECT count(*) FROM stock_levels l LEFT JOIN (SELECT stock_level_id,
            sum(quantity) q FROM allocations WHERE status = 'open' GROUP BY 1) a ON a.stock_level_id = l.id
            WHERE l.reserved <> coalesce(a.q, 0)""",
        "nothing negative or over-reserved": "SELECT count(*) FROM stock_levels WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand",
        "lines shipped as ordered": "SELECT count(*) FROM order_lines WHERE quantity_shipped <> quantity",
    }
    with app.app_context():
        bad = [name for name, sql in checks.items() if db.session.execute(text(sql)).scalar()]
        db.session.remove()
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--wave", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("OMS_BENCH_FULFIL_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    fresh_database(args.database_url)
    floor_url = args.database_url + "_floor"

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import Order

    app = create_app(SQLALCHEMY_DATABASE_URI=args.database_url, OMS_DATABASE_URL=args.database_url,
                     OMS_SCHEDULER=False)
    with app.app_context():
        upgrade()
    warehouse_id = setup(app, args)
    with app.app_context():
        allocated = db.session.scalar(select(func.count()).select_from(Order).where(Order.status == "allocated"))
        db.session.remove()
        db.engine.dispose()
    # the floor's copy: the same rows and sequences as the timed run starts from
    from sqlalchemy import create_engine

    base, name = args.database_url.rsplit("/", 1)
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}_floor" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}_floor" TEMPLATE "{name}"'))
    admin.dispose()

    with app.app_context():
        recorder = Recorder(db.engine)
    recorder.on = True
    run = waybill_run(app, warehouse_id, args.wave)
    recorder.on = False
    floor_seconds, floor_cpu = floor_replay(floor_url, recorder.log)
    bad = invariants(app)

    rate = run["shipped"] / run["seconds"]
    floor_rate = run["shipped"] / floor_seconds
    times = sorted(run["ship_times"])
    p95 = times[int(0.95 * (len(times) - 1))] * 1000 if times else 0.0
    statements = sum(1 for e in recorder.log if e[0] == "sql")
    commits = sum(1 for e in recorder.log if e[0] == "commit")
    per_order = 1000 / max(run["shipped"], 1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL on 127.0.0.1 (same machine)")
    print(f"{allocated:,} allocated orders in one warehouse; pick lists of {args.wave}; every stop scanned; "
          f"pack + label (manual carrier) + ship confirm per order")
    print(f"waybill: {run['shipped']:,} orders shipped in {run['seconds']:.2f} s -> {rate:,.0f} orders/s (target >= 300)")
    print(f"floor: the same {statements:,} statements ({statements / max(run['shipped'], 1):.1f} per order) "
          f"and {commits:,} commits by bare psycopg in {floor_seconds:.2f} s -> {floor_rate:,.0f} orders/s")
    # where a Waybill order's time goes: this process's CPU (ORM, services, driver) against the
    # wall time; the rest is waiting for PostgreSQL (its CPU, the commits' WAL flush)
    print(f"per order: waybill {run['seconds'] * per_order:.1f} ms, of it {run['cpu'] * per_order:.1f} ms CPU in this "
          f"process; floor {floor_seconds * per_order:.1f} ms, of it {floor_cpu * per_order:.1f} ms CPU in psycopg")
    print(f"ratio to the floor: {rate / floor_rate:.3f} (target >= 0.2)")
    print(f"ship confirm: p50 {statistics.median(times) * 1000:.1f} ms, p95 {p95:.1f} ms (target <= 200 ms)")
    print(f"stock invariants after the run: {'OK' if not bad else 'FAILED: ' + ', '.join(bad)}")
    if bad or run["shipped"] != allocated:
        sys.exit(1)


if __name__ == "__main__":
    main()
