"""NormalizedLine.quantity_cancelled: what each channel says about units removed from a line
after the order was placed, and None (never a guessed 0) where its payload does not say."""
from __future__ import annotations

import copy

import pytest

from connectors import amazon, shopify, woocommerce
from connectors.errors import InvalidPayload

from .helpers import fixture


def test_shopify_current_quantity_gives_the_cancelled_units():
    raw = copy.deepcopy(fixture("shopify/order.json"))
    items = raw["order"]["line_items"]
    items[0].update(quantity=3, current_quantity=1, fulfillable_quantity=1)  # edited: -2
    items[1].update(quantity=1, current_quantity=1, fulfillable_quantity=0)  # fulfilled
    items[2].update(quantity=2, current_quantity=0, fulfillable_quantity=0)  # removed
    lines = shopify.normalize_order(raw).lines
    assert [(l.quantity, l.quantity_cancelled) for l in lines] == [(3, 2), (1, 0), (2, 2)]


def test_shopify_current_quantity_never_cancels_more_than_ordered_nor_less_than_zero():
    raw = copy.deepcopy(fixture("shopify/order.json"))
    items = raw["order"]["line_items"]
    items[0].update(quantity=2, current_quantity=5)
    items[1].update(quantity=2, current_quantity=-1)
    items[2].update(quantity=1, current_quantity="1")
    lines = shopify.normalize_order(raw).lines
    assert [l.quantity_cancelled for l in lines] == [0, 2, 0]


def test_shopify_current_quantity_must_be_a_number():
    raw = copy.deepcopy(fixture("shopify/order.json"))
    raw["order"]["line_items"][0]["current_quantity"] = "two"
    with pytest.raises(InvalidPayload, match="current_quantity"):
        shopify.normalize_order(raw)


def test_legacy_shopify_payload_without_current_quantity_says_nothing():
    # the saved fixture predates REST 2024-01 (no current_quantity): unknown, not 0
    lines = shopify.normalize_order(fixture("shopify/order.json")).lines
    assert lines and all(l.quantity_cancelled is None for l in lines)


def test_woocommerce_order_says_nothing_about_refunded_units():
    lines = woocommerce.normalize_order(fixture("woocommerce/v3_order_retrieve.json")).lines
    assert lines and all(l.quantity_cancelled is None for l in lines)


def test_amazon_items_say_nothing_about_cancelled_units():
    order = copy.deepcopy(fixture("amazon/getOrder_doc_example.json")["payload"])
    order.update(AmazonOrderId="902-1845936-5435065", OrderStatus="Unshipped",
                 OrderTotal={"CurrencyCode": "USD", "Amount": "11.01"})
    lines = amazon.normalize_order(order, fixture("amazon/getOrderItems_sandbox.json")).lines
    assert lines and all(l.quantity_cancelled is None for l in lines)


# --- over HTTP against the sandbox --------------------------------------------------------------

@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "amazon"])
def test_sandbox_order_edit_reaches_the_connector(channel, sandbox, sandbox_control):
    from tests.connectors.test_connectors_sandbox import connector

    [external_id] = sandbox_control("orders", channel=channel, count=1)["created"]
    conn = connector(sandbox, channel)
    before = conn.fetch_order(external_id)
    sandbox_control("update", channel=channel, ids=[external_id], action="cancel_units")
    sandbox_control("update", channel=channel, ids=[external_id], action="cancel_units")
    after = conn.fetch_order(external_id)
    if channel == "shopify":
        assert [l.quantity_cancelled for l in before.lines] == [0] * len(before.lines)
        # each edit removes one unit of the first line that still has one
        expected = [0] * len(before.lines)
        for _ in range(2):
            index = next((i for i, l in enumerate(before.lines) if l.quantity > expected[i]), None)
            if index is not None:
                expected[index] += 1
        assert [l.quantity_cancelled for l in after.lines] == expected and sum(expected) >= 1
        assert [l.quantity for l in after.lines] == [l.quantity for l in before.lines]
    else:  # the other APIs show no line edit (the sandbox changes the address instead)
        assert all(l.quantity_cancelled is None for l in before.lines + after.lines)
