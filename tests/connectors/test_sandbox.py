"""The sandbox itself: control API, determinism, auth, paging rules, rate limits, thread safety, entry point."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from connectors.sandbox import DEFAULT_CREDENTIALS, create_sandbox_app
from connectors.sandbox.render import amazon_items, amazon_order, shopify_order, woo_order

START = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
SHOPIFY = {"X-Shopify-Access-Token": DEFAULT_CREDENTIALS["shopify"]["access_token"]}
WOO_AUTH = (DEFAULT_CREDENTIALS["woocommerce"]["consumer_key"], DEFAULT_CREDENTIALS["woocommerce"]["consumer_secret"])


def _rendered(seed):
    app = create_sandbox_app(seed=seed, start_time=START)
    for channel in ("shopify", "woocommerce", "amazon"):
        app.state.create_orders(channel, 25)
    app.state.update_orders("shopify", count=5)
    app.state.cancel_orders("woocommerce", count=3)
    out = []
    for o in app.state.list_orders("shopify", "demo"):
        out.append(shopify_order(o))
    for o in app.state.list_orders("woocommerce", "demo"):
        out.append(woo_order(o, "http://x"))
    for o in app.state.list_orders("amazon", "na"):
        out.append([amazon_order(o), amazon_items(o)])
    return json.dumps(out, sort_keys=True)


def test_deterministic_with_a_seed():
    assert _rendered(3) == _rendered(3)
    assert _rendered(3) != _rendered(4)


def test_catalog_and_state(sandbox, sandbox_control):
    catalog = [{"sku": "X-1", "name": "Łódź – Teekanne", "price": "33.30"}, {"sku": "y 2", "name": "Y", "price": 5}]
    assert sandbox_control("catalog", catalog=catalog) == {"catalog_size": 2}
    created = sandbox_control("orders", channel="shopify", count=20)["created"]
    state = requests.get(f"{sandbox}/_sandbox/state", timeout=5).json()
    orders = state["channels"]["shopify"]["demo"]["orders"]
    assert state["channels"]["shopify"]["demo"]["count"] == 20 and sorted(orders) == sorted(created)
    assert {sku for o in orders.values() for sku in o["skus"]} <= {"X-1", "y 2"}
    assert state["credentials"] == DEFAULT_CREDENTIALS
    bad = requests.post(f"{sandbox}/_sandbox/orders", json={"channel": "ebay"}, timeout=5)
    assert bad.status_code == 400 and "channel" in bad.json()["error"]


def test_every_channel_checks_credentials(sandbox, sandbox_control):
    sandbox_control("orders", channel="woocommerce", count=1)
    shop = f"{sandbox}/shopify/demo/admin/api/2026-10/orders.json"
    assert requests.get(shop, timeout=5).status_code == 401
    assert requests.get(shop, headers={"X-Shopify-Access-Token": "x"}, timeout=5).status_code == 401
    woo = f"{sandbox}/woocommerce/demo/wp-json/wc/v3/orders"
    assert requests.get(woo, timeout=5).json()["code"] == "woocommerce_rest_cannot_view"
    assert requests.get(woo, auth=(WOO_AUTH[0], "cs_x"), timeout=5).status_code == 401
    assert requests.get(woo, params={"consumer_key": WOO_AUTH[0], "consumer_secret": WOO_AUTH[1]},
                        timeout=5).status_code == 200
    amz = f"{sandbox}/amazon/na/orders/v0/orders"
    assert requests.get(amz, timeout=5).status_code == 403
    assert requests.get(amz, headers={"x-amz-access-token": "Atza|forged"}, timeout=5).status_code == 403
    lwa = requests.post(f"{sandbox}/amazon/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": "wrong", "client_id": DEFAULT_CREDENTIALS["amazon"]["client_id"],
        "client_secret": DEFAULT_CREDENTIALS["amazon"]["client_secret"]}, timeout=5)
    assert lwa.status_code == 400 and lwa.json()["error"] == "invalid_grant"


def test_shopify_paging_rules(sandbox, sandbox_control):
    sandbox_control("orders", channel="shopify", count=30)
    url = f"{sandbox}/shopify/demo/admin/api/2026-10/orders.json"
    first = requests.get(url, params={"status": "any", "limit": 10}, headers=SHOPIFY, timeout=5)
    assert first.headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/40")
    next_url = first.links["next"]["url"]
    second = requests.get(next_url, headers=SHOPIFY, timeout=5)
    assert 'rel="previous"' in second.headers["Link"]
    assert not set(o["id"] for o in first.json()["orders"]) & set(o["id"] for o in second.json()["orders"])
    mixed = requests.get(next_url + "&status=any", headers=SHOPIFY, timeout=5)
    assert mixed.status_code == 400  # after the first page only limit and page_info may be sent
    default_open = requests.get(url, params={"limit": 250}, headers=SHOPIFY, timeout=5).json()["orders"]
    assert all(o["cancelled_at"] is None and o["closed_at"] is None for o in default_open)
    assert len(default_open) < 30  # status defaults to open


def test_woocommerce_dates_are_site_local_unless_gmt(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="woocommerce", count=40)
    orders = sandbox_state.list_orders("woocommerce", "demo")
    cutoff = sorted(o.updated_at for o in orders)[len(orders) // 2]
    expected = sorted(o.external_id for o in orders if o.updated_at > cutoff)  # strictly after
    url = f"{sandbox}/woocommerce/demo/wp-json/wc/v3/orders"

    def ids(**params):
        r = requests.get(url, params={"per_page": 100, **params}, auth=WOO_AUTH, timeout=5)
        assert r.status_code == 200 and r.headers["X-WP-Total"] == str(len(r.json()))
        return sorted(str(o["id"]) for o in r.json())

    gmt = cutoff.replace(tzinfo=None).isoformat()
    site_local = (cutoff - timedelta(hours=3)).replace(tzinfo=None).isoformat()  # the site runs on UTC-3
    assert ids(modified_after=gmt, dates_are_gmt="true") == expected
    assert ids(modified_after=site_local) == expected
    assert ids(modified_after=cutoff.isoformat()) == expected  # an explicit offset wins
    too_big = requests.get(url, params={"per_page": 101}, auth=WOO_AUTH, timeout=5)
    assert too_big.status_code == 400 and too_big.json()["code"] == "rest_invalid_param"


def test_sp_api_quota_is_enforced(sandbox, sandbox_control):
    token = requests.post(f"{sandbox}/amazon/auth/o2/token", data={
        "grant_type": "refresh_token", **DEFAULT_CREDENTIALS["amazon"]}, timeout=5).json()["access_token"]
    url = f"{sandbox}/amazon/na/orders/v0/orders"
    missing = requests.get(url, params={"MarketplaceIds": "ATVPDKIKX0DER"},
                           headers={"x-amz-access-token": token}, timeout=5)
    assert missing.status_code == 400 and missing.json()["errors"][0]["code"] == "InvalidInput"
    params = {"MarketplaceIds": "ATVPDKIKX0DER", "CreatedAfter": "2020-01-01T00:00:00Z"}
    statuses = [requests.get(url, params=params, headers={"x-amz-access-token": token}, timeout=5)
                for _ in range(21)]
    assert [r.status_code for r in statuses] == [200] * 19 + [429] * 2  # burst 20 (one used above)
    assert statuses[-1].json()["errors"][0]["code"] == "QuotaExceeded"
    assert statuses[0].headers["x-amzn-RateLimit-Limit"] == "0.0167"


def test_concurrent_control_and_reads(sandbox, sandbox_control, sandbox_state):
    errors = []

    def create():
        try:
            for _ in range(10):
                sandbox_control("orders", channel="woocommerce", count=5)
                sandbox_control("update", channel="woocommerce", count=2)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read():
        try:
            for _ in range(20):
                r = requests.get(f"{sandbox}/woocommerce/demo/wp-json/wc/v3/orders", params={"per_page": 100},
                                 auth=WOO_AUTH, timeout=5)
                assert r.status_code == 200
                json.loads(r.text)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(3)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    orders = sandbox_state.list_orders("woocommerce", "demo")
    assert len(orders) == 150 and len({o.external_id for o in orders}) == 150


def test_python_m_entry_point():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "connectors.sandbox", "--port", str(port), "--orders", "3"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                state = requests.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            raise AssertionError("the sandbox did not start")
        from connectors.sandbox import DEMO_SHOPS

        assert {c: s[DEMO_SHOPS[c]]["count"] for c, s in state["channels"].items()} == {
            "shopify": 3, "woocommerce": 3, "amazon": 3}
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_new_orders_are_placed_just_now_and_a_start_up_backlog_over_the_last_days():
    """An order that arrives while the sandbox runs (trickle, control API) was placed a
    moment ago, so it tops the newest-first order list once pulled; only the orders a shop
    already had at start-up are spread over the last days."""
    app = create_sandbox_app(seed=5)  # real clock
    now = datetime.now(timezone.utc)
    fresh = app.state.create_orders("woocommerce", 20)
    assert all(now - timedelta(minutes=3) <= o.created_at <= now + timedelta(seconds=5)
               for o in fresh)
    backlog = app.state.create_orders("shopify", 40, backlog_days=3)
    ages = [now - o.created_at for o in backlog]
    assert max(ages) > timedelta(hours=12) and max(ages) <= timedelta(days=3, minutes=1)
    assert all(o.created_at <= o.updated_at for o in fresh + backlog)
