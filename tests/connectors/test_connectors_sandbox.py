"""Each connector against the sandbox: hundreds of orders through faults, each exactly once and
equal to what the sandbox holds; later updates, cancellations and refunds; errors."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connectors import build_connector
from connectors.base import iter_pages
from connectors.errors import ChannelAuthError, ChannelNotFound
from connectors.sandbox import DEFAULT_CREDENTIALS

# "amazon" reads the Orders API 2026-01-01 (the default), "amazon-v0" the v0 fallback with RDTs
CHANNELS = ["shopify", "woocommerce", "amazon", "amazon-v0"]
SHOP = {"shopify": "demo", "woocommerce": "demo", "amazon": "na", "amazon-v0": "na"}
UNADDRESSED = ("Pending", "Canceled", "PENDING", "CANCELLED")  # Amazon gives no address then
SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)
SCALE = 0.002


def kind(channel):
    return channel.split("-")[0]


def connector(sandbox, channel, credentials=None, **options):
    options.setdefault("time_scale", SCALE)
    options.setdefault("timeout", (2.0, 1.0))
    if channel == "amazon-v0":
        options["api_version"] = "v0"
    return build_connector(kind(channel), f"{sandbox}/{kind(channel)}/{SHOP[channel]}",
                           credentials or DEFAULT_CREDENTIALS[kind(channel)], **options)


def state_orders(sandbox_state, channel):
    return sandbox_state.snapshot()["channels"][kind(channel)][SHOP[channel]]["orders"]


def fulfilled_by_amazon(order) -> bool:
    raw = order.raw
    if "orderId" in raw:
        return (raw.get("fulfillment") or {}).get("fulfilledBy") == "AMAZON"
    return raw["order"]["FulfillmentChannel"] == "AFN"


def check_against_state(order, expected):
    assert order.currency == expected["currency"]
    assert order.total == (Decimal(expected["total"]) if expected["total"] is not None else None)
    assert [li.sku for li in order.lines] == expected["skus"]
    assert [li.quantity for li in order.lines] == expected["quantities"]
    assert order.email == expected["email"]
    assert order.cancelled is expected["cancelled"]
    if expected["cancelled"]:
        assert order.cancelled_at is not None and order.financial_status in ("voided", "refunded")
    assert sum((r.amount for r in order.refunds), Decimal(0)) == Decimal(expected["refunded"])
    assert (order.shipping_address is None) is (expected["digital"] or order.channel_status in UNADDRESSED)
    if expected["total"] is not None and order.channel_status not in ("Canceled", "CANCELLED"):
        assert order.subtotal == Decimal(expected["subtotal"])
        assert order.tax_total == Decimal(expected["tax"]) and order.discount_total == Decimal(expected["discount"])
        assert order.total == order.subtotal - order.discount_total + order.tax_total + order.shipping_total
    if expected["fulfilled"] or expected["fba"] and expected["payment"] == "paid":
        assert order.fulfilled_by_channel
    assert order.placed_at.tzinfo is not None and order.placed_at.utcoffset() == timedelta(0)
    assert order.updated_at.isoformat() == expected["updated_at"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_pages_hundreds_of_orders_through_faults_exactly_once(channel, sandbox, sandbox_control, sandbox_state):
    sandbox_control("time_scale", time_scale=SCALE)
    sandbox_control("config", amazon_items_page_size=3)  # getOrderItems pages too
    count = 300
    sandbox_control("orders", channel=kind(channel), count=count)
    sandbox_control("faults", channel=kind(channel), seed=7, retry_after="1", slow_seconds=0.5,
                    **{"429": 0.04, "500": 0.04, "503": 0.04, "truncated": 0.04, "duplicate": 0.3, "slow": 0.01})
    conn = connector(sandbox, channel, page_size=25, timeout=(2.0, 0.25))  # a slow answer times out
    pages = list(iter_pages(conn, SINCE))
    ids = [o.external_id for page in pages for o in page.orders]
    assert len(pages) == 12
    assert all(not page.invalid for page in pages)
    assert len(ids) == len(set(ids)) == count
    expected = state_orders(sandbox_state, channel)
    assert set(ids) == set(expected)
    for page in pages:
        for order in page.orders:
            check_against_state(order, expected[order.external_id])
    served = sandbox_state.fault_counts[kind(channel)]
    assert served["duplicate"] > 0 and served["429"] + served["500"] + served["503"] + served["truncated"] > 0
    if kind(channel) == "amazon":
        # cached, not one token per call (v0's three calls per order outlive a few 7.2 s tokens)
        assert conn.tokens.refreshes <= (2 if channel == "amazon" else 5)
        assert 1 <= conn.rdt.issued <= 5 if channel == "amazon-v0" else conn.rdt.issued == 0  # one RDT, many orders
    # the variety the sandbox promises
    orders = [o for page in pages for o in page.orders]
    assert len({o.currency for o in orders}) >= (2 if kind(channel) == "amazon" else 4)
    assert {o.financial_status for o in orders} >= {"pending", "paid"}
    assert any(o.cancelled for o in orders) and any(o.discount_total > 0 for o in orders)
    assert any(len(o.lines) > 2 for o in orders)
    assert any(any(ord(ch) > 127 for ch in (o.customer_name or "")) for o in orders)
    if kind(channel) == "amazon":
        assert any(o.total is None for o in orders) and any(fulfilled_by_amazon(o) for o in orders)
        assert any(o.email and o.shipping_address.line1 for o in orders)  # restricted data came
    else:
        assert any(o.shipping_address is None for o in orders)


@pytest.mark.parametrize("channel", CHANNELS)
def test_updates_cancellations_and_refunds_arrive_later(channel, sandbox, sandbox_control, sandbox_state):
    sandbox_control("time_scale", time_scale=SCALE)
    sandbox_control("orders", channel=kind(channel), count=60)
    conn = connector(sandbox, channel)
    first = [o for page in iter_pages(conn, SINCE) for o in page.orders]
    assert len(first) == 60
    cursor = max(o.updated_at for o in first) - timedelta(seconds=1)  # a little overlap
    paid = sandbox_control("update", channel=kind(channel), count=8, action="pay")["updated"]
    refunded = sandbox_control("update", channel=kind(channel), count=5, action="refund")["updated"]
    cancelled = sandbox_control("cancel", channel=kind(channel), count=4)["cancelled"]
    changed = set(paid) | set(refunded) | set(cancelled)
    second = {o.external_id: o for page in iter_pages(conn, cursor) for o in page.orders}
    assert changed <= set(second)
    assert all(o.updated_at >= cursor for o in second.values())
    expected = state_orders(sandbox_state, channel)
    for external_id in changed:
        check_against_state(second[external_id], expected[external_id])
    for external_id in cancelled:
        assert second[external_id].cancelled
    if kind(channel) != "amazon":  # SP-API Orders has no refunds (Finances API)
        assert any(second[i].refunds for i in refunded)
        assert any(second[i].financial_status in ("partially_refunded", "refunded") for i in refunded)


@pytest.mark.parametrize("channel", CHANNELS)
def test_fetch_order_and_not_found(channel, sandbox, sandbox_control, sandbox_state):
    created = sandbox_control("orders", channel=kind(channel), count=3)["created"]
    conn = connector(sandbox, channel)
    conn.test_connection()
    order = conn.fetch_order(created[1])
    assert order.external_id == created[1]
    check_against_state(order, state_orders(sandbox_state, channel)[created[1]])
    missing = "902-0000000-0000000" if kind(channel) == "amazon" else "424242"
    with pytest.raises(ChannelNotFound):
        conn.fetch_order(missing)


@pytest.mark.parametrize("channel", CHANNELS)
def test_invalid_payloads_go_to_the_page_not_the_floor(channel, sandbox, sandbox_control):
    created = sandbox_control("orders", channel=kind(channel), count=5)["created"]
    sandbox_control("update", channel=kind(channel), ids=[created[2]], action="corrupt")
    page = connector(sandbox, channel).fetch_orders(SINCE)
    assert sorted(o.external_id for o in page.orders) == sorted(set(created) - {created[2]})
    [(raw, error)] = page.invalid
    raw_order = raw
    assert (raw_order.get("id") or raw_order.get("AmazonOrderId") or raw_order.get("orderId")) in (
        int(created[2]) if kind(channel) != "amazon" else None, created[2])
    assert "N/A" in error if kind(channel) != "amazon" else (
        "PurchaseDate" in error if channel == "amazon-v0" else "createdTime" in error)


@pytest.mark.parametrize("channel,bad", [
    ("shopify", {"access_token": "shpat_nope"}),
    ("woocommerce", {"consumer_key": "ck_sandbox_0123456789abcdef", "consumer_secret": "cs_nope"}),
    ("amazon", dict(DEFAULT_CREDENTIALS["amazon"], refresh_token="Atzr|revoked")),
    ("amazon", dict(DEFAULT_CREDENTIALS["amazon"], client_secret="nope")),
])
def test_bad_credentials(channel, bad, sandbox):
    with pytest.raises(ChannelAuthError) as err:
        connector(sandbox, channel, credentials=bad).test_connection()
    assert "nope" not in str(err.value) and "revoked" not in str(err.value)


def test_amazon_refreshes_an_expired_access_token_once(sandbox, sandbox_control):
    created = sandbox_control("orders", channel="amazon", count=2)["created"]
    sandbox_control("time_scale", time_scale=0.0002)  # the sandbox's tokens live 0.72 s
    conn = connector(sandbox, "amazon", time_scale=1.0)  # ... but the connector expects an hour
    conn.fetch_order(created[0])
    assert conn.tokens.refreshes == 1
    time.sleep(0.8)
    assert conn.fetch_order(created[1]).external_id == created[1]  # 403 expired -> refresh -> retry
    assert conn.tokens.refreshes == 2


def test_woocommerce_refunds_resource(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="woocommerce", count=20)
    [refunded] = sandbox_control("update", channel="woocommerce", count=1, action="refund")["updated"]
    refunds = connector(sandbox, "woocommerce").fetch_refunds(refunded)
    assert sum(r.amount for r in refunds) == Decimal(state_orders(sandbox_state, "woocommerce")[refunded]["refunded"])
    assert all(r.created_at.tzinfo is not None for r in refunds)
