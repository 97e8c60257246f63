"""Tracking benchmark (issue 17) on PostgreSQL (its own fresh database, h17_bench_tracking).

    .venv/bin/python bench/tracking.py [--shipments 20000] [--hours 30] [--database-url URL]

20,000 open shipments spread evenly over the five carriers (UPS, FedEx, USPS, DHL, EasyPost),
each a parcel of the carrier sandbox on its timeline (seeded outcomes, exceptions included),
the sandbox clock moved ``--hours`` on so every parcel has events to tell. The sandbox runs in
a child process (its CPU is not ours), rate limits and quotas off.

1. Our pass: ``tracking.poll`` (the ``poll_tracking`` job) until nothing is due, every
   request logged by the sandbox. The pass asks with ``tracking.FETCH_WORKERS`` threads
   (printed) while it records the answers.
2. The floor, in the same run: exactly the requests of that log (method, path, headers, body)
   replayed one after the other with bare ``requests`` on one keep-alive session, answers read
   and thrown away.
Printed: updates/s (a tracking number asked and its answer recorded), our CPU ms per update
(this process: connectors, parsing, our SQL client side; PostgreSQL's own CPU not counted),
and the ratio of our pass's wall time to the floor's. Target: ≤ 1.3×.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import signal
import socket
import sys
import time
from decimal import Decimal
from pathlib import Path

from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMS_INSTANCE_DIR", "/tmp/waybill-bench-instance")

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/h17_bench_tracking"
KINDS = ("ups", "fedex", "usps", "dhl", "easypost")
PREFIX = {"ups": "1ZBENCH", "fedex": "79", "usps": "9205", "dhl": "10", "easypost": "EZ"}
SHIPMENTS_PER_ORDER = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_parcels(state, count: int) -> dict[str, list[str]]:
    """Parcels straight into the sandbox's state (buying 20,000 labels is not what is measured)."""
    from connectors.sandbox.carriers.parcels import new_parcel

    home = {"city": "Atlanta", "region": "GA", "country": "US", "postcode": "30301"}
    away = {"city": "San Francisco", "region": "CA", "country": "US", "postcode": "94103"}
    numbers: dict[str, list[str]] = {k: [] for k in KINDS}
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        number = f"{PREFIX[kind]}{n:012d}"
        new_parcel(state, kind, [number], service="STD", service_name="Standard", reference=None,
                   days=1 + n % 4, cost=Decimal("7.00"), currency="USD", origin=home, destination=away,
                   label_format="PDF", data={"seq": n})
        numbers[kind].append(number)
    return numbers


def serve_in_child(sandbox, port: int) -> int:
    """Fork: the child serves the sandbox (state as built so far), the parent goes on."""
    pid = os.fork()
    if pid == 0:
        from werkzeug.serving import make_server

        import logging
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        make_server("127.0.0.1", port, sandbox, threaded=True).serve_forever()
        os._exit(0)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return pid
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the sandbox did not start")


