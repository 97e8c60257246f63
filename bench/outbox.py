"""Outbox benchmark on PostgreSQL (its own fresh database, waybill_bench_outbox).

    .venv/bin/python bench/outbox.py [--orders 600] [--messages 20000] [--groups 5000]
                                     [--runners 2] [--rate 300] [--seconds 20]
                                     [--database-url URL]

(a) The cost on the write path: real order changes through the services (place a hold,
    add a note, release the hold: three transactions per order), with and without an
    outbox message written in each of those transactions (``outbox.enqueue`` with a group
    key, as the webhook subscriptions will do), alternated in rounds on fresh orders, the
    ratio of the medians printed. Target: with / without <= 1.10.
(b) Delivery: M messages over G group keys, each one signed HTTP request (HMAC-SHA256 of
    "<timestamp>.<body>", as outbound webhooks) to a receiver on 127.0.0.1 (a process of
    its own, asyncio, that checks every signature and counts ids), sent by R runner
    processes at once (the real send pass: SKIP LOCKED claims, group order, one UPDATE
    per delivery). Messages per second from the first claim to the last receipt; the
    receiver confirms none lost, none twice. Target: >= 1,000 messages/s.
(c) Latency: a producer commits messages at a steady rate for S seconds while one runner
    runs the job at its shipped interval (OMS_OUTBOX_INTERVAL, 1 s: a pass, then the rest
    of the interval idle); the receiver measures commit-to-receipt for every message.
    Prints p50/p95/max. Target: p95 <= 2 s.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMS_INSTANCE_DIR", "/tmp/waybill-bench-instance")

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/waybill_bench_outbox"
SECRET = b"bench-secret"
TOPIC = "bench.webhook"


# --- the receiver (a process of its own) -----------------------------------------------------

def signature(raw: bytes, timestamp: str) -> str:
    return "sha256=" + hmac.new(SECRET, timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()


def receiver_main(port_queue, stop_event) -> None:
    """Minimal HTTP/1.1 keep-alive server: POST /deliver (signed), GET /stats."""
    seen: dict[str, int] = {}
    latencies: list[float] = []
    stats = {"bad": 0, "first": None, "last": None}

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET":
                    body = json.dumps({"count": len(seen), "total": sum(seen.values()),
                                       "twice": sum(1 for v in seen.values() if v > 1),
                                       "bad": stats["bad"], "first": stats["first"],
                                       "last": stats["last"], "latencies": latencies}).encode()
                    if path.startswith("/reset"):
                        seen.clear(), latencies.clear()
                        stats.update(bad=0, first=None, last=None)
                else:
                    now = time.time()
                    if not hmac.compare_digest(signature(raw, headers.get("x-waybill-timestamp", "")),
                                               headers.get("x-waybill-signature", "")):
                        stats["bad"] += 1
                    data = json.loads(raw)
                    seen[data["id"]] = seen.get(data["id"], 0) + 1
                    if "t" in data:
                        latencies.append(now - data["t"])
                    stats["first"] = stats["first"] or now
                    stats["last"] = now
                    body = b"{}"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
        port_queue.put(server.sockets[0].getsockname()[1])
        while not stop_event.is_set():
            await asyncio.sleep(0.2)
        server.close()

    asyncio.run(serve())


# --- the sending side ---------------------------------------------------------------------------

_local = threading.local()


def deliver(message):
    """A signed webhook-like POST (urllib3: one keep-alive pool per sending thread)."""
    import urllib3

    from app.services.core import idempotency
    from app.services.core.outbox import Sent

    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = urllib3.PoolManager(maxsize=2, retries=False,
                                                 timeout=urllib3.Timeout(connect=2, read=10))
    body = {"id": message.message_id, **message.payload}
    raw = json.dumps(body, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    response = pool.request("POST", message.target, body=raw, headers={
        "Content-Type": "application/json", "X-Waybill-Event": "bench",
        "X-Waybill-Timestamp": timestamp, "X-Waybill-Signature": signature(raw, timestamp)})
    idempotency.raise_for_response(response.status, response.headers)
    return Sent(remote_id=None)


def make_app(url: str):
    from app import create_app
    from app.services.core import outbox

    app = create_app(SQLALCHEMY_DATABASE_URI=url, OMS_DATABASE_URL=url, SECRET_KEY="bench",
                     OMS_SCHEDULER=False)
    outbox.register(TOPIC, deliver)
    return app


def runner_main(url: str, interval: float, until: float, workers: int, out) -> None:
    """Send passes until nothing is open (interval 0) or until ``until`` (a steady run:
    one pass per interval, as the scheduler runs the job)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.notifications import OutboxMessage
    from app.services.core import outbox_sender

    app = make_app(url)
    policy = outbox_sender.Policy(workers=workers, batch_size=200)
    sent = 0
    with app.app_context():
        while True:
            started = time.monotonic()
            summary = outbox_sender.send_pass(db.engine, policy=policy)
            sent += summary.sent
            if interval:
                if time.time() > until:
                    break
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
                continue
            open_count = db.session.scalar(select(func.count(OutboxMessage.id)).where(
                OutboxMessage.topic == TOPIC,  # not (a)'s messages: no handler sends those
                OutboxMessage.status.in_(("pending", "sending"))))
            db.session.remove()
            if not open_count:
                break
    out.put(sent)


