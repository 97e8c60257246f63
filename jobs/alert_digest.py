"""alert_digest: once a day, one mail of every open alert to the alert mail recipients
(app/services/notify/alert_mail.py; the outbox sends it, keyed by the date: once a day)."""
from __future__ import annotations

from app.extensions import db
from app.services.notify import alert_mail

NAME = "alert_digest"


def run() -> int | None:
    return alert_mail.queue_digest(db.session)
