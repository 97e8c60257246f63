"""send_outbox: deliver the outbox messages that are due (app/services/core/outbox_sender.py).

PostgreSQL: runners claim with FOR UPDATE SKIP LOCKED, so several may run at once (two
scheduler processes, a `flask oms send-outbox` beside the scheduler) and none takes the
job lock. SQLite has no row locks: a pass runs under the job's lease, one at a time.
"""
from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.services.core import outbox_sender

NAME = "send_outbox"


def exclusive(engine) -> bool:
    """Whether a pass must hold the job lock (SQLite's lease)."""
    return engine.dialect.name != "postgresql"


def run() -> outbox_sender.PassSummary:
    policy = outbox_sender.Policy.from_config(current_app.config)
    return outbox_sender.send_pass(db.engine, policy=policy)