def _result(out, processes):
    """The next runner's total; a runner that died is an error, not a hang."""
    import queue

    while True:
        try:
            return out.get(timeout=1)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise SystemExit("a runner failed: see its traceback above")


def stats(port: int, reset: bool = False) -> dict:
    import urllib3

    return json.loads(urllib3.request("GET", f"http://127.0.0.1:{port}/{'reset' if reset else 'stats'}").data)


# --- (a) the write path ---------------------------------------------------------------------------

def write_path(app, orders: int, rounds: int = 24) -> tuple[float, float, float]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Order
    from app.services.core import outbox
    from app.services.core.actor import Actor
    from app.services.core.transaction import unit_of_work
    from app.services.orders import actions
    from tests.factories import Factory

    actor = Actor.job("bench")
    with app.app_context():
        make = Factory(db.session, actor)
        wh = make.warehouse("WH1")
        make.product("B-1", stock={wh: 10 ** 6})
        channel = make.channel("shop")
        # 6 x orders fresh orders in short rounds, with and without in turn: a machine whose
        # load drifts during the run (a noisy neighbour) weighs on both sides alike
        for _ in range(orders * 6):
            make.order(channel, [("B-1", 1, "5.00")])
        ids = db.session.scalars(select(Order.id).order_by(Order.id)).all()
        per_round = len(ids) // rounds
        timings = {False: [], True: []}
        for r in range(rounds):
            with_outbox = r % 2 == 1
            chunk = ids[r * per_round:(r + 1) * per_round]
            started = time.perf_counter()
            for order_id in chunk:
                for step in ("hold", "note", "release"):
                    with unit_of_work(db.session):
                        if step == "hold":
                            actions.place_hold(db.session, order_id, "manual", "bench", actor)
                        elif step == "note":
                            actions.add_note(db.session, order_id, "bench note", actor)
                        else:
                            actions.release_hold(db.session, order_id, actor, reason="manual")
                        if with_outbox:
                            outbox.enqueue(db.session, "webhook.deliver", "https://example.invalid/hook",
                                           {"order_id": order_id, "event": step},
                                           group_key=f"order:{order_id}:hook")
            timings[with_outbox].append((time.perf_counter() - started) / (len(chunk) * 3))
        db.session.remove()
    without, with_ = statistics.median(timings[False]), statistics.median(timings[True])
    return without * 1000, with_ * 1000, with_ / without


# --- (b) and (c) -----------------------------------------------------------------------------------

def enqueue_many(app, target: str, messages: int, groups: int) -> None:
    from app.extensions import db
    from app.services.core import outbox
    from app.services.core.transaction import unit_of_work

    with app.app_context():
        for start in range(0, messages, 1000):
            with unit_of_work(db.session):
                for n in range(start, min(messages, start + 1000)):
                    outbox.enqueue(db.session, TOPIC, target, {"n": n},
                                   group_key=f"g{n % groups}")
        db.session.remove()


