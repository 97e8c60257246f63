"""Customer mails without SMTP (both databases): domain events queue ``notify.customer``
messages in their transaction, the send pass renders them into the mail log as the customer
would see them, the channel's switches and the opt-out hold, templates are checked at save,
and a fixed template applies to mails still queued. SMTP itself: test_customer_mail_smtp.py."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, OrderEvent
from app.models.notifications import OutboxMessage
from app.services.core import outbox_sender
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.fulfilment import shipments
from app.services.notify import customer_mail, mail_templates
from app.services.orders import actions as orders

ADMIN = Actor(label="user:admin")


def send(workers: int = 2):
    policy = outbox_sender.Policy(time_scale=0.001, workers=workers)
    return outbox_sender.send_pass(db.engine, policy=policy, rng=random.Random(1))


def ship(session, order_id, **kwargs):
    from app.services.lifecycle import pipeline  # noqa: F401 — allocation ran at import

    shipments.start_picking(session, order_id, ADMIN)
    shipments.mark_packed(session, order_id, ADMIN)
    return shipments.ship(session, order_id, ADMIN, carrier="dhl", tracking_number="JD0001",
                          **kwargs)


@pytest.fixture
def shop(make):
    wh = make.warehouse("WH1")
    make.product("SKU-1", stock={wh: 5})
    make.product("SKU-2", stock={wh: 5})
    return make.channel("shop")


def mails(session):
    session.rollback()  # a fresh snapshot: the sender wrote in its own transactions
    return session.scalars(select(Notification).order_by(Notification.id)).all()


def test_shipped_mail_is_kept_in_the_mail_log_and_on_the_timeline(session, make, shop):
    order = make.order(shop, [("SKU-1", 1, "9.99"), ("SKU-2", 2, "5.00")])
    shipment = ship(session, order.id)
    queued = session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == customer_mail.TOPIC)).all()
    assert [m.payload for m in queued] == [
        {"event": "shipped", "order_id": order.id, "shipment_id": shipment.id}]
    assert send().sent >= 1
    (mail,) = mails(session)
    assert (mail.status, mail.event, mail.to_address, mail.language) == (
        "logged", "shipped", "buyer@example.com", "en")
    assert mail.subject == f"Your order {order.order_number} has shipped"
    assert "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD0001" in mail.text_body
    assert '<a href="https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD0001">' \
        in mail.html_body
    assert "2 × Item SKU-2" in mail.text_body and "/mail/unsubscribe/" in mail.text_body
    assert mail.message_id.startswith("<waybill.")
    timeline = session.scalars(select(OrderEvent.message).where(
        OrderEvent.order_id == order.id, OrderEvent.type == "outbox_sent")).all()
    assert any("notify.customer sent to mail:buyer@example.com" in m for m in timeline)


def test_amazon_mails_nobody_and_channel_switches_hold(session, make, shop):
    amazon = make.channel("amz", kind="amazon")
    order = make.order(amazon, [("SKU-1", 1, "9.99")])
    ship(session, order.id)
    assert not session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == customer_mail.TOPIC)).all()
    manual = make.channel("phone", kind="manual")
    confirmed = make.order(manual, [("SKU-1", 1, "9.99")])
    customer_mail.save_channel_settings(session, manual.id, {"events": ["shipped"]}, ADMIN)
    make.order(manual, [("SKU-1", 1, "9.99")])
    events = [m.payload["event"] for m in session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == customer_mail.TOPIC))]
    assert events == ["order_confirmed"]  # the first order only: then switched off
    assert confirmed.id


def test_german_order_escaping_money_and_a_template_fixed_while_queued(session, make, shop):
    order = make.order(shop, [("SKU-1", 1, "1234.5")], currency="EUR",
                       name="<b>Jürgen</b>")
    order.raw_payload = {**(order.raw_payload or {}), "customer_locale": "de-DE"}
    session.commit()
    orders.cancel_order(session, order.id, "out of stock", ADMIN)
    with pytest.raises(ValidationFailed) as error:
        mail_templates.save(session, "cancelled", "de", {
            "subject": "{{ order.number", "html": "x", "text": "x"}, ADMIN)
    assert "template" in error.value.errors
    with pytest.raises(ValidationFailed):  # an unknown name fails at save, not at send
        mail_templates.save(session, "cancelled", "de", {
            "subject": "{{ order.nummer }}", "html": "x", "text": "x"}, ADMIN)
    mail_templates.save(session, "cancelled", "de", {
        "subject": "Storniert: {{ order.number }}",
        "html": "<p>{{ customer_name }}: {{ money(order.total) }}</p>",
        "text": "{{ customer_name }}: {{ money(order.total) }} am {{ date(order.placed_at) }}"},
        ADMIN)
    send()
    (mail,) = mails(session)
    assert mail.language == "de" and mail.subject == f"Storniert: {order.order_number}"
    assert "&lt;b&gt;Jürgen&lt;/b&gt;: 1.234,50\xa0€" in mail.html_body
    assert "<b>Jürgen</b>: 1.234,50\xa0€ am 1. November 2026" in mail.text_body


def test_opted_out_customers_get_no_delayed_mail_but_still_transactional_ones(
        session, make, shop):
    from datetime import timedelta

    from app.models.base import clock_at, utcnow

    order = make.order(shop, [("SKU-1", 1, "9.99")])
    token = customer_mail.optout_token(shop.id, "Buyer@Example.com")
    customer_mail.opt_out(session, token)
    with clock_at(utcnow() + timedelta(days=400)):
        assert customer_mail.queue_delayed(session) == 0
    other = make.order(shop, [("SKU-2", 1, "9.99")], email="other@example.com")
    with clock_at(utcnow() + timedelta(days=400)):
        assert customer_mail.queue_delayed(session) == 1
        assert customer_mail.queue_delayed(session) == 0  # once per order
    orders.cancel_order(session, order.id, "customer asked", ADMIN)
    events = sorted((m.order_id, m.payload["event"]) for m in session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == customer_mail.TOPIC)))
    assert events == sorted([(other.id, "delayed"), (order.id, "cancelled")])
    with pytest.raises(ValidationFailed):
        customer_mail.opt_out(session, token + "x")


def test_resend_goes_to_another_address_with_a_new_message_id(session, make, shop):
    order = make.order(shop, [("SKU-1", 1, "9.99")])
    ship(session, order.id)
    send()
    (first,) = mails(session)
    customer_mail.resend(session, order.id, ADMIN, notification_id=first.id,
                         to="support-copy@example.com")
    with pytest.raises(ValidationFailed):
        customer_mail.resend(session, order.id, ADMIN, event="nope")
    send()
    first, second = mails(session)
    assert second.to_address == "support-copy@example.com" and second.event == "shipped"
    assert second.message_id != first.message_id and second.subject == first.subject


def test_many_mails_queued_on_one_connection(session, make, shop):
    """PostgreSQL prepares a statement on its 6th run: the dedupe insert must still find
    its partial index (it did not while the predicate was a bound parameter)."""
    order = make.order(shop, [("SKU-1", 1, "9.99")])
    ids = {customer_mail.queue(session, order.id, "delivered", shipment_id=n) for n in range(12)}
    ids.add(customer_mail.queue(session, order.id, "delivered", shipment_id=3))  # the same
    session.commit()
    assert len(ids) == 12


def test_a_channel_s_own_template_wins_for_its_orders_and_falls_back_when_dropped(
        session, make, shop):
    other = make.channel("market")
    mine = make.order(shop, [("SKU-1", 1, "9.99")], email="mine@example.com")
    theirs = make.order(other, [("SKU-2", 1, "9.99")], email="theirs@example.com")
    general = {"subject": "Shipped {{ order.number }}", "html": "<p>x</p>", "text": "x"}
    own = {"subject": "{{ sender_name }} shipped {{ order.number }}", "html": "<p>y</p>",
           "text": "y"}
    mail_templates.save(session, "shipped", "en", general, ADMIN)
    mail_templates.save(session, "shipped", "en", own, ADMIN, channel_id=shop.id)
    mail_templates.save(session, "shipped", "en", {**own, "text": "y2"}, ADMIN,
                        channel_id=shop.id)  # saved again: the same row, changed
    with pytest.raises(ValidationFailed) as error:
        mail_templates.save(session, "shipped", "en", own, ADMIN, channel_id=99999)
    assert "channel_id" in error.value.errors
    assert mail_templates.source(session, "shipped", "en", shop.id)[0]["text"] == "y2"
    assert mail_templates.source(session, "shipped", "en", other.id)[0]["text"] == "x"
    ship(session, mine.id)
    ship(session, theirs.id)
    send()
    by_to = {m.to_address: m for m in mails(session)}
    assert by_to["mine@example.com"].subject == f"{shop.name} shipped {mine.order_number}"
    assert by_to["theirs@example.com"].subject == f"Shipped {theirs.order_number}"
    mail_templates.reset(session, "shipped", "en", ADMIN, channel_id=shop.id)
    assert mail_templates.source(session, "shipped", "en", shop.id)[0] == general
    mail_templates.reset(session, "shipped", "en", ADMIN)
    assert mail_templates.source(session, "shipped", "en", shop.id)[0] == \
        mail_templates.DEFAULTS[("shipped", "en")]
