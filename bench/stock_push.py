"""Stock push benchmark (issue 20) on PostgreSQL (its own fresh database, h20_bench_stock_push).

    .venv/bin/python bench/stock_push.py [--listings 10000] [--changes 50000]
                                         [--time-scale 1.0] [--database-url URL]

10,000 listings over the three channels of the sandbox (served on 127.0.0.1 at the channels'
real rate limits: Shopify's GraphQL cost bucket, Amazon patchListingsItem 5/s burst 5,
WooCommerce none), one product each per channel, in stock and already pushed once (the
channel shows what we last pushed). Then a burst of 50,000 stock changes through the stock
service (``stock.move``, 200 to a transaction: every one publishes ``stock.changed``), after
which the send passes run (``outbox_sender.send_pass``, as the ``send_outbox`` job) until no
``channel.inventory`` message is left. Printed per channel:

- API calls made (every stock write request the sandbox answered, throttled ones too) against
  the lower bound: distinct changed listings ÷ the channel's batch size (Shopify 250 quantities a
  call, WooCommerce 100 a call with variations counted per parent, Amazon 1);
- the time from the last change until the channel shows the right quantities (its view last
  changed; checked equal to the ATP of every listing at the end) against the least time its
  limits allow: (lower-bound calls − burst) ÷ sustained rate.
Targets: calls ≤ 1.2 × lower bound, time ≤ 1.2 × least time + 10 s.

Times are in sandbox seconds (real seconds ÷ time scale: the sandbox's limits and the
connectors' pacing both run on that scale). The send passes start once the burst has been
committed (a scheduler pass finding it all): pushes made while a burst goes on are pushed
again when the listing changes after them, so calls grow with the burst's length.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMS_INSTANCE_DIR", "/tmp/waybill-bench-instance")

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/h20_bench_stock_push"
SHOPS = {"shopify": "bench", "woocommerce": "bench", "amazon": "na"}
BATCH = {"shopify": 250, "woocommerce": 100, "amazon": 1}
WOO_PARENTS, WOO_VARIATIONS = 20, 100  # variable products on WooCommerce; the rest are simple
CHANGES_PER_TRANSACTION = 200


def build_sandbox_catalog(state, skus: list[str]) -> dict:
    """The channels' products: Shopify products of 100 variants, WooCommerce 20 variable
    products of 100 variations plus simple ones, Amazon one listing per SKU."""
    from connectors.sandbox import state as sandbox_state

    made = {}
    with state.lock:
        for channel in ("shopify", "woocommerce", "amazon"):
            shop = SHOPS[channel]
            state.products[(channel, shop)] = []
            if channel == "shopify":
                groups = [skus[i:i + 100] for i in range(0, len(skus), 100)]
            elif channel == "woocommerce":
                varied = skus[:WOO_PARENTS * WOO_VARIATIONS]
                groups = [varied[i:i + WOO_VARIATIONS] for i in range(0, len(varied), WOO_VARIATIONS)]
                groups += [[sku] for sku in skus[len(varied):]]
            else:
                groups = [[sku] for sku in skus]
            for group in groups:
                state._add_product(channel, shop, f"Bench {group[0]}", [(s, s, sandbox_state.Decimal("10"))
                                                                       for s in group])
            made[channel] = state.products[(channel, shop)]
    return made


def listing_rows(channel_id: int, kind: str, products: list, product_ids: dict) -> list[dict]:
    from connectors.sandbox.shopify_graphql import gid

    rows = []
    for product in products:
        variable = len(product["variants"]) > 1
        for variant in product["variants"]:
            row = dict(channel_id=channel_id, product_id=product_ids[variant["sku"]], sku=variant["sku"],
                       title=variant["sku"], matched_by="sku", external_id=None, external_variant_id=None,
                       inventory_item_id=None, asin=None, product_type=None)
            if kind == "shopify":
                row.update(external_key=gid("ProductVariant", variant["id"]), external_id=gid("Product", product["id"]),
                           external_variant_id=gid("ProductVariant", variant["id"]),
                           inventory_item_id=gid("InventoryItem", variant["inventory_item_id"]))
            elif kind == "woocommerce":
                row.update(external_key=f"{product['woo_id']}/{variant['woo_id']}" if variable else str(product["woo_id"]),
                           external_id=str(product["woo_id"]),
                           external_variant_id=str(variant["woo_id"]) if variable else None)
            else:
                row.update(external_key=variant["sku"], asin=variant["asin"], product_type=product["product_type"])
            rows.append(row)
    return rows


def setup(app, state, root, n_listings: int, time_scale: float) -> dict:
    """Products, stock, channels, listings; the channels already show our ATP."""
    from sqlalchemy import insert, select

    from app.extensions import db
    from app.models import Channel, Listing, Product, StockLevel, Warehouse
    from app.models.base import utcnow
    from app.services.channels import config as channels
    from app.services.core.actor import Actor
    from app.services.inventory import atp
    from connectors.sandbox import DEFAULT_CREDENTIALS, channel_base_urls
    from connectors.sandbox.shopify_graphql import gid

    per_channel = n_listings // 3
    skus = [f"BENCH-{i:05d}" for i in range(per_channel)]
    made = build_sandbox_catalog(state, skus)
    actor = Actor.system()
    session = db.session
    warehouse = Warehouse(code="BENCH", name="Bench", country="US", priority=1, ships_to=[], active=True)
    session.add(warehouse)
    session.flush()
    now = utcnow()
    session.execute(insert(Product), [dict(sku=s, name=s, price=10, active=True) for s in skus])
    product_ids = dict(session.execute(select(Product.sku, Product.id)).all())
    session.execute(insert(StockLevel), [dict(warehouse_id=warehouse.id, product_id=pid, on_hand=500, reserved=0,
                                              updated_at=now) for pid in product_ids.values()])
    session.commit()
    urls = channel_base_urls(root, shop="bench")
    codes = {}
    for kind in ("shopify", "woocommerce", "amazon"):
        credentials = dict(DEFAULT_CREDENTIALS[kind])
        if kind == "amazon":
            credentials["marketplace_ids"] = ["ATVPDKIKX0DER"]
        channel = channels.save_channel(session, {"code": f"bench-{kind}", "name": kind, "kind": kind,
                                                  "base_url": urls[kind], "poll_interval_seconds": 0},
                                        actor, credentials=credentials)
        codes[kind] = channel.code
        if kind == "shopify":
            channel.locations = [{"id": gid("Location", 65_000_000_001), "name": "Main warehouse", "active": True}]
        session.commit()
        rows = listing_rows(channel.id, kind, made[kind], product_ids)
        promises = atp.for_channel(session, channel, product_ids.values())
        location = gid("Location", 65_000_000_001)
        for row in rows:  # already pushed once: the channel shows it
            quantity = promises[row["product_id"]].quantity
            row.update(last_pushed_quantity=quantity, last_pushed_at=now,
                       last_pushed_locations={location: quantity} if kind == "shopify" else None)
            show(state, kind, row, quantity)
        session.execute(insert(Listing), rows)
        session.commit()
    return {"codes": codes, "product_ids": list(product_ids.values()), "warehouse_id": warehouse.id}


def show(state, kind: str, row: dict, quantity: int) -> None:
    from connectors.sandbox.shopify_graphql import gid_number

    if kind == "shopify":
        state.shopify_inventory[("bench", gid_number(row["inventory_item_id"], "InventoryItem"), 65_000_000_001)] = quantity
    elif kind == "woocommerce":
        state.channel_stock[("woocommerce", "bench", row["external_key"].split("/")[-1])] = quantity
    else:
        state.channel_stock[("amazon", "na", row["sku"])] = quantity


def burst(app, product_ids: list[int], warehouse_id: int, changes: int, rng: random.Random) -> set[int]:
    """``changes`` stock moves (counted adjustments) on random products, through the stock
    service, ``CHANGES_PER_TRANSACTION`` to a transaction. Returns the products changed."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import StockLevel
    from app.services.core.actor import Actor
    from app.services.core.transaction import unit_of_work
    from app.services.inventory import stock

    actor = Actor.job("bench")
    session = db.session
    levels = {level.product_id: level for level in session.scalars(
        select(StockLevel).where(StockLevel.warehouse_id == warehouse_id))}
    changed, done = set(), 0
    while done < changes:
        with unit_of_work(session):
            for _ in range(min(CHANGES_PER_TRANSACTION, changes - done)):
                product_id = rng.choice(product_ids)  # 500 on hand: never runs out in a burst
                stock.move(session, levels[product_id], on_hand_delta=rng.choice((-2, -1, 1, 3)),
                           reason="adjustment", actor=actor, note="bench")
                changed.add(product_id)
                done += 1
    return changed


