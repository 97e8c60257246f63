"""Customer mail benchmark on PostgreSQL (its own fresh database, waybill_bench_notify).

    .venv/bin/python bench/notify.py [--mails 20000] [--orders 200] [--runners 2]
                                     [--workers 8] [--database-url URL]

N "shipped" mails (``notify.customer`` outbox messages, as shipment.created queues them) go
to a local aiosmtpd (a process of its own, plain SMTP on 127.0.0.1, counting Message-IDs),
sent by R runner processes running the real send pass with production's sending threads each
(``OMS_OUTBOX_WORKERS``, 8 unless set): each mail rendered when it is sent
(the order, its parcel and what is still to come read for the whole claim, the template,
Babel formatting), pooled SMTP connections (one per sending thread, reused across claims),
the mail log written, the outbox row marked sent; the per-minute cap off. The orders and
shipments are real (made through the services: import, pick, pack, ship); the N messages
cycle over them, each in a group of its own (as N orders would be).

Printed: mails/s from the first claim to the last receipt, the share of the senders' time
spent rendering versus talking SMTP, the CPU per mail of the runners and of the SMTP server
(in the pipeline and in the floor: the server's share is a cost the floor pays too, and
tells how much of the machine the pipeline can have), and the floor: bare ``smtplib`` sends
of the same rendered messages (read back from the mail log) over one connection, in the same
run, to the same server. Target: pipeline >= 0.7 of the floor.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import smtplib
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMS_INSTANCE_DIR", "/tmp/waybill-bench-instance")

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/waybill_bench_notify"


# --- the SMTP server (a process of its own) -------------------------------------------------

def server_main(port_queue, commands, answers) -> None:
    from aiosmtpd.controller import Controller

    seen: dict[str, int] = {}
    times = {"first": None, "last": None}

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            now = time.time()
            content = envelope.content
            start = content.find(b"Message-ID:")
            key = content[start:content.find(b"\n", start)] if start >= 0 else b"?"
            seen[key] = seen.get(key, 0) + 1
            times["first"] = times["first"] or now
            times["last"] = now
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    port_queue.put(port)
    base_cpu = time.process_time()  # the server's own start-up is not serving
    while True:
        command = commands.get()
        if command == "stats":
            answers.put({"count": len(seen), "total": sum(seen.values()),
                         "twice": sum(1 for v in seen.values() if v > 1),
                         "cpu": time.process_time() - base_cpu, **times})
        elif command == "reset":
            seen.clear()
            times.update(first=None, last=None)
            answers.put("ok")
        else:
            break
    controller.stop()


# --- the sending side ---------------------------------------------------------------------------

def make_app(url: str, smtp_url: str | None = None):
    from app import create_app

    return create_app(SQLALCHEMY_DATABASE_URI=url, OMS_DATABASE_URL=url, SECRET_KEY="bench",
                      OMS_SCHEDULER=False, OMS_SMTP_URL=smtp_url)


def runner_main(url: str, smtp_url: str, workers: int, out) -> None:
    from app.extensions import db
    from app.services.core import outbox_sender
    from app.services.notify import customer_mail

    app = make_app(url, smtp_url)
    policy = outbox_sender.Policy(workers=workers, batch_size=200, max_seconds=600)
    totals = {"sent": 0, "claimed": 0}
    started, cpu = time.time(), time.process_time()
    with app.app_context():
        while True:
            summary = outbox_sender.send_pass(db.engine, policy=policy)
            totals["sent"] += summary.sent
            totals["claimed"] += summary.claimed
            if not summary.claimed:
                break
    out.put({**totals, **customer_mail.timing.totals, "wall": time.time() - started,
             "cpu": time.process_time() - cpu})


def make_orders(app, orders: int) -> list[tuple[int, int]]:
    """Real orders through the services, each packed and shipped: [(order id, shipment id)]."""
    from app.extensions import db
    from app.services.channels import config as channels
    from app.services.core.actor import Actor
    from app.services.fulfilment import shipments
    from app.services.inventory import reference, stock
    from tests.factories import normalized_order
    from app.services.channels import importing

    actor = Actor(label="user:bench")
    result = []
    with app.app_context():
        session = db.session
        warehouse = reference.save(session, "warehouse", {
            "code": "WH1", "name": "Main", "country": "US", "priority": 1, "ships_to": []},
            actor)
        for sku in ("SKU-1", "SKU-2", "SKU-3"):
            product = reference.save(session, "product", {"sku": sku, "name": f"Product {sku}",
                                                           "price": "10.00"}, actor)
            stock.receive(session, warehouse.id, product.id, orders * 3, actor,
                          reference="bench")
        channel = channels.save_channel(session, {"code": "shop", "name": "Shop",
                                                  "kind": "shopify"}, actor)
        for n in range(orders):
            normalized = normalized_order([("SKU-1", 1, "19.99"), ("SKU-2", 2, "5.50"),
                                           ("SKU-3", 1, "7.00")], email=f"buyer{n}@example.com",
                                          name=f"Buyer {n}")
            order = importing.import_order(session, channel, normalized,
                                           Actor.channel("shop")).order
            shipments.start_picking(session, order.id, actor)
            shipments.mark_packed(session, order.id, actor)
            shipment = shipments.ship(session, order.id, actor, carrier="ups",
                                      tracking_number=f"1Z{n:08d}")
            result.append((order.id, shipment.id))
    return result


def queue_mails(app, pairs: list[tuple[int, int]], mails: int) -> None:
    """N "shipped" messages as shipment.created queues them, one group each; the ones the
    real shipments queued are dropped first (the count is exactly N)."""
    from sqlalchemy import delete

    from app.extensions import db
    from app.models.notifications import OutboxMessage
    from app.services.core import outbox
    from app.services.notify import customer_mail

    with app.app_context():
        session = db.session
        session.execute(delete(OutboxMessage))
        for i in range(mails):
            order_id, shipment_id = pairs[i % len(pairs)]
            outbox.enqueue(session, customer_mail.TOPIC, f"mail:bench{i}@example.com",
                           {"event": "shipped", "order_id": order_id, "shipment_id": shipment_id},
                           group_key=f"mail:bench:{i}", order_id=order_id)
        session.commit()


def floor(app, port: int, limit: int) -> tuple[float, int]:
    """Bare smtplib over one connection: the same rendered messages, from the mail log."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Notification

    with app.app_context():
        rows = db.session.execute(select(
            Notification.to_address, Notification.subject, Notification.text_body,
            Notification.html_body, Notification.message_id).order_by(Notification.id)
            .limit(limit)).all()
    prepared = []
    for to, subject, text, html, message_id in rows:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "Shop <no-reply@localhost>", to, subject
        mail["Message-ID"] = message_id
        mail.set_content(text)
        mail.add_alternative(html, subtype="html")
        prepared.append((to, mail.as_bytes(policy=SMTP_POLICY)))  # CRLF, as send_message
    client = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for to, data in prepared:
        client.sendmail("no-reply@localhost", [to], data)
    elapsed = time.perf_counter() - started
    client.quit()
    return len(prepared) / elapsed, len(prepared)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=20000)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--runners", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None,
                        help="sending threads per runner (default: OMS_OUTBOX_WORKERS, as in production)")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    if args.workers is None:
        import config

        args.workers = config.OMS_OUTBOX_WORKERS

    from flask_migrate import upgrade

    fresh_database(args.database_url)
    app = make_app(args.database_url)
    with app.app_context():
        upgrade()
    print(f"notify benchmark — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, PostgreSQL, load average {os.getloadavg()[0]:.1f}",
          flush=True)
    pairs = make_orders(app, args.orders)
    queue_mails(app, pairs, args.mails)

    ctx = multiprocessing.get_context("spawn")
    port_queue, commands, answers = ctx.Queue(), ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=server_main, args=(port_queue, commands, answers), daemon=True)
    server.start()
    port = port_queue.get(timeout=30)
    smtp_url = f"smtp://127.0.0.1:{port}"
    try:
        out = ctx.Queue()
        runners = [ctx.Process(target=runner_main,
                               args=(args.database_url, smtp_url, args.workers, out))
                   for _ in range(args.runners)]
        started = time.time()
        for process in runners:
            process.start()
        results = [out.get(timeout=1800) for _ in runners]
        for process in runners:
            process.join()
        commands.put("stats")
        facts = answers.get(timeout=60)
        # from the first mail the server received (the runners' start-up is not sending)
        elapsed = (facts["last"] or time.time()) - (facts["first"] or started)
        rate = facts["count"] / elapsed if elapsed > 0 else 0.0
        render = sum(r["render"] for r in results)
        talk = sum(r["smtp"] for r in results)
        share = render / (render + talk) if render + talk else 0.0
        commands.put("reset")
        answers.get(timeout=60)
        commands.put("stats")
        server_cpu = answers.get(timeout=60)["cpu"]
        floor_rate, floor_n = floor(app, port, args.mails)
        commands.put("stats")
        floor_server_cpu = answers.get(timeout=60)["cpu"] - server_cpu
        ratio = rate / floor_rate if floor_rate else 0.0
        lost = args.mails - facts["count"]
        print(f"pipeline: {args.mails:,} shipped mails, {args.runners} runners x "
              f"{args.workers} threads, rendered at send: {rate:,.0f} mails/s "
              f"({elapsed:.1f} s); lost {lost}, twice {facts['twice']}", flush=True)
        print(f"time in the senders: rendering {share:.0%} ({render:.1f} s), SMTP "
              f"{1 - share:.0%} ({talk:.1f} s)")
        runner_cpu = sum(r["cpu"] for r in results)
        print(f"CPU per mail: runners {runner_cpu / max(1, facts['count']) * 1000:.2f} ms "
              f"(after start-up), SMTP server {facts['cpu'] / max(1, facts['count']) * 1000:.2f}"
              f" ms (floor: {floor_server_cpu / max(1, floor_n) * 1000:.2f} ms)")
        print(f"floor: bare smtplib, one connection, the same {floor_n:,} rendered messages: "
              f"{floor_rate:,.0f} mails/s")
        print(f"pipeline / floor = {ratio:.2f} (target >= 0.70) "
              f"{'OK' if ratio >= 0.7 else 'MISSED'}")
    finally:
        commands.put("stop")
        server.join(timeout=10)


if __name__ == "__main__":
    main()
