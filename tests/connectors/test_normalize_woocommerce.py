"""The WooCommerce normaliser on every WooCommerce fixture (real API responses)."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.errors import InvalidPayload
from connectors.woocommerce import normalize_order, normalize_refund

from .helpers import fixture, fixture_names

UTC = timezone.utc


def test_every_fixture_is_covered():
    assert fixture_names("woocommerce") == [
        "woocommerce/v3_order_refunds_list.json", "woocommerce/v3_order_retrieve.json",
        "woocommerce/v3_orders_list.json"]


def test_order_retrieve():
    raw = fixture("woocommerce/v3_order_retrieve.json")
    o = normalize_order(raw)
    assert (o.external_id, o.order_number, o.currency) == ("727", "727", "USD")
    # date_created "2017-03-22T16:28:02" is site-local; the _gmt twin (no Z) is UTC
    assert o.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert o.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    # no order-level subtotal in WooCommerce: the sum of line subtotals
    assert (o.subtotal, o.shipping_total, o.tax_total, o.discount_total, o.total) == (
        Decimal("18.00"), Decimal("10.00"), Decimal("1.35"), Decimal("0.00"), Decimal("29.35"))
    assert o.total == o.subtotal + o.shipping_total + o.tax_total - o.discount_total
    assert o.email == "john.doe@example.com" and o.customer_name == "John Doe"
    assert [(li.external_id, li.sku, li.title, li.quantity, li.unit_price, li.tax, li.discount) for li in o.lines] == [
        ("315", None, "Woo Single #1", 2, Decimal("3.00"), Decimal("0.45"), Decimal("0.00")),
        # "&ndash;" in the name is an HTML entity; sku "Bar3" exactly as sent
        ("316", "Bar3", "Ship Your Idea – Color: Black, Size: M Test", 1, Decimal("12.00"), Decimal("0.90"),
         Decimal("0.00")),
    ]
    assert all(isinstance(li.unit_price, Decimal) for li in o.lines)  # "price" is a JSON number
    assert o.financial_status == "paid" and o.channel_status == "processing"
    assert not o.fulfilled_by_channel and not o.cancelled
    assert o.shipping_method == "Flat Rate"
    s = o.shipping_address
    assert (s.name, s.line1, s.line2, s.city, s.region, s.postcode, s.country, s.phone) == (
        "John Doe", "969 Market", None, "San Francisco", "CA", "94103", "US", None)
    assert o.billing_address.phone == "(555) 555-5555"
    assert o.refunds == []


def test_orders_list():
    orders = [normalize_order(raw) for raw in fixture("woocommerce/v3_orders_list.json")]
    assert [o.external_id for o in orders] == ["727", "723"]
    done = orders[1]
    assert done.channel_status == "completed"
    assert done.fulfilled_by_channel is True  # completed when first imported
    assert done.total == Decimal("39.00") and done.subtotal == Decimal("29.00")
    assert done.placed_at == datetime(2017, 3, 21, 19, 16, tzinfo=UTC)
    assert done.customer_name == "João Silva" and done.shipping_address.city == "Rio de Janeiro"
    assert done.shipping_address.country == "BR" and done.shipping_address.postcode == "12345-000"
    # refunds in the order carry a NEGATIVE total and the reason under the key "refund"
    assert [(r.external_id, r.amount, r.reason) for r in done.refunds] == [
        ("726", Decimal("10.00"), None), ("724", Decimal("9.00"), None)]
    assert done.financial_status == "partially_refunded"  # 19.00 of 39.00
    assert [li.sku for li in done.lines] == [None, None]  # sku ""


def test_refunds_list_resource():
    refunds = [normalize_refund(r) for r in fixture("woocommerce/v3_order_refunds_list.json")]
    assert [(r.external_id, r.amount, r.created_at, r.reason) for r in refunds] == [
        ("726", Decimal("10.00"), datetime(2017, 3, 21, 20, 7, 11, tzinfo=UTC), None),
        ("724", Decimal("9.00"), datetime(2017, 3, 21, 19, 55, 37, tzinfo=UTC), None),
    ]


def _order(**changes):
    raw = copy.deepcopy(fixture("woocommerce/v3_order_retrieve.json"))
    raw.update(changes)
    return raw


def test_digital_order_has_no_shipping_address_and_empty_email_is_none():
    empty = {k: "" for k in ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
                             "postcode", "country")}
    o = normalize_order(_order(shipping=empty, billing=dict(fixture("woocommerce/v3_order_retrieve.json")["billing"],
                                                            email="")))
    assert o.shipping_address is None
    assert o.email is None
    assert o.billing_address is not None


def test_discounted_line_and_full_refund_and_cancellation():
    raw = _order()
    raw["line_items"][1].update(subtotal="12.00", total="10.80")
    raw["refunds"] = [{"id": 9, "reason": "damaged", "total": "-29.35"}]
    o = normalize_order(raw)
    assert o.lines[1].unit_price == Decimal("12.00") and o.lines[1].discount == Decimal("1.20")
    assert o.financial_status == "refunded"
    assert o.refunds[0].reason == "damaged"
    c = normalize_order(_order(status="cancelled"))
    assert c.cancelled and c.financial_status == "voided"
    assert c.cancelled_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)


@pytest.mark.parametrize("status,financial", [
    ("pending", "pending"), ("on-hold", "pending"), ("processing", "paid"), ("completed", "paid"),
    ("refunded", "refunded"), ("cancelled", "voided"), ("failed", "voided"), ("checkout-draft", "pending"),
])
def test_status_mapping(status, financial):
    o = normalize_order(_order(status=status))
    assert o.financial_status == financial and o.channel_status == status
    assert o.fulfilled_by_channel is (status == "completed")


def test_uneven_unit_price_is_kept_to_six_places_and_the_line_total_exactly():
    raw = _order()
    raw["line_items"][0].update(quantity=3, subtotal="10.00", total="10.00")
    line = normalize_order(raw).lines[0]
    assert line.unit_price == Decimal("3.333333") and line.subtotal == Decimal("10.00")


@pytest.mark.parametrize("changes,message", [
    ({"status": "wc-shipped"}, "unknown status"),
    ({"date_created_gmt": None}, "site-local time without a zone"),
    ({"total": "twenty"}, "total"),
    ({"id": None}, "missing 'id'"),
])
def test_invalid_payloads(changes, message):
    with pytest.raises(InvalidPayload, match=message):
        normalize_order(_order(**changes))


def test_a_refund_is_not_an_order():
    with pytest.raises(InvalidPayload, match="not an order"):
        normalize_order(fixture("woocommerce/v3_order_refunds_list.json")[0])
