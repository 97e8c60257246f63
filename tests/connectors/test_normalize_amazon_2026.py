"""The Orders API 2026-01-01 shape through ``connectors.amazon.normalize_order(order, items=None)``,
on orders written from orders_2026-01-01.json (tests/fixtures/channels/amazon/v2026_*)."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.amazon import normalize_order
from connectors.errors import InvalidPayload

from .helpers import own_fixture

UTC = timezone.utc


def test_jp_order_in_yen_without_decimals():
    o = normalize_order(own_fixture("amazon/v2026_jp_order_yen.json"))  # the getOrder body
    assert (o.external_id, o.order_number, o.currency) == ("250-3318054-7720161", "250-3318054-7720161", "JPY")
    assert (o.total, o.subtotal, o.shipping_total, o.discount_total, o.fees_total, o.tax_total) == (
        Decimal("9330"), Decimal("8960"), Decimal("350"), Decimal("200"), Decimal("220"), Decimal("0"))
    assert o.subtotal + o.shipping_total + o.fees_total + o.tax_total - o.discount_total == o.total
    matcha, mugs = o.lines
    assert (matcha.sku, matcha.quantity, matcha.unit_price, matcha.subtotal, matcha.discount) == (
        "TEA-MATCHA", 2, Decimal("3980"), Decimal("7960"), Decimal("200"))
    # the unit price Amazon shows (333) times 3 is not the line's 1000 yen: the line total is kept
    assert (mugs.unit_price, mugs.subtotal) == (Decimal("333"), Decimal("1000"))
    assert o.charges == {"gift_wrap": Decimal("220"), "points_granted": Decimal("80"),
                         "points_granted_number": Decimal("80")}
    assert o.email == "7y3kq2r9m1@marketplace.amazon.co.jp" and o.customer_name == "山田 太郎"
    a = o.shipping_address
    assert (a.line1, a.line2, a.city, a.region, a.postcode, a.country) == (
        "千代田1-1", "皇居前ビル 3F", "千代田区", "東京都", "100-0001", "JP")
    assert o.ship_by == datetime(2026, 12, 3, 14, 59, 59, tzinfo=UTC)  # fulfillment.shipByWindow
    assert (o.financial_status, o.channel_status, o.fulfillment_status) == ("paid", "UNSHIPPED", "unfulfilled")
    assert not o.fulfilled_by_channel and o.risk == {"is_prime": True}
    assert o.placed_at == datetime(2026, 12, 2, 1, 12, 9, tzinfo=UTC)


def test_br_business_order_with_tax_registrations():
    (raw,) = own_fixture("amazon/v2026_br_business_order.json")["orders"]  # a searchOrders element
    o = normalize_order(raw)
    assert (o.currency, o.total, o.subtotal, o.shipping_total) == (
        "BRL", Decimal("1288.40"), Decimal("1199.40"), Decimal("89.00"))
    assert o.risk["is_business_order"] is True
    assert o.risk["tax_registrations"] == [
        {"entity": "BUYER", "type": "CNPJ", "number": "11.222.333/0001-81", "legal_name": "Ferreira & Filhos Comércio Ltda"},
        {"entity": "BUYER", "type": "CST", "number": "110.042.490.114", "legal_name": "Ferreira & Filhos Comércio Ltda"}]
    # the invoice goes to the registered company's address; the parcel to the delivery address
    assert (o.billing_address.company, o.billing_address.line1, o.billing_address.postcode) == (
        "Ferreira & Filhos Comércio Ltda", "Rua Augusta, 900", "01304-001")
    assert (o.shipping_address.company, o.shipping_address.line1, o.shipping_address.city) == (
        "Ferreira & Filhos Comércio Ltda", "Avenida Paulista, 1578", "São Paulo")
    assert o.lines[0].unit_price == Decimal("199.90") and o.lines[0].quantity == 6


def test_cancelled_order_two_ls():
    o = normalize_order(own_fixture("amazon/v2026_cancelled_order.json"))
    assert o.cancelled and o.channel_status == "CANCELLED" and o.financial_status == "voided"
    assert o.cancel_reason == "Buyer requested cancellation"  # what was done, not what was asked
    assert o.cancelled_at == datetime(2026, 12, 1, 9, 15, 2, tzinfo=UTC)
    assert o.email is None and o.shipping_address is None


def test_fba_order_is_fulfilled_by_amazon_and_shipped():
    o = normalize_order(own_fixture("amazon/v2026_fba_order.json"))
    assert o.fulfilled_by_channel and o.fulfillment_status == "fulfilled"
    assert o.email is None  # FBA orders carry no buyer e-mail
    assert (o.shipping_address.city, o.shipping_address.country) == ("München", "DE")
    pending = copy.deepcopy(own_fixture("amazon/v2026_fba_order.json"))
    pending["order"]["fulfillment"]["fulfillmentStatus"] = "PENDING"
    o = normalize_order(pending)
    assert o.fulfilled_by_channel and o.fulfillment_status == "unfulfilled" and o.financial_status == "pending"


def test_order_without_pii_imports_without_inventing_it():
    o = normalize_order(own_fixture("amazon/v2026_order_without_pii.json"))
    assert o.email is None and o.customer_name is None and o.shipping_address is None
    assert o.total == Decimal("62.47") and o.lines[0].sku == "SOCK-3PK"


def test_amounts_in_another_currency_and_missing_fulfillment_are_refused():
    raw = copy.deepcopy(own_fixture("amazon/v2026_jp_order_yen.json"))
    raw["order"]["orderItems"][1]["proceeds"]["breakdowns"][0]["subtotal"]["currencyCode"] = "USD"
    with pytest.raises(InvalidPayload, match="currency USD differs from the order's JPY"):
        normalize_order(raw)
    raw = copy.deepcopy(own_fixture("amazon/v2026_jp_order_yen.json"))
    del raw["order"]["fulfillment"]
    with pytest.raises(InvalidPayload, match="includedData must name FULFILLMENT"):
        normalize_order(raw)
    raw = copy.deepcopy(own_fixture("amazon/v2026_jp_order_yen.json"))
    raw["order"]["orderItems"] = []
    with pytest.raises(InvalidPayload, match="no lines"):
        normalize_order(raw)
