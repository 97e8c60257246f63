"""Channel write-back connectors over real HTTP against the sandbox: fulfilments with
tracking, cancellations and refunds reach the channel's own state and read back through its
API; what the channel refuses is refused; a second attempt finds what the first one made."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.registry import build_connector
from connectors.sandbox import DEFAULT_CREDENTIALS, channel_base_urls
from connectors.writes import CancelPush, ChannelRefused, FulfillmentPush, RefundPush, WriteLine

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def _connector(kind: str, root: str):
    region = {"amazon": "eu"}.get(kind, "demo")
    url = channel_base_urls(root, region=region)[kind]
    return build_connector(kind, url, dict(DEFAULT_CREDENTIALS[kind]), time_scale=0.001)


def _order(state, kind: str, *, paid=True, min_units=2):
    """A paid, unshipped order of the sandbox with at least ``min_units`` units."""
    shop = "eu" if kind == "amazon" else "demo"
    for _ in range(200):
        order = state.create_orders(kind, 1, shop)[0]
        units = sum(li.quantity for li in order.lines)
        if (order.payment == "paid") == paid and not order.fulfilled and not order.cancelled \
                and not order.fba and order.address and units >= min_units:
            return order
    raise AssertionError("no suitable order generated")


def _line_id(kind: str, line) -> str:
    return {"shopify": str(13_000_000_000_000 + line.line_id), "woocommerce": str(500 + line.line_id),
            "amazon": str(60_000_000_000_000 + line.line_id)}[kind]


def _push(kind, order, lines, number="1Z999", complete=False):
    return FulfillmentPush(order_external_id=order.external_id, shipped_at=NOW, carrier="ups",
                           tracking_number=number, tracking_url=f"https://track.example/{number}",
                           lines=[WriteLine(_line_id(kind, li), qty, li.sku) for li, qty in lines],
                           complete=complete)


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_partial_then_full_fulfilment_reaches_the_channel_once(kind, sandbox, sandbox_state):
    connector = _connector(kind, sandbox)
    order = _order(sandbox_state, kind)
    first = order.lines[0]
    partial = _push(kind, order, [(first, 1)], "1ZPART")
    made = connector.push_fulfillment(partial, "waybill-k1")
    assert connector.find_fulfillment(partial, "waybill-k1").remote_id == made.remote_id
    if hasattr(connector, "complete_fulfillment"):
        connector.complete_fulfillment(partial, "waybill-k1")
    rest = [(li, li.quantity - (1 if li is first else 0)) for li in order.lines]
    rest = [(li, qty) for li, qty in rest if qty]
    full = _push(kind, order, rest, "1ZREST", complete=True)
    assert connector.find_fulfillment(full, "waybill-k2") is None
    connector.push_fulfillment(full, "waybill-k2")
    if hasattr(connector, "complete_fulfillment"):
        connector.complete_fulfillment(full, "waybill-k2")
    seen = connector.fetch_order(order.external_id)  # read back through the channel's API
    assert seen.channel_fulfillment == "fulfilled"
    if kind != "woocommerce":  # WooCommerce keeps notes, not units shipped per line
        assert [li.shipped for li in order.lines] == [li.quantity for li in order.lines]
    assert len(order.fulfillments if kind != "woocommerce" else order.notes) == 2
    with pytest.raises(ChannelRefused):  # nothing left to ship: refused (checked first where we can)
        connector.push_fulfillment(_push(kind, order, [(first, 1)]), "waybill-k3") if kind != "woocommerce" \
            else connector.cancel_order(CancelPush(order.external_id, "customer"), "waybill-k3")


def test_shopify_tracking_update_and_fulfilment_cancel(sandbox, sandbox_state):
    connector = _connector("shopify", sandbox)
    order = _order(sandbox_state, "shopify")
    push = _push("shopify", order, [(order.lines[0], 1)])
    made = connector.push_fulfillment(push, "waybill-t1")
    connector.push_tracking(order.external_id, made.remote_id, "dhl", "JD000NEW", None)
    assert order.fulfillments[0]["number"] == "JD000NEW" and order.fulfillments[0]["company"] == "DHL"
    connector.cancel_fulfillment(order.external_id, made.remote_id)
    assert order.fulfillments[0]["status"] == "cancelled" and order.lines[0].shipped == 0
    assert connector.find_fulfillment(push, "waybill-t1") is None  # a cancelled one is not ours any more


def test_amazon_refuses_to_undo_a_confirmation(sandbox, sandbox_state):
    connector = _connector("amazon", sandbox)
    with pytest.raises(ChannelRefused, match="cannot be undone"):
        connector.cancel_fulfillment("305-1", "waybill-x")


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_cancel_is_confirmed_by_the_channel(kind, sandbox, sandbox_state):
    connector = _connector(kind, sandbox)
    order = _order(sandbox_state, kind)
    cancel = CancelPush(order.external_id, "customer changed their mind")
    assert connector.find_cancel(cancel, "waybill-c1") is None
    result = connector.cancel_order(cancel, "waybill-c1")
    if kind == "amazon":
        assert result.state == "pending"  # until the processing report says so
        assert connector.feed_result(result.remote_id).state == "pending"
        assert connector.feed_result(result.remote_id).state == "done"
    else:
        assert result.state == "done"
    assert connector.find_cancel(cancel, "waybill-c1") is not None
    assert connector.fetch_order(order.external_id).cancelled


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_a_shipped_order_is_not_cancelled(kind, sandbox, sandbox_state):
    connector = _connector(kind, sandbox)
    order = _order(sandbox_state, kind)
    push = _push(kind, order, [(li, li.quantity) for li in order.lines], complete=True)
    connector.push_fulfillment(push, "waybill-s1")
    if hasattr(connector, "complete_fulfillment"):
        connector.complete_fulfillment(push, "waybill-s1")
    with pytest.raises(ChannelRefused):
        connector.cancel_order(CancelPush(order.external_id, "customer"), "waybill-s2")
    assert not order.cancelled


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_refund_once_and_never_more_than_paid(kind, sandbox, sandbox_state):
    connector = _connector(kind, sandbox)
    order = _order(sandbox_state, kind)
    line = order.lines[0]
    refund = RefundPush(order.external_id, Decimal("5.00"), order.currency, "damaged",
                        [WriteLine(_line_id(kind, line), 1, line.sku)])
    result = connector.create_refund(refund, "waybill-r1")
    if kind == "amazon":
        assert connector.feed_result(result.remote_id).state == "pending"
        assert connector.feed_result(result.remote_id).state == "done"
        again = connector.create_refund(refund, "waybill-r1")  # a repeat: Amazon takes it once
        connector.feed_result(again.remote_id)
        assert connector.feed_result(again.remote_id).state == "done"
    else:
        assert connector.find_refund(refund, "waybill-r1").remote_id == result.remote_id
    assert [r.amount for r in order.refunds] == [Decimal("5.00")]
    too_much = RefundPush(order.external_id, order.total, order.currency, "all of it")
    if kind == "amazon":
        failed = connector.create_refund(too_much, "waybill-r2")
        connector.feed_result(failed.remote_id)
        verdict = connector.feed_result(failed.remote_id)
        assert verdict.state == "failed" and "more than" in verdict.note
    else:
        with pytest.raises(ChannelRefused, match="left to refund"):
            connector.create_refund(too_much, "waybill-r2")
    assert len(order.refunds) == 1
    if kind != "amazon":  # Amazon's Orders API shows no refunds
        assert [r.amount for r in connector.fetch_order(order.external_id).refunds] == [Decimal("5.00")]