def delivery(url: str, port: int, messages: int, groups: int, runners: int,
             workers: int) -> tuple[float, dict]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    stats(port, reset=True)
    processes = [ctx.Process(target=runner_main, args=(url, 0, 0, workers, out))
                 for _ in range(runners)]
    for process in processes:
        process.start()
    sent = [_result(out, processes) for _ in processes]
    for process in processes:
        process.join()
    seen = stats(port)
    elapsed = seen["last"] - seen["first"]
    return seen["total"] / elapsed, {"sent_per_runner": sent, **{k: seen[k] for k in (
        "count", "total", "twice", "bad")}}


def latency(app, url: str, port: int, target: str, rate: int, seconds: float,
            interval: float, workers: int) -> list[float]:
    from app.extensions import db
    from app.services.core import outbox
    from app.services.core.transaction import unit_of_work

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    stats(port, reset=True)
    until = time.time() + seconds + 3
    runner = ctx.Process(target=runner_main, args=(url, interval, until, workers, out))
    runner.start()
    time.sleep(2)  # the runner's start-up
    with app.app_context():
        started, n = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            due = started + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            with unit_of_work(db.session):  # each message its own change, committed now
                outbox.enqueue(db.session, TOPIC, target, {"n": n, "t": time.time()},
                               group_key=f"l{n % 1000}")
            n += 1
        db.session.remove()
    _result(out, [runner])
    runner.join()
    return sorted(stats(port)["latencies"]), n


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--runners", type=int, default=2)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=float, default=None)
    parser.add_argument("--only", choices=("a", "b", "c"), default=None,
                        help="run one measurement")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()

    import config
    from flask_migrate import upgrade

    interval = args.interval if args.interval is not None else config.OMS_OUTBOX_INTERVAL
    fresh_database(args.database_url)
    app = make_app(args.database_url)
    with app.app_context():
        upgrade()
    print(f"outbox benchmark — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, PostgreSQL, load average {os.getloadavg()[0]:.1f}")

    if args.only in (None, "a"):
        without, with_, ratio = write_path(app, args.orders)
        print(f"(a) write path: {without:.2f} ms per order change without the outbox, "
              f"{with_:.2f} ms with a message in the same transaction: ratio {ratio:.3f} "
              f"(target <= 1.10) {'OK' if ratio <= 1.10 else 'MISSED'}", flush=True)
    if args.only == "a":
        return

    ctx = multiprocessing.get_context("spawn")
    port_queue, stop = ctx.Queue(), ctx.Event()
    receiver = ctx.Process(target=receiver_main, args=(port_queue, stop), daemon=True)
    receiver.start()
    port = port_queue.get(timeout=30)
    target = f"http://127.0.0.1:{port}/deliver"
    try:
        if args.only in (None, "b"):
            enqueue_many(app, target, args.messages, args.groups)
            rate, facts = delivery(args.database_url, port, args.messages, args.groups,
                                   args.runners, args.workers)
            lost = args.messages - facts["count"]
            print(f"(b) delivery: {args.messages:,} messages over {args.groups:,} group keys, "
                  f"{args.runners} runners x {args.workers} threads: {rate:,.0f} messages/s "
                  f"(target >= 1,000) {'OK' if rate >= 1000 else 'MISSED'}; lost {lost}, "
                  f"twice {facts['twice']}, bad signatures {facts['bad']}, per runner "
                  f"{facts['sent_per_runner']}", flush=True)
        if args.only in (None, "c"):
            values, produced = latency(app, args.database_url, port, target, args.rate,
                                       args.seconds, interval, args.workers)
            p95 = pct(values, 0.95)
            print(f"(c) latency at {args.rate}/s for {args.seconds:.0f} s, job interval "
                  f"{interval:g} s: {len(values):,} of {produced:,} received; p50 "
                  f"{pct(values, 0.5):.3f} s, p95 {p95:.3f} s, max {values[-1]:.3f} s "
                  f"(target p95 <= 2 s) {'OK' if p95 <= 2 else 'MISSED'}", flush=True)
    finally:
        stop.set()
        receiver.join(timeout=5)


if __name__ == "__main__":
    main()
