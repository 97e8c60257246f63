"""Internal alerts by e-mail (app/services/notify/alert_mail.py), through the outbox into
the mail log (no SMTP here; the SMTP path is customer mail's): recipients by role and
address, one mail per alert per quiet period however often it is raised, a daily digest."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models.base import clock_at, utcnow
from app.models.notifications import OutboxMessage
from app.services.core.errors import ValidationFailed
from app.services.core.transaction import unit_of_work
from app.services.notify import alert_mail, alerts
from tests.services.test_customer_mail import ADMIN, mails, send


def raise_dead(session):
    with unit_of_work(session):
        alerts.raise_alert(session, "outbox_dead", "channel.fulfillment → shop",
                           "Fulfilments to shop failed for good")


def test_an_alert_mails_its_recipients_once_per_quiet_period_and_a_daily_digest(session):
    with pytest.raises(ValidationFailed):
        alert_mail.save_recipients(session, "outbox_dead", ["Nobody"], [], ADMIN)
    alert_mail.save_recipients(session, "outbox_dead", ["Operations"],
                               ["OnCall@example.com"], ADMIN)
    for _ in range(3):
        raise_dead(session)
    with clock_at(utcnow() + timedelta(minutes=30)):
        raise_dead(session)
    topics = session.scalars(select(OutboxMessage.topic).where(
        OutboxMessage.topic == alert_mail.TOPIC)).all()
    assert len(topics) == 1  # four sightings, one mail
    send()
    with clock_at(utcnow() + timedelta(minutes=61)):
        raise_dead(session)
        alert_mail.queue_digest(session)
        alert_mail.queue_digest(session)  # once a day
        send()
    sent = mails(session)
    # the second pass sends the alert and the digest at once: in either order
    assert sent[0].event == "alert"
    assert sorted(m.event for m in sent[1:]) == ["alert", "alert_digest"]
    assert sent[0].to_address == "oncall@example.com, operations@example.com"
    assert "Fulfilments to shop failed for good" in sent[0].text_body
    again, digest = sorted(sent[1:], key=lambda m: m.event)
    assert "seen 5 times" in again.text_body
    assert digest.subject.startswith("[Waybill] 1 open alerts on ")
