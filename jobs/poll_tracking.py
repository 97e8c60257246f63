"""poll_tracking: one tracking pass over the open shipments (app/services/fulfilment/tracking.py)."""
from __future__ import annotations

from app.extensions import db
from app.services.fulfilment import tracking

NAME = "poll_tracking"
INTERVAL_SECONDS = 300


def run(carrier: str | None = None) -> tracking.PollSummary:
    return tracking.poll(db.session, carrier=carrier)
