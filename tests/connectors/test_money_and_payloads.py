"""Money to the cent from every channel, the charges Amazon itemises, one "no lines" check for
all channels, WooCommerce refunds and taxes, FBA states: on fixtures written from the public
API references (tests/fixtures/channels/) and the sandbox over real HTTP."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests

from connectors import amazon, currencies, shopify, woocommerce
from connectors.errors import InvalidPayload
from connectors.registry import build_connector
from connectors.sandbox import DEFAULT_CREDENTIALS

from .helpers import own_fixture

UTC = timezone.utc


def test_minor_units_come_from_one_iso_4217_table():
    assert [currencies.minor_units(c) for c in ("USD", "JPY", "KWD", "CLF", "eur", None, "XXZ")] == [
        2, 0, 3, 4, 2, 2, 2]
    assert currencies.quantum("JPY") == Decimal("1") and currencies.quantum("KWD") == Decimal("0.001")
    assert currencies.from_minor("1995", "USD") == Decimal("19.95")
    assert currencies.from_minor("1995", "JPY") == Decimal("1995")
    assert currencies.from_minor("12345", "KWD") == Decimal("12.345")


# -- Amazon ------------------------------------------------------------------------------------

def test_amazon_jp_order_keeps_line_totals_in_yen_and_every_charge():
    data = own_fixture("amazon/v0_jp_cod_points_order.json")
    o = amazon.normalize_order(data["order"], data["items"])
    assert o.currency == "JPY" and o.total == Decimal("5840")
    matcha, mugs = o.lines
    # ItemPrice is the line total: 3960 for 2, 1000 for 3 (not a whole yen each)
    assert (matcha.unit_price, matcha.subtotal) == (Decimal("1980"), Decimal("3960"))
    assert (mugs.unit_price, mugs.subtotal) == (Decimal("333.333333"), Decimal("1000"))
    assert o.subtotal == Decimal("4960") == matcha.subtotal + mugs.subtotal
    assert o.charges == {"gift_wrap": Decimal("200"), "gift_wrap_tax": Decimal("18"), "cod_fee": Decimal("330"),
                         "points_granted": Decimal("39"), "points_granted_number": Decimal("39")}
    assert o.fees_total == Decimal("530")  # gift wrap + COD fee (no COD discount)
    assert o.tax_total == Decimal("360") + Decimal("91") + Decimal("18")
    assert o.subtotal + o.shipping_total + o.fees_total - o.discount_total == o.total  # JP prices include tax
    assert o.risk["payment_method"] == "COD"


@pytest.mark.parametrize("path,key", [
    (("items", 0, "CODFee"), "CODFee"),
    (("items", 0, "CODFeeDiscount"), "CODFeeDiscount"),
    (("items", 0, "PointsGranted", "PointsMonetaryValue"), "PointsGranted"),
    (("items", 0, "BuyerInfo", "GiftWrapPrice"), "GiftWrapPrice"),
    (("items", 0, "BuyerInfo", "GiftWrapTax"), "GiftWrapTax"),
])
def test_amazon_currency_check_covers_every_charge(path, key):
    data = copy.deepcopy(own_fixture("amazon/v0_jp_cod_points_order.json"))
    block = data
    for step in path:
        block = block[step]
    block["CurrencyCode"] = "USD"
    with pytest.raises(InvalidPayload, match=rf"{key}.*currency USD differs from the order's JPY"):
        amazon.normalize_order(data["order"], data["items"])


def test_amazon_fba_pending_is_not_shipped_until_amazon_says_so():
    pending = own_fixture("amazon/v0_fba_pending_order.json")
    o = amazon.normalize_order(pending["order"], pending["items"])
    assert o.fulfilled_by_channel and o.fulfillment_status == "unfulfilled"
    assert o.total is None and o.financial_status == "pending"
    shipped = own_fixture("amazon/v0_fba_shipped_order.json")
    o = amazon.normalize_order(shipped["order"], shipped["items"])
    assert o.fulfilled_by_channel and o.fulfillment_status == "fulfilled"
    partial = copy.deepcopy(shipped)
    partial["order"]["OrderStatus"] = "PartiallyShipped"
    assert amazon.normalize_order(partial["order"], partial["items"]).fulfillment_status == "partial"


# -- one check for every channel: an order has lines --------------------------------------------

def test_an_order_without_lines_is_an_invalid_payload_on_every_channel():
    with pytest.raises(InvalidPayload, match="5990144262322: no lines"):
        shopify.normalize_order(own_fixture("shopify/order_without_line_items.json"))
    woo = own_fixture("woocommerce/v3_order_kwd_rounded_taxes.json")
    with pytest.raises(InvalidPayload, match="4127: no lines"):
        woocommerce.normalize_order(dict(woo, line_items=[]))
    data = own_fixture("amazon/v0_jp_cod_points_order.json")
    with pytest.raises(InvalidPayload, match="503-7412589-6301254: no lines"):
        amazon.normalize_order(data["order"], [])


# -- WooCommerce ------------------------------------------------------------------------------

def test_woocommerce_kwd_three_decimals_and_line_taxes_add_up_to_the_order_tax():
    raw = own_fixture("woocommerce/v3_order_kwd_rounded_taxes.json")
    o = woocommerce.normalize_order(raw)
    assert o.currency == "KWD" and o.total == Decimal("38.185")
    assert [(li.subtotal, li.unit_price) for li in o.lines] == [
        (Decimal("12.350"), Decimal("12.350")), (Decimal("10.000"), Decimal("3.333333")),
        (Decimal("12.350"), Decimal("12.350"))]
    # each line's own total_tax (0.618 + 0.500 + 0.618) is a fils more than the order's 1.735
    assert sum(Decimal(li["total_tax"]) for li in raw["line_items"]) == Decimal("1.736")
    assert [li.tax for li in o.lines] == [Decimal("0.618"), Decimal("0.500"), Decimal("0.617")]
    assert sum(li.tax for li in o.lines) == o.tax_total == Decimal("1.735")
    assert o.fees_total == Decimal("0.250") and o.charges == {"fees": Decimal("0.250")}
    assert o.subtotal + o.shipping_total + o.tax_total + o.fees_total - o.discount_total == o.total
    # the embedded refund has no date: unknown here (the connector asks the refunds resource)
    assert [(r.external_id, r.amount, r.created_at) for r in o.refunds] == [("4130", Decimal("12.350"), None)]


def test_woocommerce_line_taxes_that_are_not_parts_of_the_order_tax_stay_as_sent():
    raw = copy.deepcopy(own_fixture("woocommerce/v3_order_kwd_rounded_taxes.json"))
    raw["cart_tax"] = "9.000"  # not reachable by rounding the lines' taxes
    assert [li.tax for li in woocommerce.normalize_order(raw).lines] == [
        Decimal("0.618"), Decimal("0.500"), Decimal("0.618")]


def _woo(sandbox, **options):
    return build_connector("woocommerce", f"{sandbox}/woocommerce/demo", dict(DEFAULT_CREDENTIALS["woocommerce"]),
                           **options)


def test_sandbox_answers_a_woocommerce_page_past_the_end_with_an_empty_page(sandbox, sandbox_control):
    sandbox_control("orders", channel="woocommerce", count=3)
    auth = (DEFAULT_CREDENTIALS["woocommerce"]["consumer_key"], DEFAULT_CREDENTIALS["woocommerce"]["consumer_secret"])
    url = f"{sandbox}/woocommerce/demo/wp-json/wc/v3/orders"
    past = requests.get(url, params={"per_page": 2, "page": 5}, auth=auth, timeout=10)
    assert past.status_code == 200 and past.json() == []
    assert (past.headers["X-WP-Total"], past.headers["X-WP-TotalPages"]) == ("3", "2")
    empty = requests.get(url, params={"per_page": 2, "page": 1, "modified_after": "2999-01-01T00:00:00"},
                         auth=auth, timeout=10)
    assert empty.status_code == 200 and empty.json() == [] and empty.headers["X-WP-TotalPages"] == "0"


def test_woocommerce_connector_dates_refunds_from_the_refunds_resource(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="woocommerce", count=6)
    sandbox_control("update", channel="woocommerce", count=6, action="pay")
    sandbox_control("update", channel="woocommerce", count=6, action="refund")
    refunded = {o.external_id: o for o in sandbox_state.list_orders("woocommerce", "demo") if o.refunds}
    assert refunded
    connector = _woo(sandbox, auth="basic")
    page = connector.fetch_orders(datetime(2000, 1, 1, tzinfo=UTC))
    seen = {o.external_id: o for o in page.orders}
    for external_id, sim in refunded.items():
        got = seen[external_id].refunds
        assert [(r.external_id, r.created_at) for r in got] == [
            (str(r.refund_id), r.created_at.astimezone(UTC)) for r in sim.refunds]
        # the stored payload carries the dates: it normalises the same way again
        assert woocommerce.normalize_order(seen[external_id].raw).refunds == got
    assert connector.fetch_order(next(iter(refunded))).refunds[0].created_at is not None
