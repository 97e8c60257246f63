"""check_alerts: raise and resolve the alerts jobs watch (channel sync failing or lagging,
dead outbox messages gone); app/services/notify/alerts.py."""
from __future__ import annotations

from app.extensions import db
from app.services.notify import alerts


def run() -> dict[str, int]:
    return alerts.check(db.session)
