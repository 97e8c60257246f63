"""What a channel sends is stored to the cent of its currency: a line's total as the channel
sent it, the unit price derived from it, Amazon's charges, KWD's three decimals; an FBA order
ships when Amazon says so; an order without lines is quarantined; a WooCommerce refund keeps
its date. Through the real import into the database (SQLite, and PostgreSQL when set)."""
import json
from decimal import Decimal

from sqlalchemy import select

from app.models import Allocation, Order, OrderEvent, Refund, SyncConflict
from app.services.channels import importing
from app.services.core.actor import Actor
from connectors import amazon, woocommerce
from tests.connectors.helpers import own_fixture
from tests.sync.test_webhooks import deliver


def _reload(session, order_id) -> Order:
    session.expire_all()
    return session.get(Order, order_id)


def test_amazon_jp_order_is_stored_to_the_yen(session, sandbox_channels):
    channel = sandbox_channels["amazon"]
    data = own_fixture("amazon/v0_jp_cod_points_order.json")
    normalized = amazon.normalize_order(data["order"], data["items"])
    order_id = importing.import_order(session, channel, normalized, Actor.channel(channel.code)).order.id
    order = _reload(session, order_id)
    assert (order.currency, order.total, order.subtotal, order.fees_total) == (
        "JPY", Decimal("5840"), Decimal("4960"), Decimal("530"))
    matcha, mugs = sorted(order.lines, key=lambda line: line.sku)
    assert (mugs.sku, mugs.quantity, mugs.unit_price, mugs.subtotal) == (
        "mug-01", 3, Decimal("333.333333"), Decimal("1000"))
    # the stored line total is the channel's, not 333.33 x 3 = 999.99
    assert mugs.line_subtotal == Decimal("1000") and mugs.line_total == Decimal("1000") + Decimal("91")
    assert matcha.line_subtotal == Decimal("3960")
    assert order.charges == {"gift_wrap": "200", "gift_wrap_tax": "18", "cod_fee": "330",
                             "points_granted": "39", "points_granted_number": "39"}


def test_amazon_line_total_of_17_95_for_2_is_kept(session, sandbox_channels):
    channel = sandbox_channels["amazon"]
    data = own_fixture("amazon/v0_fba_shipped_order.json")
    data["order"].update(AmazonOrderId="302-0000000-0000017", FulfillmentChannel="MFN", OrderStatus="Unshipped",
                         OrderTotal={"CurrencyCode": "EUR", "Amount": "17.95"})
    data["items"][0].update(QuantityOrdered=2, QuantityShipped=0,
                            ItemPrice={"CurrencyCode": "EUR", "Amount": "17.95"})
    normalized = amazon.normalize_order(data["order"], data["items"])
    order_id = importing.import_order(session, channel, normalized, Actor.channel(channel.code)).order.id
    (line,) = _reload(session, order_id).lines
    assert (line.unit_price, line.subtotal, line.line_subtotal) == (
        Decimal("8.975"), Decimal("17.95"), Decimal("17.95"))
    assert str(line.subtotal) == "17.95" and str(line.unit_price) == "8.975"


def test_woocommerce_kwd_order_keeps_three_decimals_and_its_refund_date(app, session, sandbox_channels):
    channel = sandbox_channels["woocommerce"]
    raw = own_fixture("woocommerce/v3_order_kwd_rounded_taxes.json")
    response = deliver(app.test_client(), "woocommerce", channel, json.dumps(raw).encode(),
                       "secret-woocommerce", "order.updated")
    assert response.status_code == 200 and response.json["code"] == "created"
    order = session.scalar(select(Order).where(Order.channel_id == channel.id, Order.external_id == "4127"))
    order = _reload(session, order.id)
    assert (order.total, order.tax_total, order.shipping_total, order.fees_total) == (
        Decimal("38.185"), Decimal("1.735"), Decimal("1.5"), Decimal("0.25"))
    assert str(order.total) == "38.185"
    assert sum(line.tax for line in order.lines) == order.tax_total
    (refund,) = session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert refund.amount == Decimal("12.35")
    # the embedded refund has no date: the order's last change on the channel, not the import time
    assert refund.created_at == woocommerce.normalize_order(raw).updated_at


def test_fba_order_waits_as_new_until_amazon_ships_it(session, sandbox_channels):
    channel = sandbox_channels["amazon"]
    actor = Actor.channel(channel.code)
    pending = own_fixture("amazon/v0_fba_pending_order.json")
    order = importing.import_order(session, channel, amazon.normalize_order(pending["order"], pending["items"]),
                                   actor).order
    order = _reload(session, order.id)
    assert order.fulfilled_by_channel and (order.status, order.fulfillment_status) == ("new", "unfulfilled")
    assert session.scalars(select(Allocation)).all() == []  # Amazon's stock, not ours
    shipped = own_fixture("amazon/v0_fba_shipped_order.json")
    result = importing.import_order(session, channel, amazon.normalize_order(shipped["order"], shipped["items"]),
                                    actor)
    assert result.outcome == "updated"
    order = _reload(session, order.id)
    assert (order.status, order.fulfillment_status, order.total) == ("shipped", "fulfilled", Decimal("22.08"))
    types = session.scalars(select(OrderEvent.type).where(OrderEvent.order_id == order.id)).all()
    assert "channel_fulfillment" in types
    assert session.scalars(select(Allocation)).all() == []


def test_shopify_order_without_line_items_is_quarantined(app, session, sandbox_channels):
    channel = sandbox_channels["shopify"]
    body = json.dumps(own_fixture("shopify/order_without_line_items.json")).encode()
    response = deliver(app.test_client(), "shopify", channel, body, "secret-shopify", "orders/create")
    assert response.status_code == 200 and response.json["code"] == "quarantined"
    (conflict,) = session.scalars(select(SyncConflict)).all()
    assert conflict.kind == "invalid_payload" and "no lines" in conflict.error
    assert conflict.raw_payload["id"] == 5990144262322
    assert session.scalars(select(Order)).all() == []
