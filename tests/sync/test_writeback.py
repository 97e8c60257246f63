"""Channel write-back through the outbox against the sandbox over real HTTP: a shipment
becomes the channel's fulfilment with tracking (a partial one with only its lines), a cancel
cancels on the channel, a refund goes pending -> succeeded when the channel confirms it;
what the channel refuses shows on the order with its reason; nothing arrives twice."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import ChannelPush, Order, Refund
from app.services.channels.writeback import fulfilments, status
from app.services.core import domain_events
from app.services.core.errors import Conflict
from app.services.orders import actions as orders
from app.services.returns import actions as returns, approvals

from dataclasses import replace

from .writeback_support import POLICY, deliver, import_order, messages, quiet_risk_checks, ship, sim_order

KINDS = ["shopify", "woocommerce", "amazon"]


@pytest.fixture
def world(sandbox, sandbox_channels, session, actor):
    state, _root = sandbox
    admin = actor("admin")
    quiet_risk_checks(session, admin)
    return state, sandbox_channels, admin


def _fresh(session, order_id):
    session.rollback()
    return session.get(Order, order_id)


@pytest.mark.parametrize("kind", KINDS)
def test_a_shipment_is_fulfilled_on_the_channel_once(kind, world, session):
    state, channels, admin = world
    sim = sim_order(state, kind)
    order = import_order(session, channels[kind], sim)
    assert order.status == "allocated", order.status
    shipment = ship(session, order.id, admin)
    deliver()
    push = session.scalar(select(ChannelPush).where(ChannelPush.shipment_id == shipment.id))
    assert push.status == "confirmed" and push.remote_id and push.tracking_number == "1Z999AA10123456784"
    if kind == "woocommerce":
        assert len(sim.notes) == 1 and "1Z999AA10123456784" in sim.notes[0]["note"]
        assert sim.status_override == "completed"
    else:
        assert len(sim.fulfillments) == 1 and sim.fulfillments[0]["number"] == "1Z999AA10123456784"
        assert [li.shipped for li in sim.lines] == [li.quantity for li in sim.lines]
    view = status.channel_view(session, order.id)
    assert view.synced and [p.status for p in view.fulfilments] == ["confirmed"]


def test_a_refused_fulfilment_shows_the_channels_reason(world, session):
    state, channels, admin = world
    sim = sim_order(state, "shopify")
    order = import_order(session, channels["shopify"], sim)
    state.cancel_orders("shopify", ids=[sim.external_id])  # cancelled on Shopify meanwhile
    ship(session, order.id, admin)
    deliver()
    view = status.channel_view(session, order.id)
    assert view.fulfilments[0].status == "failed" and "cancelled" in view.fulfilments[0].error
    assert not view.synced and view.unsynced[0].status == "dead"
    assert sim.fulfillments == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_cancel_is_confirmed_by_the_channel(kind, world, session):
    state, channels, admin = world
    sim = sim_order(state, kind)
    order = import_order(session, channels[kind], sim)
    orders.cancel_order(session, order.id, "customer asked", admin)
    deliver()
    push = session.scalar(select(ChannelPush).where(ChannelPush.order_id == order.id, ChannelPush.kind == "cancel"))
    assert push.status == "confirmed"
    assert sim.cancelled
    assert len(messages(session, "channel.cancel")) == 1


def test_a_cancel_from_the_channel_is_not_sent_back(world, session):
    state, channels, admin = world
    sim = sim_order(state, "woocommerce")
    order = import_order(session, channels["woocommerce"], sim)
    state.cancel_orders("woocommerce", ids=[sim.external_id])
    order = import_order(session, channels["woocommerce"], sim)
    assert order.status == "cancelled"
    assert messages(session, "channel.cancel") == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_refund_succeeds_only_when_the_channel_confirms(kind, world, session):
    state, channels, admin = world
    sim = sim_order(state, kind)
    order = import_order(session, channels[kind], sim)
    seen = []
    subscriber = lambda s, payload: seen.append(payload["status"])  # noqa: E731
    domain_events.subscribe("refund.changed", subscriber)
    try:
        line = order.lines[0]
        refund = returns.refund(session, order.id, None, "damaged", admin, lines={line.id: 1})
        assert refund.status == "pending"
        deliver()
    finally:
        domain_events.unsubscribe("refund.changed", subscriber)
    session.rollback()
    refund = session.get(Refund, refund.id)
    assert refund.status == "succeeded" and refund.external_id
    assert seen == (["pending", "sent", "succeeded"] if kind == "amazon" else ["pending", "succeeded"])
    assert [r.amount for r in sim.refunds] == [refund.amount]
    assert _fresh(session, order.id).financial_status == "partially_refunded"
    if kind != "amazon":  # read back on import: the pushed refund is not counted twice
        import_order(session, channels[kind], sim)
        assert len(session.scalars(select(Refund).where(Refund.order_id == order.id)).all()) == 1


def test_refunds_never_exceed_what_was_paid(world, session):
    state, channels, admin = world
    sim = sim_order(state, "shopify")
    order = import_order(session, channels["shopify"], sim)
    returns.refund(session, order.id, order.total - Decimal("1"), "most of it", admin)
    with pytest.raises(Exception, match="left to refund"):
        returns.refund(session, order.id, "2.00", "too much", admin)


def test_a_refund_above_the_limit_reaches_the_channel_once_approved(world, session, actor):
    state, channels, admin = world
    sim = sim_order(state, "shopify")
    order = import_order(session, channels["shopify"], sim)
    asked = returns.refund(session, order.id, "1.00", "over the limit", actor("support"), limit=Decimal("0.50"))
    assert asked.status == "pending_approval"
    deliver()
    assert sim.refunds == [] and messages(session, "channel.refund") == []  # nothing leaves before approval
    approvals.approve(session, asked.id, admin)
    deliver()
    refund = session.get(Refund, asked.id)
    assert refund.status == "succeeded" and refund.external_id
    assert [r.amount for r in sim.refunds] == [Decimal("1.00")]
    assert _fresh(session, order.id).financial_status == "partially_refunded"


def test_a_refund_in_the_channels_admin_is_read_back_and_never_pushed(world, session):
    state, channels, admin = world
    sim = sim_order(state, "woocommerce")
    import_order(session, channels["woocommerce"], sim)
    state.update_orders("woocommerce", ids=[sim.external_id], action="refund")
    order = import_order(session, channels["woocommerce"], sim)
    refunds = session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert [(r.source, r.status) for r in refunds] == [("channel", "succeeded")]
    assert messages(session, "channel.refund") == []


def test_voiding_a_pushed_label(world, session):
    state, channels, admin = world
    sim = sim_order(state, "shopify")
    order = import_order(session, channels["shopify"], sim)
    shipment = ship(session, order.id, admin)
    deliver()
    fulfilments.tracking_changed(session, shipment.id, admin)  # unchanged: nothing queued
    shipment.tracking_number = "1ZNEWNUMBER"
    fulfilments.tracking_changed(session, shipment.id, admin)
    session.commit()
    deliver()
    assert sim.fulfillments[0]["number"] == "1ZNEWNUMBER" and sim.fulfillments[0]["tracking_updates"] == 1
    fulfilments.void_pushed(session, shipment.id, admin)
    session.commit()
    deliver()
    assert sim.fulfillments[0]["status"] == "cancelled"
    assert session.scalar(select(ChannelPush.status).where(ChannelPush.shipment_id == shipment.id)) == "cancelled"
    amazon = sim_order(state, "amazon")
    amazon_order = import_order(session, channels["amazon"], amazon)
    amazon_shipment = ship(session, amazon_order.id, admin)
    deliver()
    with pytest.raises(Conflict, match="cannot undo"):
        fulfilments.void_pushed(session, amazon_shipment.id, admin)


def split_stock(make, sim):
    """A preferred warehouse holding only the first line's SKU: the order ships in two parts."""
    from app.models import Product, Warehouse

    first = make.warehouse("AAA", "US", priority=1)
    product = make.session.scalar(select(Product).where(func.upper(Product.sku) == sim.lines[0].sku.upper()))
    from app.services.inventory import stock as inventory

    inventory.receive(make.session, first.id, product.id, 100, make.actor, reference="split")
    main = make.session.scalar(select(Warehouse).where(Warehouse.code == "EWR"))
    inventory.adjust(make.session, main.id, product.id, -100000, "all of it moved to AAA", make.actor)
    make.session.commit()
    return first