def setup_database(session, root: str, numbers: dict[str, list[str]]) -> None:
    """Carrier accounts, then orders and shipments by bulk SQL (one order through the import
    service, copied): every shipment open, due now."""
    from sqlalchemy import insert, select, text

    from app.models import CarrierAccount, Order, Shipment
    from app.models.base import utcnow
    from app.services.core.actor import Actor
    from app.services.fulfilment import carriers
    from connectors.sandbox import CARRIER_CREDENTIALS, carrier_base_urls
    from tests.factories import Factory

    actor = Actor.system()
    urls = carrier_base_urls(root)
    account_ids = {}
    for kind in KINDS:
        creds = dict(CARRIER_CREDENTIALS[kind])
        number = creds.pop("account_number", None)
        account = carriers.save_account(session, {"code": f"{kind}-bench", "name": kind, "kind": kind,
                                                  "base_url": urls[kind], "account_number": number}, actor,
                                        credentials=creds)
        account_ids[kind] = account.id
    make = Factory(session, actor)
    channel, warehouse = make.channel("bench"), make.warehouse("BENCH")
    make.product("BENCH-1", stock={warehouse: 1})
    template = make.order(channel, [("BENCH-1", 1, "10.00")])
    session.commit()
    total = sum(len(v) for v in numbers.values())
    orders = -(-total // SHIPMENTS_PER_ORDER)
    table = Order.__table__
    columns = [c.name for c in table.columns if c.name not in ("id", "external_id", "order_number", "status")]
    session.execute(text(
        f"INSERT INTO orders ({', '.join(columns)}, external_id, order_number, status) "
        f"SELECT {', '.join(columns)}, 'BENCH-' || g, '#B' || g, 'shipped' FROM orders, generate_series(1, :n) g "
        f"WHERE orders.id = :template"), {"n": orders, "template": template.id})
    order_ids = list(session.scalars(select(Order.id).where(Order.external_id.like("BENCH-%")).order_by(Order.id)))
    now = utcnow()
    rows, i = [], 0
    for kind in KINDS:
        for number in numbers[kind]:
            rows.append({"order_id": order_ids[i // SHIPMENTS_PER_ORDER], "warehouse_id": warehouse.id,
                         "carrier": kind, "service": "STD", "tracking_number": number, "status": "label_created",
                         "carrier_account_id": account_ids[kind], "created_by": "bench", "created_at": now,
                         "shipped_at": now, "next_track_at": now})
            i += 1
    session.execute(insert(Shipment.__table__), rows)
    session.commit()
    assert session.scalar(select(CarrierAccount.id).where(CarrierAccount.code == "ups-bench"))


def control(root: str, action: str, **body) -> dict:
    import requests

    answer = requests.post(f"{root}/_sandbox/carriers/{action}", json=body, timeout=60)
    answer.raise_for_status()
    return answer.json()


def replay(root: str, log: list) -> tuple[float, float, int]:
    """The floor: the same requests with bare requests, one keep-alive session, in order."""
    import requests

    http = requests.Session()
    wall, cpu = time.perf_counter(), time.process_time()
    errors = 0
    for method, path, headers, body in log:
        answer = http.request(method, root + path, headers=headers, data=base64.b64decode(body) or None,
                              timeout=30)
        answer.content  # noqa: B018 — read the whole answer, as we do
        errors += answer.status_code >= 500
    return time.perf_counter() - wall, time.process_time() - cpu, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=20_000)
    parser.add_argument("--hours", type=float, default=30.0)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    import logging

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Shipment, TrackingEvent
    from app.services.fulfilment import tracking
    from connectors.sandbox import create_sandbox_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("connectors.http").setLevel(logging.ERROR)
    logging.getLogger("app.services.fulfilment.tracking").setLevel(logging.WARNING)
    fresh_database(args.database_url)
    app = create_app(SQLALCHEMY_DATABASE_URI=args.database_url, OMS_DATABASE_URL=args.database_url,
                     SECRET_KEY="bench", OMS_SCHEDULER=False, OMS_CONNECTOR_OPTIONS={"time_scale": 0.001})
    sandbox = create_sandbox_app(seed=1, time_scale=0.001)
    state = sandbox.carriers.state
    state.exception_rate = 0.15
    numbers = make_parcels(state, args.shipments)
    state.clock.advance(args.hours)
    sandbox.carriers.limits_on = False  # rate limits and quotas off, for us and for the floor
    state.request_log = []
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    child = serve_in_child(sandbox, port)
    print(f"tracking benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"PostgreSQL, load average {os.getloadavg()[0]:.1f}; {args.shipments} open shipments "
          f"({', '.join(f'{k} {len(v)}' for k, v in numbers.items())}), sandbox clock +{args.hours:g} h")
    try:
        with app.app_context():
            upgrade()
            setup_database(db.session, root, numbers)
            db.session.remove()
            control(root, "log", enabled=True)  # a fresh log: only the pass's requests
            wall, cpu = time.perf_counter(), time.process_time()
            asked = new_events = passes = 0
            errors: list[str] = []
            while True:
                summary = tracking.poll(db.session, now=None)
                passes += 1
                asked, new_events, errors = asked + summary.asked, new_events + summary.new_events, errors + summary.errors
                if summary.asked == 0:
                    break
            ours_wall, ours_cpu = time.perf_counter() - wall, time.process_time() - cpu
            updated = db.session.scalar(select(func.count(Shipment.id)).where(Shipment.tracked_at.is_not(None)))
            stored = db.session.scalar(select(func.count(TrackingEvent.id)))
            statuses = dict(db.session.execute(select(Shipment.status, func.count()).group_by(Shipment.status)).all())
        log = json.loads(_get(root, "/_sandbox/carriers/requests"))["requests"]
        floor_wall, floor_cpu, floor_errors = replay(root, log)
    finally:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)
    print(f"our pass: {asked} numbers asked in {passes} poll(s), {updated} shipments updated, {new_events} new "
          f"events ({stored} stored), {len(errors)} errors; statuses {statuses}")
    print(f"  {ours_wall:.1f} s wall, {updated / ours_wall:.0f} updates/s, CPU {1000 * ours_cpu / max(1, updated):.2f} "
          f"ms per update, {len(log)} HTTP requests by {tracking.FETCH_WORKERS} fetch thread(s)")
    print(f"floor (bare requests replaying the same {len(log)} requests): {floor_wall:.1f} s wall, "
          f"{updated / floor_wall:.0f} updates/s, CPU {1000 * floor_cpu / max(1, updated):.2f} ms per update, "
          f"{floor_errors} 5xx")
    ratio = ours_wall / floor_wall
    print(f"ratio ours / floor: {ratio:.2f}x (target <= 1.3x): {'met' if ratio <= 1.3 else 'NOT met'}")


def _get(root: str, path: str) -> str:
    import requests

    answer = requests.get(root + path, timeout=120)
    answer.raise_for_status()
    return answer.text


if __name__ == "__main__":
    main()