def lower_bounds(made: dict, changed_skus: set[str]) -> dict:
    bounds = {"shopify": -(-len(changed_skus) // BATCH["shopify"]), "amazon": len(changed_skus)}
    woo = 0
    simple = 0
    for product in made["woocommerce"]:
        hit = sum(1 for v in product["variants"] if v["sku"] in changed_skus)
        if len(product["variants"]) > 1:
            woo += -(-hit // BATCH["woocommerce"])
        else:
            simple += hit
    bounds["woocommerce"] = woo + -(-simple // BATCH["woocommerce"])
    return bounds


def least_time(kind: str, calls: int) -> float:
    from connectors.sandbox import shopify_graphql

    if kind == "amazon":
        rate, burst_size = 5.0, 5
    elif kind == "shopify":  # a mutation costs 10 points: burst = bucket / 10, rate = restore / 10
        rate = shopify_graphql.RESTORE_RATE / shopify_graphql.MUTATION_COST
        burst_size = shopify_graphql.BUCKET_SIZE / shopify_graphql.MUTATION_COST
    else:
        return 0.0  # WooCommerce sets no limit
    return max(0.0, (calls - burst_size) / rate)


def verify(app, state, codes: dict) -> dict:
    """{kind: listings whose channel figure differs from their ATP now}."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Channel, Listing
    from app.services.inventory import atp
    from connectors.sandbox.stock import stock_view

    wrong = {}
    session = db.session
    for kind, code in codes.items():
        channel = session.scalar(select(Channel).where(Channel.code == code))
        rows = session.scalars(select(Listing).where(Listing.channel_id == channel.id)).all()
        promises = atp.for_channel(session, channel, [r.product_id for r in rows])
        view = stock_view(state, kind, SHOPS[kind])
        bad = 0
        for row in rows:
            if kind == "shopify":
                shown = sum((view.get(row.inventory_item_id) or {}).values())
            elif kind == "woocommerce":
                shown = view.get(row.external_key.split("/")[-1])
            else:
                shown = view.get(row.sku)
            bad += shown != promises[row.product_id].quantity
        wrong[kind] = bad
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=50_000)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    import logging

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services.core import outbox_sender
    from connectors.sandbox import create_sandbox_app, start_sandbox

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("connectors.http").setLevel(logging.ERROR)
    scale = args.time_scale
    fresh_database(args.database_url)
    app = create_app(SQLALCHEMY_DATABASE_URI=args.database_url, OMS_DATABASE_URL=args.database_url,
                     SECRET_KEY="bench", OMS_SCHEDULER=False,
                     OMS_CONNECTOR_OPTIONS={"time_scale": scale, "max_retries": 8})
    sandbox = create_sandbox_app(seed=1, time_scale=scale)
    server, thread, root = start_sandbox(sandbox)
    state = sandbox.state
    print(f"stock push benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"PostgreSQL, load average {os.getloadavg()[0]:.1f}, time scale {scale:g} "
          f"(times in sandbox seconds)")
    with app.app_context():
        upgrade()
        ctx = setup(app, state, root, args.listings, scale)
        made = {kind: state.products[(kind, SHOPS[kind])] for kind in SHOPS}
        sizes = {k: sum(len(p["variants"]) for p in ps) for k, ps in made.items()}
        print(f"setup: {sum(sizes.values())} listings ({', '.join(f'{k} {n}' for k, n in sizes.items())})")
        started = time.monotonic()
        changed = burst(app, ctx["product_ids"], ctx["warehouse_id"], args.changes, random.Random(7))
        burst_end = time.monotonic()
        print(f"burst: {args.changes} stock changes on {len(changed)} products in "
              f"{burst_end - started:.1f} s real")
        from sqlalchemy import select as sql_select

        from app.models import Product
        changed_skus = set(db.session.scalars(sql_select(Product.sku).where(Product.id.in_(changed))))
        db.session.remove()
        before = dict(state.request_counts)
        writes_before = dict(state.stock_writes)
        policy = outbox_sender.Policy(time_scale=scale, max_seconds=3600, workers=4)
        while outbox_sender.send_pass(db.engine, policy=policy).claimed:
            pass
        done = time.monotonic()
        wrong = verify(app, state, ctx["codes"])
    bounds = lower_bounds(made, changed_skus)
    ok_all = True
    print(f"{'channel':12} {'calls':>7} {'lower':>7} {'ratio':>6} {'time s':>9} {'least s':>9} "
          f"{'target s':>9} {'wrong':>6}  verdict")
    for kind in ("shopify", "woocommerce", "amazon"):
        calls = state.request_counts[kind] - before[kind]
        written_at = state.stock_written_at.get(kind, burst_end)
        took = max(0.0, written_at - burst_end) / scale
        least = least_time(kind, bounds[kind])
        target = 1.2 * least + 10
        ok = calls <= 1.2 * bounds[kind] and took <= target and wrong[kind] == 0
        ok_all &= ok
        print(f"{kind:12} {calls:7d} {bounds[kind]:7d} {calls / max(bounds[kind], 1):6.2f} {took:9.1f} "
              f"{least:9.1f} {target:9.1f} {wrong[kind]:6d}  {'OK' if ok else 'MISSED'} "
              f"(writes answered {state.stock_writes.get(kind, 0) - writes_before.get(kind, 0)}, "
              f"throttled {state.throttled_counts[kind]})")
    print(f"all pushed {(done - burst_end) / scale:.1f} sandbox s after the last change; "
          f"targets {'met' if ok_all else 'MISSED'}")
    server.shutdown()
    thread.join(timeout=5)


if __name__ == "__main__":
    main()
