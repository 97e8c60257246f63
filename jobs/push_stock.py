"""push_stock (``flask oms push-stock [--channel CODE]``): queue a stock push of every matched
listing and deliver the outbox until nothing of it is left due (or ``max_passes``)."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Channel
from app.models.notifications import OutboxMessage
from app.services.channels import stock_push
from app.services.core import outbox_sender
from app.services.core.transaction import unit_of_work


def pending(code: str | None = None) -> int:
    query = select(func.count(OutboxMessage.id)).where(OutboxMessage.topic == stock_push.TOPIC,
                                                       OutboxMessage.status == "pending")
    if code:
        query = query.where(OutboxMessage.target == code)
    return db.session.scalar(query) or 0


def run(code: str | None = None, *, max_passes: int = 100) -> tuple[int, int]:
    """(listings queued, messages still pending after the passes)."""
    session = db.session
    channel = None
    if code:
        channel = session.scalar(select(Channel).where(Channel.code == code))
        if channel is None:
            raise ValueError(f"no channel {code!r}")
    with unit_of_work(session):
        queued = stock_push.queue_all(session, channel)
    policy = outbox_sender.Policy.from_config(current_app.config)
    for _ in range(max_passes):
        summary = outbox_sender.send_pass(db.engine, policy=policy)
        db.session.remove()
        if not summary.claimed:
            break
    return queued, pending(code)
