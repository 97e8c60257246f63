"""Channels & Sync → Outbox: the list with its filters per role, the message page, retry
and discard (one and in bulk) through their forms with CSRF, recorded with who did it; the
order's timeline shows a message sent or dead for it. And /api/v1/outbox/ with its filters,
retry, discard and bulk."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, OrderEvent
from app.models.notifications import OutboxMessage
from app.services.core import outbox, outbox_sender
from app.services.core.outbox import PermanentError, Sent
from app.services.core.transaction import unit_of_work
from tests.views.conftest import post

POLICY = outbox_sender.Policy(max_attempts=2)


@pytest.fixture
def messages(shop, session):
    """Three messages of the shop's order: one sent, one dead (a 422), one pending of a
    topic nobody handles yet; and one of another target."""
    def handler(message):
        if message.payload["kind"] == "bad":
            raise PermanentError("HTTP 422: the channel refused the fulfilment")
        return Sent(remote_id="F-1")

    outbox.register("test.ui", handler)
    with unit_of_work(session):
        ids = {
            "sent": outbox.enqueue(session, "test.ui", "shop", {"kind": "good"},
                                   order_id=shop.order.id),
            "dead": outbox.enqueue(session, "test.ui", "shop", {"kind": "bad"},
                                   order_id=shop.order.id),
            "waiting": outbox.enqueue(session, "channel.tracking", "shop", {"n": 1},
                                      order_id=shop.order.id),
            "other": outbox.enqueue(session, "notify.customer", "mailbox", {"n": 2}),
        }
    outbox_sender.send_pass(db.engine, policy=POLICY, rng=random.Random(1))
    yield ids
    outbox.unregister("test.ui")


def status_of(pk):
    db.session.expire_all()
    return db.session.get(OutboxMessage, pk).status


@pytest.mark.parametrize("role,allowed,acts", [
    ("admin", True, True), ("operations", True, True), ("support", True, False),
    ("viewer", True, False), ("warehouse", False, False)])
def test_the_list_per_role(client_for, messages, role, allowed, acts):
    client = client_for(role)
    response = client.get("/outbox/list/")
    if not allowed:
        assert response.status_code in (302, 403)
        return
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HTTP 422: the channel refused the fulfilment" in html
    assert "test.ui" in html and "mailbox" in html
    assert ('name="ids"' in html) is acts and ("With the selected" in html) is acts


def test_filters(client_for, messages, shop):
    client = client_for("viewer")
    html = client.get("/outbox/list/?status=dead").get_data(as_text=True)
    assert f'/outbox/show/{messages["dead"]}"' in html
    assert f'/outbox/show/{messages["sent"]}"' not in html
    html = client.get("/outbox/list/?target=mailbox").get_data(as_text=True)
    assert f'/outbox/show/{messages["other"]}"' in html and "1</strong> message" in html
    html = client.get("/outbox/list/", query_string={"order": shop.order.order_number}
                      ).get_data(as_text=True)
    assert "3</strong> messages" in html
    html = client.get("/outbox/list/?topic=channel.tracking").get_data(as_text=True)
    assert f'/outbox/show/{messages["waiting"]}"' in html and "1</strong> message" in html
    assert "0</strong> messages" in client.get("/outbox/list/?age=1d").get_data(as_text=True)
    page = client.get(f'/outbox/show/{messages["dead"]}').get_data(as_text=True)
    assert "HTTP 422" in page and "Retry" not in page  # a viewer reads, cannot act


def test_retry_and_discard_through_the_forms(client_for, messages, shop, session):
    client = client_for("operations")
    response = post(client, f'/outbox/{messages["dead"]}/retry', {"note": "fixed the SKU"})
    assert response.status_code == 302
    assert status_of(messages["dead"]) == "pending"
    response = post(client, f'/outbox/{messages["waiting"]}/discard', {"note": "not needed"})
    assert status_of(messages["waiting"]) == "discarded"
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "outbox")
                            .order_by(AuditLog.id)).all()
    assert [(a.action, a.actor, a.changes["note"]) for a in audit] == [
        ("retry", "user:operations", "fixed the SKU"), ("discard", "user:operations", "not needed")]
    # A sent message cannot be retried: flashed, nothing changes.
    html = client.get(post(client, f'/outbox/{messages["sent"]}/retry', {})
                      .headers["Location"]).get_data(as_text=True)
    assert "only pending, dead or uncertain" in html
    assert status_of(messages["sent"]) == "sent"


def test_forms_need_csrf_and_the_right_role(client_for, messages):
    operations = client_for("operations")
    response = operations.post(f'/outbox/{messages["dead"]}/retry',
                               data={"csrf_token": "forged"})
    assert response.status_code == 400 and status_of(messages["dead"]) == "dead"
    support = client_for("support")
    response = post(support, f'/outbox/{messages["dead"]}/discard', {})
    assert response.status_code in (302, 403) and status_of(messages["dead"]) == "dead"


def test_bulk_with_its_summary(client_for, messages):
    client = client_for("admin")
    response = post(client, "/outbox/bulk", {"action": "discard", "ids": [
        messages["dead"], messages["waiting"], messages["sent"]], "note": "cleanup"})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Discard: 2 of 3 done" in html and "Discard: 1 of 3 not done" in html
    assert status_of(messages["dead"]) == status_of(messages["waiting"]) == "discarded"


def test_the_orders_timeline_shows_messages_sent_and_dead(client_for, messages, shop, session):
    types = session.scalars(select(OrderEvent.type).where(
        OrderEvent.order_id == shop.order.id, OrderEvent.type.like("outbox_%"))).all()
    assert sorted(types) == ["outbox_dead", "outbox_sent"]
    html = client_for("support").get(f"/orders/show/{shop.order.id}").get_data(as_text=True)
    assert "test.ui sent to shop (remote id F-1)" in html
    assert "failed for good" in html


def test_the_api(app, api_headers, messages):
    client = app.test_client()
    viewer, ops = api_headers("viewer"), api_headers("operations")
    q = "(filters:!((col:status,opr:eq,value:dead)))"
    listed = client.get(f"/api/v1/outbox/?q={q}", headers=viewer).get_json()
    assert [r["id"] for r in listed["result"]] == [messages["dead"]]
    assert "HTTP 422" in listed["result"][0]["last_error"]
    assert client.post(f'/api/v1/outbox/{messages["dead"]}/retry', json={},
                       headers=viewer).status_code == 403
    answer = client.post(f'/api/v1/outbox/{messages["dead"]}/retry', json={"note": "again"},
                         headers=ops)
    assert answer.status_code == 200 and answer.get_json()["result"]["status"] == "pending"
    again = client.post(f'/api/v1/outbox/{messages["sent"]}/discard', json={}, headers=ops)
    assert again.status_code == 409
    bulk = client.post("/api/v1/outbox/bulk", json={"action": "discard", "ids": [
        messages["dead"], messages["sent"]]}, headers=ops).get_json()["result"]
    assert bulk["succeeded"] == [messages["dead"]] and bulk["failed"][0]["id"] == messages["sent"]
    assert client.post("/api/v1/outbox/bulk", json={"action": "explode", "ids": [1]},
                       headers=ops).status_code == 422
