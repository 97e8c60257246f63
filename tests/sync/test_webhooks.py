"""Webhooks in: a verified delivery is imported like a poll; a bad or missing signature
is refused with nothing stored; a replay creates no duplicate; garbage is quarantined."""
import json

import pytest
from sqlalchemy import func, select

from app.models import Order, SyncConflict
from app.webhooks import signature_of
from tests.connectors.helpers import fixture as load


def deliver(client, kind, channel, body: bytes, secret: str | None, topic: str):
    headers = {"Content-Type": "application/json"}
    if kind == "shopify":
        headers["X-Shopify-Topic"] = topic
        if secret:
            headers["X-Shopify-Hmac-Sha256"] = signature_of(secret, body)
    else:
        headers["X-WC-Webhook-Topic"] = topic
        if secret:
            headers["X-WC-Webhook-Signature"] = signature_of(secret, body)
    return client.post(f"/webhooks/{kind}/{channel.code}", data=body, headers=headers)


CASES = [
    ("shopify", "shopify/order.json", "orders/create", "450789469"),
    ("woocommerce", "woocommerce/v3_order_retrieve.json", "order.created", "727"),
]


@pytest.mark.parametrize("kind,fixture,topic,external_id", CASES)
def test_verified_webhook_imports_once(app, session, sandbox_channels, kind, fixture, topic,
                                       external_id):
    client = app.test_client()
    channel = sandbox_channels[kind]
    body = json.dumps(load(fixture)).encode()
    first = deliver(client, kind, channel, body, f"secret-{kind}", topic)
    assert first.status_code == 200 and first.json["code"] == "created"
    replay = deliver(client, kind, channel, body, f"secret-{kind}", topic)
    assert replay.status_code == 200 and replay.json["code"] == "unchanged"
    orders = session.scalars(select(Order).where(Order.channel_id == channel.id)).all()
    assert [o.external_id for o in orders] == [external_id]


@pytest.mark.parametrize("kind,fixture,topic,external_id", CASES)
def test_bad_or_missing_signature_is_refused_and_nothing_stored(app, session, sandbox_channels,
                                                                 kind, fixture, topic, external_id):
    client = app.test_client()
    channel = sandbox_channels[kind]
    body = json.dumps(load(fixture)).encode()
    assert deliver(client, kind, channel, body, None, topic).status_code == 401
    assert deliver(client, kind, channel, body, "not-the-secret", topic).status_code == 401
    tampered = body.replace(b'"', b"'", 1)
    headers_ok = deliver(client, kind, channel, body, f"secret-{kind}", "ping-topic")
    assert headers_ok.status_code == 200 and headers_ok.json["code"] == "ignored"
    response = client.post(f"/webhooks/{kind}/{channel.code}", data=tampered, headers={
        "X-Shopify-Hmac-Sha256" if kind == "shopify" else "X-WC-Webhook-Signature":
            signature_of(f"secret-{kind}", body), "X-Shopify-Topic": topic,
        "X-WC-Webhook-Topic": topic})
    assert response.status_code == 401
    assert client.post(f"/webhooks/{kind}/no-such-channel", data=body).status_code == 401
    assert session.scalar(select(func.count(Order.id))) == 0
    assert session.scalar(select(func.count(SyncConflict.id))) == 0


def test_signed_garbage_is_quarantined(app, session, sandbox_channels):
    client = app.test_client()
    channel = sandbox_channels["shopify"]
    unreadable = deliver(client, "shopify", channel, b"{not json", "secret-shopify", "orders/updated")
    assert unreadable.status_code == 422 and unreadable.json["code"] == "invalid_payload"
    body = json.dumps({"order": {"id": 5, "total_price": "N/A"}}).encode()
    response = deliver(client, "shopify", channel, body, "secret-shopify", "orders/updated")
    assert response.status_code == 200 and response.json["code"] == "quarantined"
    conflicts = session.scalars(select(SyncConflict).order_by(SyncConflict.id)).all()
    assert [c.kind for c in conflicts] == ["invalid_payload", "invalid_payload"]
    assert "not JSON" in conflicts[0].error and conflicts[0].raw_payload["body"] == "{not json"
    assert session.scalar(select(func.count(Order.id))) == 0


def test_webhook_update_cancels_the_order(app, session, sandbox_channels):
    client = app.test_client()
    channel = sandbox_channels["woocommerce"]
    raw = load("woocommerce/v3_order_retrieve.json")
    raw["status"] = "processing"
    deliver(client, "woocommerce", channel, json.dumps(raw).encode(), "secret-woocommerce",
            "order.created")
    raw["status"] = "cancelled"
    raw["date_modified_gmt"] = "2030-01-01T00:00:00"
    response = deliver(client, "woocommerce", channel, json.dumps(raw).encode(),
                       "secret-woocommerce", "order.updated")
    assert response.json["code"] == "updated"
    order = session.scalars(select(Order)).one()
    assert order.status == "cancelled"
