"""The SP-API normaliser on every Amazon fixture (real API responses)."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.amazon import normalize_order
from connectors.errors import InvalidPayload

from .helpers import fixture, fixture_names

UTC = timezone.utc
ORDER_FIXTURES = ["amazon/getOrder_doc_example.json", "amazon/getOrders_doc_example.json",
                  "amazon/getOrders_sandbox_page1_with_NextToken.json", "amazon/getOrders_sandbox_page2_last.json"]
ITEM_FIXTURES = ["amazon/getOrderItems_doc_example.json", "amazon/getOrderItems_sandbox.json"]


def test_every_fixture_is_covered():
    assert fixture_names("amazon") == sorted(ORDER_FIXTURES + ITEM_FIXTURES + ["amazon/getOrderAddress_sandbox.json"])


def _orders(name):
    payload = fixture(name)["payload"]
    return payload["Orders"] if "Orders" in payload else [payload]


# a Pending order's item: no prices yet (an order without items is refused)
PENDING_ITEM = {"OrderItemId": "1", "SellerSKU": "SKU-1", "Title": "Thing", "QuantityOrdered": 1}


@pytest.mark.parametrize("name", ORDER_FIXTURES)
def test_pending_orders_without_items(name):
    for raw in _orders(name):
        o = normalize_order(raw, [PENDING_ITEM])
        assert o.external_id == o.order_number == "902-3159896-1390916"
        assert o.placed_at == datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)
        assert o.updated_at == datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)
        assert o.total is None  # OrderTotal is absent while Pending
        assert o.currency == "USD"  # from the marketplace (ATVPDKIKX0DER) when nothing else says
        assert o.financial_status == "pending" and o.channel_status == "Pending"
        assert not o.fulfilled_by_channel and not o.cancelled
        assert o.ship_by == datetime(2017, 1, 25, 19, 49, 35, tzinfo=UTC)
        assert o.shipping_method == "Standard"
        assert o.billing_address is None and o.refunds == []


def test_order_with_restricted_data():
    o = normalize_order(fixture("amazon/getOrder_doc_example.json"), [PENDING_ITEM])
    assert o.email == "user@example.com" and o.customer_name == "John Doe"
    a = o.shipping_address
    assert (a.name, a.line1, a.city, a.region, a.postcode, a.country) == (
        "Michigan address", "1 Cross St.", "Canton", "MI", "48817", "US")
    bare = normalize_order(fixture("amazon/getOrders_sandbox_page1_with_NextToken.json")["payload"]["Orders"][0],
                           [PENDING_ITEM])
    assert bare.email is None and bare.shipping_address is None and bare.customer_name is None


def test_items_sandbox_fixture():
    order = copy.deepcopy(fixture("amazon/getOrder_doc_example.json")["payload"])
    order.update(AmazonOrderId="902-1845936-5435065", OrderStatus="Unshipped",
                 OrderTotal={"CurrencyCode": "USD", "Amount": "11.01"})
    o = normalize_order(order, fixture("amazon/getOrderItems_sandbox.json"))  # the whole envelope
    assert [(li.external_id, li.sku, li.title, li.quantity, li.unit_price, li.tax, li.discount) for li in o.lines] == [
        ("05015851154158", "NABetaASINB00551Q3CS", "B00551Q3CS [Card Book]", 1, Decimal("10.00"), Decimal("1.01"),
         Decimal("0.00"))]
    assert (o.subtotal, o.tax_total, o.total, o.currency) == (Decimal("10.00"), Decimal("1.01"), Decimal("11.01"), "USD")
    assert o.financial_status == "paid"
    # IsBuyerRequestedCancel is the STRING "true": a signal for staff, not a cancellation
    assert o.risk["buyer_requested_cancel"] == "Found cheaper somewhere else."
    assert not o.cancelled


def test_items_doc_example_gift_wrap_in_another_currency_is_refused():
    items = fixture("amazon/getOrderItems_doc_example.json")["payload"]["OrderItems"]
    order = fixture("amazon/getOrder_doc_example.json")["payload"]
    # the JPY order's gift wrap is priced in GBP: no amount of it can be summed, so refused
    with pytest.raises(InvalidPayload, match=r"BuyerInfo.GiftWrapPrice: currency GBP differs from the order's JPY"):
        normalize_order(order, items)


def test_items_doc_example_line_totals_and_charges():
    items = copy.deepcopy(fixture("amazon/getOrderItems_doc_example.json")["payload"]["OrderItems"])
    for item in items:  # the same gift wrap, in the order's currency
        for key in ("GiftWrapPrice", "GiftWrapTax"):
            if key in item.get("BuyerInfo", {}):
                item["BuyerInfo"][key]["CurrencyCode"] = "JPY"
    o = normalize_order(fixture("amazon/getOrder_doc_example.json")["payload"], items)
    assert o.currency == "JPY"  # from ItemPrice: no OrderTotal yet
    # ItemPrice is the line total: 17.95 for 2 units -> 8.975 each, and the total is kept
    assert [(li.sku, li.quantity, li.unit_price, li.subtotal) for li in o.lines] == [
        ("CBA_OTF_1", 1, Decimal("25.99"), Decimal("25.99")), ("CBA_OTF_5", 2, Decimal("8.975"), Decimal("17.95"))]
    assert o.subtotal == Decimal("43.94") and o.shipping_total == Decimal("1.26")
    assert o.lines[1].unit_price * 2 == Decimal("17.95")
    gift_wrap = sum(Decimal(i["BuyerInfo"]["GiftWrapPrice"]["Amount"]) for i in items)
    gift_wrap_tax = sum(Decimal(i["BuyerInfo"].get("GiftWrapTax", {}).get("Amount", "0")) for i in items)
    assert o.charges["gift_wrap"] == gift_wrap
    assert o.charges.get("gift_wrap_tax", Decimal("0")) == gift_wrap_tax
    assert (o.charges["cod_fee"], o.charges["cod_fee_discount"]) == (Decimal("10.00"), Decimal("1.00"))
    assert (o.charges["points_granted"], o.charges["points_granted_number"]) == (Decimal("10.00"), Decimal("10"))
    # what the buyer pays besides goods and shipping: gift wrap and the COD fee less its discount
    assert o.fees_total == gift_wrap + Decimal("10.00") - Decimal("1.00")
    assert o.tax_total == gift_wrap_tax


def test_items_belonging_to_another_order_are_refused():
    with pytest.raises(InvalidPayload, match="belong to order 903-1671087-0812628"):
        normalize_order(fixture("amazon/getOrder_doc_example.json"), fixture("amazon/getOrderItems_doc_example.json"))


def test_a_mixed_currency_amount_is_refused():
    order = dict(fixture("amazon/getOrder_doc_example.json")["payload"], OrderStatus="Shipped",
                 OrderTotal={"CurrencyCode": "USD", "Amount": "30.00"})
    items = fixture("amazon/getOrderItems_doc_example.json")["payload"]["OrderItems"]
    with pytest.raises(InvalidPayload, match="currency JPY differs from the order's USD"):
        normalize_order(order, items)


def test_address_fixture_is_not_an_order():
    with pytest.raises(InvalidPayload, match="OrderStatus|PurchaseDate"):
        normalize_order(fixture("amazon/getOrderAddress_sandbox.json"), [PENDING_ITEM])


def _shipped(**changes):
    order = copy.deepcopy(fixture("amazon/getOrder_doc_example.json")["payload"])
    order.update(OrderStatus="Shipped", OrderTotal={"CurrencyCode": "EUR", "Amount": "59.80"},
                 LastUpdateDate="2017-01-22T08:00:00.123Z", MarketplaceId="A1PA6795UKMFR9")
    order.update(changes)
    item = {"OrderItemId": "1", "SellerSKU": "tee-blk-M ", "Title": "Tee", "QuantityOrdered": 2,
            "ItemPrice": {"CurrencyCode": "EUR", "Amount": "49.90"}, "ItemTax": {"CurrencyCode": "EUR", "Amount": "9.48"},
            "PromotionDiscount": {"CurrencyCode": "EUR", "Amount": "4.99"},
            "ShippingPrice": {"CurrencyCode": "EUR", "Amount": "5.41"},
            "ShippingDiscount": {"CurrencyCode": "EUR", "Amount": "0.00"}}
    return order, [item]


def test_fba_shipped_order():
    order, items = _shipped(FulfillmentChannel="AFN", IsPrime=True)
    o = normalize_order(order, items)
    assert o.fulfilled_by_channel is True and o.risk["is_prime"] is True
    assert o.updated_at == datetime(2017, 1, 22, 8, 0, 0, 123000, tzinfo=UTC)
    assert o.lines[0].sku == "tee-blk-M "  # exactly as sent
    assert o.lines[0].unit_price == Decimal("24.95") and o.lines[0].discount == Decimal("4.99")
    assert (o.subtotal, o.tax_total, o.discount_total, o.shipping_total, o.total) == (
        Decimal("49.90"), Decimal("9.48"), Decimal("4.99"), Decimal("5.41"), Decimal("59.80"))


def test_cancelled_order():
    order, items = _shipped(OrderStatus="Canceled")
    del order["OrderTotal"]
    items[0]["BuyerRequestedCancel"] = {"IsBuyerRequestedCancel": "true", "BuyerCancelReason": "Changed mind"}
    o = normalize_order(order, items)
    assert o.cancelled and o.financial_status == "voided" and o.total is None
    assert o.cancelled_at == datetime(2017, 1, 22, 8, 0, 0, 123000, tzinfo=UTC)
    assert o.cancel_reason == "Changed mind"


@pytest.mark.parametrize("change,message", [
    ({"OrderStatus": "Lost"}, "unknown OrderStatus"),
    ({"PurchaseDate": None}, "PurchaseDate: missing"),
    ({"AmazonOrderId": ""}, "missing 'AmazonOrderId'"),
])
def test_invalid_orders(change, message):
    order, items = _shipped(**change)
    with pytest.raises(InvalidPayload, match=message):
        normalize_order(order, items)


def test_missing_item_price_on_a_shipped_order_is_invalid():
    order, items = _shipped()
    del items[0]["ItemPrice"]
    with pytest.raises(InvalidPayload, match="missing ItemPrice"):
        normalize_order(order, items)
