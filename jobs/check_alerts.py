"""check_alerts: raise and resolve the alerts jobs watch (channel sync failing or lagging,
dead outbox messages gone), app/services/notify/alerts.py; and queue the "delayed" mail of
orders whose ship-by passed (app/services/notify/customer_mail.py)."""
from __future__ import annotations

from app.extensions import db
from app.services.notify import alerts, customer_mail


def run() -> dict[str, int]:
    opened = alerts.check(db.session)
    customer_mail.queue_delayed(db.session)
    return opened
