"""The Shopify normaliser on every Shopify fixture (real API responses)."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.errors import InvalidPayload
from connectors.shopify import normalize_order, normalize_refund

from .helpers import fixture, fixture_names

UTC = timezone.utc

# what each fixture is, so that a new fixture fails here until someone decides
KINDS = {
    "shopify/order.json": "order",
    "shopify/orders.json": "orders",
    "shopify/refund.json": "refund",
    "shopify/draft_order.json": "not an order",
    "shopify/fulfillment.json": "not an order",
    "shopify/fulfillment_event.json": "not an order",
    "shopify/refund_calculate.json": "not an order",
    "shopify/transactions.json": "not an order",
}


def test_every_fixture_is_covered():
    assert fixture_names("shopify") == sorted(KINDS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_fixture_normalises_or_is_refused_clearly(name):
    raw = fixture(name)
    kind = KINDS[name]
    if kind == "order":
        assert normalize_order(raw).external_id == "450789469"
    elif kind == "orders":
        # this real response carries no line_items: an order without lines is refused
        with pytest.raises(InvalidPayload, match="450789469: no lines"):
            normalize_order(raw["orders"][0])
    else:
        with pytest.raises(InvalidPayload) as err:
            normalize_order(raw)
        assert isinstance(err.value, ValueError)
        assert "shopify" in str(err.value)
        if kind == "refund":
            assert "'refund' object" in str(err.value)


def test_single_order_envelope():
    o = normalize_order(fixture("shopify/order.json"))
    assert o.order_number == "#1001"
    # "2008-01-10T11:00:00-05:00" -> 16:00 UTC
    assert o.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert o.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert o.placed_at.utcoffset().total_seconds() == 0
    assert o.currency == "USD"
    assert (o.subtotal, o.shipping_total, o.tax_total, o.discount_total, o.total) == (
        Decimal("398.00"), Decimal("0.00"), Decimal("11.94"), Decimal("0.00"), Decimal("409.94"))
    assert all(isinstance(v, Decimal) for v in (o.subtotal, o.shipping_total, o.tax_total, o.total))
    assert o.email == "bob.norman@hostmail.com"
    assert o.customer_name == "Bob Norman"
    assert [(li.external_id, li.sku, li.title, li.quantity, li.unit_price) for li in o.lines] == [
        ("466157049", "IPOD2008GREEN", "IPod Nano - 8gb - green", 1, Decimal("199.00")),
        ("518995019", "IPOD2008RED", "IPod Nano - 8gb - red", 1, Decimal("199.00")),
        ("703073504", "IPOD2008BLACK", "IPod Nano - 8gb - black", 1, Decimal("199.00")),
    ]
    assert o.financial_status == "authorized"
    assert o.channel_status == "authorized/unfulfilled"
    assert not o.fulfilled_by_channel and not o.cancelled and o.cancelled_at is None
    assert o.shipping_method == "Free Shipping"
    a = o.shipping_address
    assert (a.name, a.line1, a.line2, a.city, a.region, a.postcode, a.country, a.phone) == (
        "Bob Norman", "Chestnut Street 92", None, "Louisville", "KY", "40202", "US", "555-625-1199")
    assert o.billing_address == a
    assert o.refunds == [] and o.tags == []
    assert o.raw == fixture("shopify/order.json")


def test_orders_list_element():
    raw = dict(fixture("shopify/orders.json")["orders"][0])
    with pytest.raises(InvalidPayload, match="no lines"):
        normalize_order(raw)
    raw["line_items"] = fixture("shopify/order.json")["order"]["line_items"][:1]
    o = normalize_order(raw)
    assert o.financial_status == "partially_refunded"
    assert (o.subtotal, o.discount_total, o.tax_total, o.shipping_total, o.total) == (
        Decimal("597.00"), Decimal("10.00"), Decimal("11.94"), Decimal("0.00"), Decimal("598.94"))
    assert o.total == o.subtotal - o.discount_total + o.tax_total + o.shipping_total
    assert o.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)  # processed_at
    assert len(o.lines) == 1
    assert o.email == "bob.norman@hostmail.com"


def test_refund_fixture():
    r = normalize_refund(fixture("shopify/refund.json"))
    assert r.external_id == "509562969"
    assert r.amount == Decimal("209.00")  # the refund transaction, not the sum of line prices
    assert r.created_at == datetime(2016, 6, 20, 17, 35, 6, tzinfo=UTC)
    assert r.reason == "it broke during shipping"


def test_refund_calculation_is_not_a_refund():
    with pytest.raises(InvalidPayload, match="calculation"):
        normalize_refund(fixture("shopify/refund_calculate.json"))


def _order(**changes):
    raw = fixture("shopify/order.json")["order"]
    raw.update(changes)
    return raw


def test_refunds_inside_an_order_and_their_fallback_amount():
    refund = fixture("shopify/refund.json")["refund"]
    without_transactions = dict(refund, id=1, transactions=[], order_adjustments=[{"amount": "-5.00"}])
    without_transactions["refund_line_items"] = [{"subtotal": 195.67, "total_tax": "3.98"}]  # NUMBER subtotal
    o = normalize_order(_order(financial_status="partially_refunded", refunds=[refund, without_transactions]))
    assert [r.amount for r in o.refunds] == [Decimal("209.00"), Decimal("204.65")]
    assert o.financial_status == "partially_refunded"


def test_empty_email_digital_order_and_cancellation():
    o = normalize_order(_order(email="", contact_email="", customer=None, shipping_address=None,
                               cancelled_at="2008-01-11T09:30:00+01:00", cancel_reason="fraud",
                               financial_status="voided", fulfillment_status="fulfilled", tags="vip, b2b ,"))
    assert o.email is None
    assert o.shipping_address is None
    assert o.customer_name == "Bob Norman"  # from the billing address
    assert o.cancelled and o.cancelled_at == datetime(2008, 1, 11, 8, 30, tzinfo=UTC)
    assert o.cancel_reason == "fraud" and o.risk == {"cancel_reason": "fraud"}
    assert o.financial_status == "voided"
    assert o.fulfilled_by_channel is True
    assert o.tags == ["vip", "b2b"]


def test_sku_kept_exactly_and_line_discounts_and_taxes():
    line = fixture("shopify/order.json")["order"]["line_items"][0]
    line = dict(line, sku=" ipod-2008/Green ", discount_allocations=[{"amount": "3.34"}, {"amount": "3.33"}],
                tax_lines=[{"price": "5.00"}, {"price": "1.94"}])
    o = normalize_order(_order(line_items=[line, dict(line, id=2, sku=None), dict(line, id=3, sku="")]))
    assert [li.sku for li in o.lines] == [" ipod-2008/Green ", None, None]
    assert o.lines[0].discount == Decimal("6.67") and o.lines[0].tax == Decimal("6.94")


@pytest.mark.parametrize("status,expected", [
    ("pending", "pending"), ("authorized", "authorized"), ("partially_paid", "pending"), ("paid", "paid"),
    ("partially_refunded", "partially_refunded"), ("refunded", "refunded"), ("voided", "voided"),
    ("expired", "voided"),
])
def test_financial_status_mapping(status, expected):
    assert normalize_order(_order(financial_status=status)).financial_status == expected


@pytest.mark.parametrize("changes,message", [
    ({"id": None}, "missing 'id'"),
    ({"total_price": "12,50"}, "total_price"),
    ({"financial_status": "bartered"}, "unknown financial_status"),
    ({"created_at": "10/01/2008"}, "created_at"),
    ({"currency": None}, "currency"),
])
def test_invalid_payloads_raise_a_clear_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        normalize_order(_order(**changes))
