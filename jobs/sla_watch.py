"""sla_watch: flag orders near or past their ship-by (app/services/fulfilment/sla.py)."""
from __future__ import annotations

from app.extensions import db
from app.services.fulfilment import sla

NAME = "sla_watch"
INTERVAL_SECONDS = 300


def run() -> dict[str, int]:
    return sla.watch(db.session)
