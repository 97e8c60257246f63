"""Ingest benchmark: pull orders from the channel sandbox into PostgreSQL end to end
(HTTP, normalise, upsert, events, pipeline with reservations), and in the same run the
floor — a COPY of the very rows the import wrote into the same tables.

    .venv/bin/python bench/ingest.py [--orders 20000] [--database-url URL]

Prints orders per second, the importer's peak memory, the COPY floor and the ratio.
The sandbox runs in its own process so its JSON rendering does not share our CPU budget
(on 2 cores it still shares the machine: say so when quoting the figures).
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMS_INSTANCE_DIR", "/tmp/waybill-bench-instance")

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/waybill_bench"
# Tables the import writes, in an order COPY can load them (parents first).
TABLES = ("customers", "orders", "order_lines", "order_holds", "allocations", "order_events",
          "stock_movements", "sync_conflicts")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "connectors.sandbox", "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("sandbox did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20000, help="orders in all (half per channel)")
    parser.add_argument("--database-url", default=os.environ.get("OMS_BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    fresh_database(args.database_url)
    port = free_port()
    sandbox = start_sandbox(port)
    root = f"http://127.0.0.1:{port}"
    try:
        run(args, root)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def run(args, root: str) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security.manager import sync_roles
    from app.services.channels import config as channels
    from app.services.inventory import reference
    from app.services.inventory import stock as inventory
    from app.services.core.actor import Actor
    from connectors.sandbox import DEFAULT_CATALOG, DEFAULT_CREDENTIALS, channel_base_urls
    from jobs import pull_orders

    time_scale = 0.0001  # the sandbox's rate limits would otherwise set the pace, not Waybill
    requests.post(f"{root}/_sandbox/time_scale", json={"time_scale": time_scale}, timeout=10)
    per_channel = args.orders // 2
    for kind in ("shopify", "woocommerce"):
        for start in range(0, per_channel, 2000):
            requests.post(f"{root}/_sandbox/orders",
                          json={"channel": kind, "count": min(2000, per_channel - start)},
                          timeout=120).raise_for_status()
    state = requests.get(f"{root}/_sandbox/state", timeout=60).json()
    lines = sum(len(o["skus"]) for kind in ("shopify", "woocommerce")
                for shop in state["channels"][kind].values() for o in shop["orders"].values())

    app = create_app(SQLALCHEMY_DATABASE_URI=args.database_url, OMS_DATABASE_URL=args.database_url,
                     OMS_CONNECTOR_OPTIONS={"time_scale": time_scale})
    actor = Actor.system()
    with app.app_context():
        upgrade()
        sync_roles(app.appbuilder)
        warehouse = reference.save(db.session, "warehouse",
                                   {"code": "BENCH", "name": "Bench", "country": "US"}, actor)
        for item in DEFAULT_CATALOG:
            product = reference.save(db.session, "product",
                                     {"sku": item["sku"], "name": item["name"]}, actor)
            inventory.receive(db.session, warehouse.id, product.id, 10_000_000, actor)
        urls = channel_base_urls(root)
        for kind in ("shopify", "woocommerce"):
            channels.save_channel(db.session, {"code": f"bench-{kind}", "name": kind, "kind": kind,
                                               "base_url": urls[kind], "backfill_days": 3650},
                                  actor, credentials=dict(DEFAULT_CREDENTIALS[kind]))
        db.session.remove()

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):  # where the time goes: cProfile of the import
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        summaries = [pull_orders.run(f"bench-{kind}") for kind in ("shopify", "woocommerce")]
        if os.environ.get("BENCH_PROFILE"):
            profiler.disable()
            profiler.dump_stats(os.environ["BENCH_PROFILE"])
        elapsed = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        db.session.remove()

    imported = sum(s.created for s in summaries)
    copy_seconds, copied_rows = copy_floor(args.database_url)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" PostgreSQL (sandbox in a separate process on the same machine)")
    print(f"orders: {imported} imported of {args.orders} ({lines / max(args.orders, 1):.2f} lines per order), "
          f"runs: {', '.join(f'{s.status} ({s.errors} errors)' for s in summaries)}")
    print(f"import: {elapsed:.1f} s -> {imported / elapsed:,.0f} orders/s "
          f"(HTTP, normalise, upsert, events, pipeline with reservations)")
    print(f"importer peak memory: {rss_after / 1024:.0f} MiB max RSS "
          f"({(rss_after - rss_before) / 1024:+.0f} MiB during the import)")
    print(f"floor: COPY of the same {copied_rows:,} rows into the same tables: {copy_seconds:.2f} s "
          f"-> {imported / copy_seconds:,.0f} orders/s")
    print(f"ratio: import takes {elapsed / copy_seconds:.1f}x the COPY floor "
          f"(import/floor throughput = {copy_seconds / elapsed:.3f})")


def copy_floor(url: str) -> tuple[float, int]:
    """Dump what the import wrote, empty the tables, COPY it all back: the fastest way
    PostgreSQL can take these rows."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    dumps = {}
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            buffer = io.BytesIO()
            with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                for chunk in copy:
                    buffer.write(chunk)
            dumps[table] = buffer.getvalue()
        conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        conn.commit()
        rows = sum(data.count(b"\n") for data in dumps.values())
        started = time.perf_counter()
        for table in TABLES:
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                copy.write(dumps[table])
        conn.commit()
        return time.perf_counter() - started, rows


if __name__ == "__main__":
    main()
