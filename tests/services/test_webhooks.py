"""Outbound webhooks (app/services/notify/webhooks.py) over real HTTP to a receiver on
127.0.0.1 that checks each delivery the way a seller's receiver would (README's recipe):
signature and timestamp, the same id on every retry, order per subscription, 410 disables,
a dead delivery pauses and resume sends what was held, rotation, SSRF refusals before
anything is sent, redirects not followed, response bodies capped."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Alert, AuditLog, WebhookDelivery, WebhookSubscription
from app.models.base import clock_at, utcnow
from app.models.notifications import OutboxMessage
from app.services.core import outbox_sender
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.orders import actions as orders
from app.services.notify import webhooks
from connectors import outbound

ADMIN = Actor(label="user:admin")
EVENTS = ["order.hold_placed", "order.hold_released", "order.cancelled"]


def verify(secret: str, headers, raw: bytes, tolerance: int = 300) -> bool:
    """README's recipe: recompute the HMAC of "<timestamp>.<raw body>", compare in
    constant time with any sha256= value of the header, refuse an old timestamp."""
    timestamp = headers.get("X-Waybill-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw,
                        hashlib.sha256).hexdigest()
    given = [part.strip().removeprefix("sha256=")
             for part in headers.get("X-Waybill-Signature", "").split(",")]
    return any(hmac.compare_digest(expected, value) for value in given)


class Receiver:
    """A seller's endpoint: records every request (headers, raw body); answers from a
    script of status codes (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[int | tuple] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "raw": raw, "body": json.loads(raw)})
                answer = outer.script.pop(0) if outer.script else 200
                status, body, extra = (answer, b"ok", {}) if isinstance(answer, int) else answer
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self, path="/hook"):
        return [r["body"] for r in self.requests if r["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    server = Receiver()
    app.config["OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"] = True
    app.config["OMS_WEBHOOK_TIMEOUT"] = 2
    yield server
    app.config.pop("OMS_WEBHOOKS_ALLOW_LOCAL_HTTP", None)
    app.config.pop("OMS_WEBHOOK_TIMEOUT", None)
    server.stop()


def send(max_attempts=10, later=timedelta(0)):
    policy = outbox_sender.Policy(max_attempts=max_attempts, time_scale=0.001)
    with clock_at(utcnow() + later):
        return outbox_sender.send_pass(db.engine, policy=policy, rng=random.Random(1))


@pytest.fixture
def order(make):
    wh = make.warehouse("WH1")
    make.product("SKU-1", stock={wh: 5})
    return make.order(make.channel("shop"), [("SKU-1", 1, "9.99")])


def subscribe(session, url, events=EVENTS):
    subscription, secret = webhooks.create(session, url, events, ADMIN)
    return subscription.id, secret


def hold_and_release(session, order_id):
    orders.place_hold(session, order_id, "manual", "check the address", ADMIN)
    orders.release_hold(session, order_id, ADMIN)


def test_a_delivery_is_signed_and_carries_the_object_as_the_api_shows_it(
        session, receiver, order):
    pk, secret = subscribe(session, receiver.url)
    orders.place_hold(session, order.id, "manual", "check", ADMIN)
    assert send().sent == 1
    (request,) = receiver.requests
    assert verify(secret, request["headers"], request["raw"])
    assert not verify("whsec_other", request["headers"], request["raw"])
    body = request["body"]
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == request["headers"]["X-Waybill-Event"] == "order.hold_placed"
    assert body["data"]["id"] == order.id and body["data"]["order_number"] == order.order_number
    assert body["data"]["holds"][0]["reason"] == "manual"
    # Only the types subscribed: a note or an event type not chosen sends nothing.
    orders.add_note(session, order.id, "hello", ADMIN)
    assert send().claimed == 0
    (log,) = webhooks.deliveries(session, pk)
    assert (log.outcome, log.status_code, log.attempt, log.event_id) == ("ok", 200, 1, body["id"])
    assert log.response_excerpt == "ok" and log.duration_ms is not None
    # A tampered body or an old timestamp does not verify.
    assert not verify(secret, request["headers"], request["raw"].replace(b"manual", b"other"))
    old = {**request["headers"], "X-Waybill-Timestamp": str(int(time.time()) - 3600)}
    assert not verify(secret, old, request["raw"])


def test_retries_keep_the_id_and_a_subscription_gets_its_events_in_order(
        session, receiver, order):
    subscribe(session, receiver.url)
    other = Receiver()
    try:
        subscribe(session, other.url)
        hold_and_release(session, order.id)
        orders.cancel_order(session, order.id, "customer asked", ADMIN)
        receiver.script = [500]  # the first event fails once at the first receiver
        send()
        # The failed one holds back the rest of its subscription, not the other's.
        assert [b["type"] for b in receiver.bodies()] == ["order.hold_placed"]
        assert [b["type"] for b in other.bodies()] == EVENTS
        send(later=timedelta(hours=1))
        types = [b["type"] for b in receiver.bodies()]
        assert types == ["order.hold_placed"] + EVENTS
        first, again = receiver.bodies()[:2]
        assert first["id"] == again["id"] and first == again
        assert len({b["id"] for b in receiver.bodies()}) == 3
    finally:
        other.stop()


def test_410_gone_disables_the_subscription(session, receiver, order):
    pk, _ = subscribe(session, receiver.url)
    receiver.script = [410]
    orders.place_hold(session, order.id, "manual", None, ADMIN)
    send()
    session.rollback()
    subscription = session.get(WebhookSubscription, pk)
    assert subscription.status == "disabled" and "410" in subscription.status_reason
    orders.release_hold(session, order.id, ADMIN)
    assert send().claimed == 0  # nothing more is queued for it
    assert len(receiver.requests) == 1


def test_a_dead_delivery_pauses_with_an_alert_and_resume_sends_what_was_held(
        session, receiver, order):
    pk, secret = subscribe(session, receiver.url)
    receiver.script = [503]
    orders.place_hold(session, order.id, "manual", None, ADMIN)
    send(max_attempts=1)
    session.rollback()
    subscription = session.get(WebhookSubscription, pk)
    assert subscription.status == "paused" and "503" in subscription.status_reason
    assert subscription.consecutive_failures == 1
    (alert,) = session.scalars(select(Alert)).all()
    assert alert.type == "outbox_dead" and "webhook.deliver" in alert.key
    orders.release_hold(session, order.id, ADMIN)  # while paused: held, not sent
    send(later=timedelta(hours=2))
    assert len(receiver.requests) == 1
    assert webhooks.held_count(session, pk) == 2
    webhooks.resume(session, pk, ADMIN)
    send()
    types = [b["type"] for b in receiver.bodies()]
    assert types == ["order.hold_placed", "order.hold_placed", "order.hold_released"]
    assert receiver.bodies()[0]["id"] == receiver.bodies()[1]["id"]
    assert all(verify(secret, r["headers"], r["raw"]) for r in receiver.requests)
    logs = webhooks.deliveries(session, pk)
    assert [(d.outcome, d.status_code) for d in reversed(logs)] == [
        ("failed", 503), ("ok", 200), ("ok", 200)]
    assert session.scalar(select(AuditLog).where(AuditLog.action == "resume")) is not None


def test_rotation_signs_with_both_secrets_for_the_grace_period(session, receiver, order):
    pk, old_secret = subscribe(session, receiver.url)
    _, new_secret = webhooks.rotate(session, pk, ADMIN, timedelta(hours=1))
    assert new_secret != old_secret
    stored = session.get(WebhookSubscription, pk)
    assert new_secret not in stored.secret_encrypted and old_secret not in (
        stored.previous_secret_encrypted or "")
    orders.place_hold(session, order.id, "manual", None, ADMIN)
    send()
    request = receiver.requests[-1]
    assert verify(old_secret, request["headers"], request["raw"])
    assert verify(new_secret, request["headers"], request["raw"])
    orders.release_hold(session, order.id, ADMIN)
    send(later=timedelta(hours=2))  # the grace period is over: the old secret no longer signs
    request = receiver.requests[-1]
    assert verify(new_secret, request["headers"], request["raw"])
    assert not verify(old_secret, request["headers"], request["raw"])


REFUSED = ["https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data",
           "https://localhost/hook", "https://127.0.0.1/hook", "https://[::1]/hook",
           "https://192.168.1.20/hook", "ftp://example.com/hook", "https://user:pw@example.com/"]


def test_urls_into_private_networks_are_refused_when_saved(session, receiver):
    for url in REFUSED:  # receiver: local http is allowed, and still these are refused
        with pytest.raises(ValidationFailed) as refused:
            webhooks.create(session, url, EVENTS, ADMIN)
        assert "url" in refused.value.errors, url
    assert session.scalar(select(WebhookSubscription)) is None


def test_local_http_needs_the_development_setting(app, session):
    with pytest.raises(ValidationFailed):
        webhooks.check_url("http://127.0.0.1:9/hook")
    app.config["OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"] = True
    try:
        assert webhooks.check_url("http://127.0.0.1:9/hook")
        with pytest.raises(ValidationFailed):  # a name for it is still refused
            webhooks.check_url("http://localhost:9/hook")
    finally:
        app.config.pop("OMS_WEBHOOKS_ALLOW_LOCAL_HTTP", None)


def test_the_send_connects_to_the_checked_address_not_a_new_dns_answer(receiver):
    """What check_url approved is where the bytes go: a host name that no DNS answers
    (.invalid) still reaches the pinned address, with its own Host header."""
    port = receiver.url.split(":")[2].split("/")[0]
    answer = outbound.post_pinned(f"http://pinned.invalid:{port}/hook", "127.0.0.1",
                                  body=b"{}", headers={}, timeout=(1, 2))
    assert (answer.status_code, answer.excerpt) == (200, "ok")
    assert receiver.requests[0]["headers"]["Host"] == f"pinned.invalid:{port}"


def test_the_url_is_checked_again_at_send(app, session, receiver, order):
    pk, _ = subscribe(session, receiver.url)
    orders.place_hold(session, order.id, "manual", None, ADMIN)
    app.config["OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"] = False  # production mode now
    send()
    assert receiver.requests == []  # nothing was sent there
    (log,) = webhooks.deliveries(session, pk)
    assert log.outcome == "failed" and "refused before sending" in log.error
    session.rollback()
    assert session.get(WebhookSubscription, pk).status == "paused"


def test_redirects_are_not_followed_and_bodies_are_capped(session, receiver, order):
    pk, _ = subscribe(session, receiver.url)
    receiver.script = [(200, b"x" * 5000, {}),
                       (302, b"", {"Location": receiver.url.replace("/hook", "/elsewhere")})]
    hold_and_release(session, order.id)
    send()
    assert receiver.bodies("/elsewhere") == []
    logs = list(reversed(webhooks.deliveries(session, pk)))
    assert len(logs[0].response_excerpt) == webhooks.EXCERPT_BYTES
    assert logs[1].status_code == 302 and "redirects are not followed" in logs[1].error


def test_send_test_event_and_redeliver_keep_the_subscription_order(session, receiver):
    pk, secret = subscribe(session, receiver.url)
    webhooks.send_test(session, pk, ADMIN)
    send()
    (first,) = receiver.requests
    assert first["body"]["type"] == "webhook.test" and verify(secret, first["headers"], first["raw"])
    (log,) = webhooks.deliveries(session, pk)
    webhooks.redeliver(session, pk, log.id, ADMIN)
    send()
    assert receiver.bodies()[1] == first["body"]  # the same event, the same id
    assert session.scalar(select(WebhookDelivery.id).order_by(WebhookDelivery.id.desc())) > log.id


def test_the_secret_is_never_stored_or_audited_in_clear(session, receiver):
    pk, secret = subscribe(session, receiver.url)
    webhooks.rotate(session, pk, ADMIN)
    for row in session.scalars(select(AuditLog)).all():
        assert secret not in json.dumps(row.changes, default=str)
    assert secret not in session.get(WebhookSubscription, pk).secret_encrypted


def test_paused_by_hand_holds_and_resume_sends_at_once(session, receiver, order):
    pk, _ = subscribe(session, receiver.url)
    webhooks.pause(session, pk, ADMIN)
    hold_and_release(session, order.id)
    send()
    assert receiver.requests == [] and webhooks.held_count(session, pk) == 2
    webhooks.resume(session, pk, ADMIN)
    send()  # not an hour later: resume made them due now
    assert [b["type"] for b in receiver.bodies()] == EVENTS[:2]


def test_deleting_a_subscription_discards_its_queue(session, receiver, order):
    pk, _ = subscribe(session, receiver.url)
    orders.place_hold(session, order.id, "manual", None, ADMIN)
    webhooks.delete(session, pk, ADMIN)
    assert send().claimed == 0
    assert session.scalar(select(OutboxMessage.status)) == "discarded"


def test_a_return_sends_return_changed_with_the_return_as_the_api_shows_it(
        session, receiver, order):
    from app.services.fulfilment import shipments
    from app.services.returns import actions as returns

    subscribe(session, receiver.url, ["return.changed"])
    shipments.start_picking(session, order.id, ADMIN)
    shipments.mark_packed(session, order.id, ADMIN)
    shipments.ship(session, order.id, ADMIN, carrier="UPS", tracking_number="1Z999")
    line = order.lines[0]
    ret = returns.create_return(session, order.id, {line.id: 1}, "damaged", ADMIN)
    returns.receive_return(session, ret.id, ADMIN)
    send()  # (the shipment's own messages — a customer mail, a channel push — go too)
    assert len(receiver.requests) == 2
    opened, received = (request["body"] for request in receiver.requests)
    assert [opened["type"], received["type"]] == ["return.changed", "return.changed"]
    assert opened["data"]["rma_number"] == received["data"]["rma_number"] == ret.rma_number
    assert (opened["data"]["status"], received["data"]["status"]) == ("requested", "received")
