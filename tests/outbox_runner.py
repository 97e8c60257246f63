"""A send_outbox runner as a process of its own (the outbox's SIGKILL and two-runner
tests): the app from the environment (OMS_DATABASE_URL, ...), the test
topics registered, then passes of the real job until no message of a registered topic is
pending or sending (or ``--seconds`` passed). Prints its totals as one JSON line.

    python -m tests.outbox_runner [--seconds 60] [--once]
"""
from __future__ import annotations

import argparse
import json
import time

from sqlalchemy import func, select


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()

    from app import create_app
    from app.extensions import db
    from app.models.notifications import OutboxMessage
    from app.services.core import outbox
    from jobs import send_outbox
    from jobs.scheduler import run_job
    from tests.outbox_support import register_test_topics

    app = create_app()
    register_test_topics()
    totals = {"passes": 0, "claimed": 0, "sent": 0, "retried": 0, "dead": 0, "recovered": 0}
    deadline = time.monotonic() + args.seconds
    with app.app_context():
        while time.monotonic() < deadline:
            summary = run_job(app, send_outbox.NAME, send_outbox.run,
                              exclusive=send_outbox.exclusive)
            if summary is not None:
                totals["passes"] += 1
                for key in ("claimed", "sent", "retried", "dead", "recovered"):
                    totals[key] += getattr(summary, key)
            if args.once:
                break
            open_count = db.session.scalar(select(func.count(OutboxMessage.id)).where(
                OutboxMessage.topic.in_(outbox.registered_topics()),
                OutboxMessage.status.in_(("pending", "sending"))))
            db.session.remove()
            if not open_count:
                break
            if summary is None or not summary.claimed:
                time.sleep(0.005)  # waiting for a scaled backoff to pass: poll, briefly
    print(json.dumps(totals), flush=True)


if __name__ == "__main__":
    main()
