"""Server time of the pages support agents live in, on a big database.

    OMS_DATABASE_URL=... .venv/bin/python bench/ui_lists.py [--repeat 7]

Build the database first, e.g. `OMS_INSTANCE_DIR=/tmp/wb100k flask oms init --demo --orders 300`
(then point OMS_INSTANCE_DIR, or OMS_DATABASE_URL, at it) and let `--orders 100000` top the
orders table up to that size with copies of the demo's orders under new numbers, names and
e-mails (the demo walks each order through the services, about 10 orders/s; the copies take
seconds). E-mails spread over 60 domains, a quarter of them at gmail.com. Each page is requested through
the WSGI app (the whole Flask/FAB stack, templates included, no network) as the admin; the
figures are the median and best of N runs. The baseline, in the same run, is the bare SQL
each page cannot avoid (the newest 25 orders; an indexed look-up), so the ratio says what
the application adds on top of the database.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up: caches, compiled SQL, templates
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples)


FIRST = ["ann", "bob", "cy", "dana", "eli", "fay", "gus", "hana", "ivo", "jo", "kai", "lea"]
LAST = ["lee", "novak", "smith", "garcia", "müller", "rossi", "kim", "dubois", "silva", "ito"]
DOMAINS = ["gmail.com"] * 20 + [f"shop{n}.example.com" for n in range(60)]


def top_up(session, wanted: int) -> None:
    """Copy the stored orders under new numbers, names and e-mails until there are
    ``wanted`` (one INSERT per 5,000 rows; customers are not copied)."""
    import random
    from datetime import timedelta

    from sqlalchemy import func, insert, select

    from app.models import Order
    from app.models.orders import email_domain_of

    have = session.scalar(select(func.count(Order.id)))
    if have >= wanted:
        return
    table = Order.__table__
    templates = [dict(row._mapping) for row in session.execute(select(table).limit(500))]
    rng = random.Random(11)
    rows = []
    for n in range(have, wanted):
        row = dict(templates[n % len(templates)])
        row.pop("id")
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{n}@{rng.choice(DOMAINS)}"
        row.update(external_id=f"BENCH-{n}", order_number=f"B{n:07d}", customer_id=None,
                   customer_name=f"{first.title()} {last.title()}", email=email,
                   email_domain=email_domain_of(email),
                   placed_at=row["placed_at"] - timedelta(minutes=n % 100_000))
        rows.append(row)
        if len(rows) == 5000:
            session.execute(insert(table), rows)
            rows = []
    if rows:
        session.execute(insert(table), rows)
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE orders"))
    else:
        session.execute(text("ANALYZE"))
    session.commit()
    print(f"topped up to {wanted:,} orders", flush=True)


def search_sql_time(db, search_service, query: str, repeat: int) -> tuple[float, float]:
    """The statements one search runs, run again on the bare driver (rows fetched): what
    the database costs, without the ORM and the page."""
    from sqlalchemy import event

    statements = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        search_service.search(db.session, query)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    cursor = db.session.connection().connection.driver_connection.cursor()

    def run():
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()

    return timed(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--user", default=os.environ.get("OMS_ADMIN_USER", "admin"))
    parser.add_argument("--password", default=os.environ.get("OMS_ADMIN_PASSWORD"))
    parser.add_argument("--orders", type=int, default=0,
                        help="top the orders table up to this many orders first")
    args = parser.parse_args()
    if not args.password:
        sys.exit("set OMS_ADMIN_PASSWORD (or --password) to the admin's password")

    from sqlalchemy import func, select, text

    from app import create_app
    from app.extensions import db
    from app.models import Order, Shipment

    app = create_app(AUTH_RATE_LIMITED=False, RATELIMIT_ENABLED=False)
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login/", data={"username": args.user, "password": args.password,
                                            "csrf_token": token})
    assert response.status_code == 302, "login failed"

    with app.app_context():
        if args.orders:
            top_up(db.session, args.orders)
        total = db.session.scalar(select(func.count(Order.id)))
        sample = db.session.execute(select(Order.email, Order.order_number, Order.customer_name)
                                    .order_by(Order.id.desc()).limit(1)).one()
        tracking = db.session.scalar(select(Shipment.tracking_number)
                                     .where(Shipment.tracking_number.is_not(None)).limit(1))
        channel_id = db.session.scalar(select(Order.channel_id).limit(1))
        dialect = db.engine.dialect.name

        def baseline_newest():
            db.session.execute(text("SELECT id, order_number, status, placed_at FROM orders "
                                    "ORDER BY placed_at DESC, id DESC LIMIT 25")).all()

        def baseline_lookup():
            db.session.execute(text("SELECT id FROM orders WHERE lower(email) = :e LIMIT 50"),
                               {"e": sample.email.lower()}).all()

        from app.services.orders import search as search_service

        queries = {"search by e-mail": sample.email, "search by e-mail prefix": sample.email[:6],
                   "search by domain prefix (rare)": "shop17.exa",
                   "search by domain prefix (25%)": "gmai",
                   "search by name prefix": (sample.customer_name or "a")[:4]}
        service_times = {label: timed(lambda q=q: search_service.search(db.session, q),
                                      args.repeat)
                         for label, q in queries.items()}
        sql_times = {label: search_sql_time(db, search_service, q, args.repeat)
                     for label, q in queries.items()}
        base_list = timed(baseline_newest, args.repeat)
        base_lookup = timed(baseline_lookup, args.repeat)
        db.session.remove()

    pages = [
        ("orders list, newest first", "/orders/list/", base_list),
        ("orders list, status=shipped", "/orders/list/?_flt_0_status=shipped", base_list),
        ("orders list, channel filter", f"/orders/list/?_flt_0_channel={channel_id}", base_list),
        ("orders list, last page (offset)", "/orders/list/?page_OrderView=3000", base_list),
        ("REST /api/v1/order/ (25)", "/api/v1/order/", base_list),
        ("search by e-mail", f"/search?q={sample.email}", base_lookup),
        ("search by e-mail prefix", f"/search?q={sample.email[:6]}", base_lookup),
        ("search by domain prefix (rare)", "/search?q=shop17.exa", base_lookup),
        ("search by domain prefix (25%)", "/search?q=gmai", base_lookup),
        ("search by order number", f"/search?q={sample.order_number}", base_lookup),
        ("search by name prefix", f"/search?q={(sample.customer_name or 'a')[:4]}", base_lookup),
        ("search by tracking number", f"/search?q={tracking}", base_lookup),
    ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{dialect}, {total:,} orders; median (best) of {args.repeat} runs")
    print(f"baseline SQL: newest 25 orders {base_list[0] * 1000:.1f} ms, "
          f"e-mail look-up {base_lookup[0] * 1000:.1f} ms")
    for label, url, baseline in pages:
        status = {}

        def get():
            status["code"] = client.get(url).status_code

        median, best = timed(get, args.repeat)
        if status["code"] not in (200, 302):  # 302: a single search hit goes straight to it
            sys.exit(f"{url} answered {status['code']}: run `flask oms init` to sync permissions")
        print(f"{label:34s} {median * 1000:7.1f} ms ({best * 1000:.1f})  "
              f"HTTP {status['code']}  ratio to baseline SQL {median / baseline[0]:.0f}x")
    print("search service alone (its queries and ORM objects, no page), and its SQL alone:")
    for label, (median, best) in service_times.items():
        sql_median, sql_best = sql_times[label]
        print(f"{label:34s} {median * 1000:7.1f} ms ({best * 1000:.1f})   "
              f"SQL {sql_median * 1000:6.2f} ms ({sql_best * 1000:.2f})")


if __name__ == "__main__":
    main()