@pytest.mark.parametrize("kind", KINDS)
def test_a_partial_shipment_pushes_only_its_lines(kind, world, session, make):
    state, channels, admin = world
    sim = sim_order(state, kind, min_lines=2)
    near = split_stock(make, sim)
    order = import_order(session, channels[kind], sim)
    ship(session, order.id, admin, warehouse_id=near.id)
    assert _fresh(session, order.id).status == "partially_shipped"
    deliver()
    if kind == "woocommerce":
        assert len(sim.notes) == 1 and "the rest follows" in sim.notes[0]["note"]
        assert sim.status_override is None  # not completed: more is to come
    else:
        assert [li.shipped for li in sim.lines] == [sim.lines[0].quantity] + [0] * (len(sim.lines) - 1)
        assert connector_view(channels[kind], sim).channel_fulfillment == "partial"


def connector_view(channel, sim):
    from jobs.pull_orders import connector_for

    return connector_for(channel).fetch_order(sim.external_id)


def test_the_order_page_shows_what_the_channel_knows(world, session, client_for):
    from tests.views.conftest import post

    state, channels, admin = world
    sim = sim_order(state, "shopify")
    order = import_order(session, channels["shopify"], sim)
    state.set_faults("shopify", {"script": ["500"] * 40})  # the channel is down
    ship(session, order.id, admin)

    deliver(replace(POLICY, max_attempts=2))
    client = client_for("admin")
    page = client.get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "not synced to channel" in page and "channel.fulfillment" in page and "500" in page.split("oms-channel-sync")[1][:3000]
    message = messages(session)[0]
    assert message.status == "dead" and f"/outbox/{message.id}/retry" in page
    support_page = client_for("support").get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "not synced to channel" in support_page and f"/outbox/{message.id}/retry" not in support_page
    state.set_faults("shopify", {})
    response = post(client, f"/outbox/{message.id}/retry", {"next": f"/orders/show/{order.id}"})
    assert response.status_code == 302
    deliver()
    page = client.get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "in sync" in page and "not synced to channel" not in page
    assert "Fulfilment of shipment" in page and "1Z999AA10123456784" in page
    assert len(sim.fulfillments) == 1  # the retry found nothing made before and made it once
    response = post(client, f"/orders/{order.id}/refund",
                    {f"refund_{order.lines[0].id}": "1", "reason": "scratched"})
    assert response.status_code == 302
    page = client.get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "Refund" in page and "sent to the channel" in page and "not synced to channel" in page


def test_refund_changes_reach_outbound_webhooks(world, session, app):
    from app.models import OutboxMessage
    from app.services.notify import webhooks

    state, channels, admin = world
    app.config["OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"] = True
    try:
        webhooks.create(session, "http://127.0.0.1:9/hook", ["refund.changed"], admin)
    finally:
        app.config["OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"] = False
    session.commit()
    sim = sim_order(state, "woocommerce")
    order = import_order(session, channels["woocommerce"], sim)
    refund = returns.refund(session, order.id, "1.00", "goodwill", admin)
    deliver()
    events = [m.payload["event"] for m in session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == "webhook.deliver").order_by(OutboxMessage.id))]
    assert [(e["type"], e["data"]["status"]) for e in events] == [("refund.changed", "pending"),
                                                                   ("refund.changed", "succeeded")]
    assert events[1]["data"]["id"] == refund.id and events[1]["data"]["external_id"]
