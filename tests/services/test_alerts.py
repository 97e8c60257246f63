"""Internal alerts (app/services/notify/): raised by a dead outbox message and by the
check_alerts job (channel sync failing N runs, lagging M minutes), one open alert per
(type, key) with a counter, resolved when the cause is gone, acknowledged with who; told to
a Slack-compatible webhook on 127.0.0.1 through the outbox, with a quiet period, its URL
encrypted and never shown."""
from __future__ import annotations

import json
import random
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Alert, AlertChannel, AuditLog, SyncRun
from app.models.base import clock_at, utcnow
from app.models.notifications import OutboxMessage
from app.services.core import outbox, outbox_sender
from app.services.core.actor import Actor
from app.services.core.outbox import PermanentError
from app.services.core.transaction import unit_of_work
from app.services.notify import alert_channels, alerts
from tests.views.conftest import post

POLICY = outbox_sender.Policy(max_attempts=1)
ADMIN = Actor(label="user:admin")


class Slack:
    """A Slack-compatible incoming webhook: records each JSON body, answers "ok"."""

    def __init__(self):
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.bodies.append(json.loads(raw))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secret-token"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack(app):
    server = Slack()
    app.config["OMS_WEBHOOKS_ALLOW_LOCAL_HTTP"] = True
    yield server
    app.config.pop("OMS_WEBHOOKS_ALLOW_LOCAL_HTTP", None)
    server.stop()


@pytest.fixture
def dying_topic():
    def handler(message):
        raise PermanentError("HTTP 404: no such order on the channel")

    outbox.register("test.dies", handler)
    yield "test.dies"
    outbox.unregister("test.dies")


def send(at=None):
    with clock_at(at or utcnow()):
        return outbox_sender.send_pass(db.engine, policy=POLICY, rng=random.Random(1))


def open_alerts(session):
    session.rollback()
    return session.scalars(select(Alert).where(Alert.resolved_at.is_(None))).all()


def test_dead_messages_raise_one_alert_that_counts_and_resolves(session, dying_topic):
    with unit_of_work(session):
        for n in range(2):
            outbox.enqueue(session, dying_topic, "shop", {"n": n})
    send()
    (alert,) = open_alerts(session)
    assert (alert.type, alert.key, alert.count) == ("outbox_dead", "test.dies → shop", 2)
    assert "HTTP 404" in alert.message and alert.first_seen_at <= alert.last_seen_at
    alerts.check(session)
    assert len(open_alerts(session)) == 1  # still dead ones
    for message in session.scalars(select(OutboxMessage)).all():
        outbox.discard(session, message.id, ADMIN, "order deleted on the channel")
    alerts.check(session)
    assert open_alerts(session) == []
    # It happens again: a new alert (the old one stays resolved).
    with unit_of_work(session):
        outbox.enqueue(session, dying_topic, "shop", {"n": 9})
    send()
    assert len(open_alerts(session)) == 1
    assert session.scalar(select(Alert).where(Alert.resolved_at.is_not(None))).count == 2


def run(session, channel, status, minutes_ago):
    """A finished sync run (a record of a pull; the pulls themselves are tested in sync/)."""
    at = utcnow() - timedelta(minutes=minutes_ago)
    session.add(SyncRun(channel_id=channel.id, job="pull_orders", status=status, started_at=at,
                        finished_at=at + timedelta(seconds=5)))
    session.commit()


def test_channel_sync_failing_and_lagging(session, make):
    channel = make.channel("shop")
    run(session, channel, "succeeded", 10)
    for minutes in (3, 2, 1):
        run(session, channel, "failed", minutes)
    counts = alerts.check(session)
    assert counts == {"channel_sync_failing": 1}
    alerts.check(session)
    (failing,) = open_alerts(session)
    assert failing.count == 2 and failing.key == "shop"
    run(session, channel, "succeeded", 0)
    assert alerts.check(session) == {}
    with clock_at(utcnow() + timedelta(minutes=61)):
        assert alerts.check(session) == {"channel_sync_lagging": 1}
    assert "no successful sync for 60 minutes" in open_alerts(session)[0].message


def test_alerts_go_to_slack_through_the_outbox_with_a_quiet_period(session, slack, dying_topic):
    channel = alert_channels.save(session, {"name": "ops-room", "quiet_minutes": 30}, ADMIN,
                                  url=slack.url)
    assert "secret-token" not in channel.url_encrypted
    with unit_of_work(session):
        outbox.enqueue(session, dying_topic, "shop", {"n": 1})
    send()  # the message dies -> alert -> a notify.alert message
    send()  # which is delivered
    assert len(slack.bodies) == 1
    assert "outbox dead" in slack.bodies[0]["text"] and "HTTP 404" in slack.bodies[0]["text"]
    # Seen again within the quiet period: counted, not told again.
    with unit_of_work(session):
        outbox.enqueue(session, dying_topic, "shop", {"n": 2})
    send()
    send()
    assert len(slack.bodies) == 1 and open_alerts(session)[0].count == 2
    later = utcnow() + timedelta(minutes=31)
    with unit_of_work(session):
        outbox.enqueue(session, dying_topic, "shop", {"n": 3})
    send(later)
    send(later)
    assert len(slack.bodies) == 2 and "(seen 3×)" in slack.bodies[1]["text"]
    sent = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify.alert")).all()
    assert [m.status for m in sent] == ["sent", "sent"]
    changes = session.scalar(select(AuditLog).where(AuditLog.entity == "alert_channel")).changes
    assert "secret-token" not in json.dumps(changes)


def test_a_webhook_url_must_be_https(session):
    from app.services.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        alert_channels.save(session, {"name": "x"}, ADMIN, url="http://hooks.example.com/x")


def test_the_pages(client_for, session, slack, make):
    channel = make.channel("shop")
    for minutes in (3, 2, 1):
        run(session, channel, "failed", minutes)
    alerts.check(session)
    alert = open_alerts(session)[0]
    assert "failed" in client_for("warehouse").get("/alerts/list/").get_data(as_text=True)
    dashboard = client_for("viewer").get("/dashboard/").get_data(as_text=True)
    assert "Open alerts" in dashboard, dashboard[dashboard.find("col-md-3"):][:1500]
    assert "sync failing: shop" in dashboard.lower(), dashboard[dashboard.find("Open alerts"):][:800]
    support = client_for("support")
    assert "/acknowledge" not in support.get("/alerts/list/").get_data(as_text=True)
    assert post(support, f"/alerts/{alert.id}/acknowledge").status_code in (302, 403)
    operations = client_for("operations")
    assert post(operations, f"/alerts/{alert.id}/acknowledge").status_code == 302
    session.expire_all()
    assert session.get(Alert, alert.id).acknowledged_by == "user:operations"
    # Alert channels: Admin only; the URL is never shown back.
    assert operations.get("/alert-channels/list/").status_code in (302, 403)
    admin = client_for("admin")
    response = post(admin, "/alert-channels/save", {"name": "room", "url": slack.url,
                                                    "quiet_minutes": "15", "enabled": "1"})
    assert response.status_code == 302
    page = admin.get("/alert-channels/list/").get_data(as_text=True)
    assert "room" in page and "secret-token" not in page and "stored" in page
    assert session.scalar(select(AlertChannel)).quiet_minutes == 15
