"""/api/v1/webhook_subscription/ and the Webhooks pages: Admin only; the secret is in the
answer that creates (or rotates) it and nowhere after; URLs checked; the delivery log and
its actions. Deliveries themselves: tests/services/test_webhooks.py."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.services.core import outbox_sender
from app.services.core.actor import Actor
from app.services.orders import actions as orders
from tests.services.test_webhooks import Receiver, verify
from tests.views.conftest import post

URL = "/api/v1/webhook_subscription/"
EVENTS = ["order.hold_placed"]


@pytest.fixture
def local_http(app):
    app.config["OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"] = True
    yield
    app.config.pop("OMS_WEBHOOKS_ALLOW_LOCAL_HTTP", None)


@pytest.mark.parametrize("role", ["support", "warehouse", "operations", "viewer"])
def test_only_admins_reach_subscriptions(api, role, local_http):
    assert api.get(URL, as_=role).status_code == 403
    assert api.post(URL, {"url": "http://127.0.0.1:9/x", "events": EVENTS},
                    as_=role).status_code == 403


def test_create_shows_the_secret_once_and_refuses_bad_input(api, local_http):
    created = api.post(URL, {"url": "http://127.0.0.1:9/x", "events": EVENTS})
    assert created.status_code == 201, created.json
    secret, pk = created.json["result"]["secret"], created.json["id"]
    assert secret.startswith("whsec_") and len(secret) > 30
    listed = api.get(URL)
    shown = api.get(f"{URL}{pk}")
    assert secret not in listed.get_data(as_text=True) + shown.get_data(as_text=True)
    assert "secret" not in shown.json["result"] and shown.json["result"]["status"] == "active"
    bad = api.post(URL, {"url": "https://169.254.169.254/latest", "events": EVENTS})
    assert bad.status_code == 422 and "url" in bad.json["errors"]
    bad = api.post(URL, {"url": "http://127.0.0.1:9/x", "events": ["order.nope"]})
    assert bad.status_code == 422 and "events" in bad.json["errors"]
    rotated = api.post(f"{URL}{pk}/rotate", {"grace_hours": 1})
    assert rotated.status_code == 200 and rotated.json["result"]["secret"] != secret
    assert api.open("DELETE", f"{URL}{pk}").status_code == 200
    assert api.get(f"{URL}{pk}").status_code == 404


def test_a_delivery_seen_through_the_api_and_the_page(app, api, client_for, make, local_http):
    receiver = Receiver()
    try:
        created = api.post(URL, {"url": receiver.url, "events": EVENTS})
        pk, secret = created.json["id"], created.json["result"]["secret"]
        wh = make.warehouse("WH1")
        make.product("SKU-1", stock={wh: 5})
        order = make.order(make.channel("shop"), [("SKU-1", 1, "9.99")])
        orders.place_hold(db.session, order.id, "manual", None, Actor(label="user:admin"))
        assert api.post(f"{URL}{pk}/test", {}).status_code == 202
        outbox_sender.send_pass(db.engine, policy=outbox_sender.Policy(time_scale=0.001))
        hold, test = receiver.requests
        assert verify(secret, hold["headers"], hold["raw"])
        # data is the order as GET /api/v1/order/<id> shows it (at the time of the event)
        shown = api.get(f"/api/v1/order/{order.id}").json["result"]
        assert hold["body"]["data"] == shown
        assert test["body"]["type"] == "webhook.test"
        log = api.get(f"{URL}{pk}/deliveries").json["result"]
        assert [d["event_type"] for d in log] == ["webhook.test", "order.hold_placed"]
        assert api.post(f"{URL}{pk}/deliveries/{log[1]['id']}/redeliver", {}).status_code == 202
        page = client_for("admin").get(f"/webhook-subscriptions/{pk}/").get_data(as_text=True)
        assert "order.hold_placed" in page and log[1]["event_id"] in page and secret not in page
        assert client_for("operations").get(f"/webhook-subscriptions/{pk}/").status_code in (302, 403)
    finally:
        receiver.stop()


def test_the_page_adds_a_subscription_and_shows_its_secret_once(client_for, local_http):
    admin = client_for("admin")
    answer = post(admin, "/webhook-subscriptions/create", {"url": "http://127.0.0.1:9/x",
                                              "events": ["order.cancelled"]})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "whsec_" in text
    assert "whsec_" not in admin.get("/webhook-subscriptions/list/").get_data(as_text=True)
    refused = post(admin, "/webhook-subscriptions/create", {"url": "https://10.0.0.1/x",
                                               "events": ["order.cancelled"]},
                   follow_redirects=True)
    assert "private" in refused.get_data(as_text=True)
