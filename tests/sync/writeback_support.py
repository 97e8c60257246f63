"""Helpers of the write-back tests: sandbox orders imported into Waybill through the
channel's own API, shipped through the services, and the outbox delivered until idle."""
from __future__ import annotations

import random
import time

from sqlalchemy import func, select

from app.extensions import db
from app.models import Order, OutboxMessage
from app.services.channels import importing
from app.services.core import outbox_sender, settings
from app.services.core.actor import Actor
from app.services.fulfilment import shipments
from jobs.pull_orders import connector_for

SHOP = {"shopify": "demo", "woocommerce": "demo", "amazon": "na"}
POLICY = outbox_sender.Policy(max_attempts=10, backoff_base=1, backoff_cap=5, time_scale=0.001, workers=4)


def sim_order(state, kind: str, *, min_lines: int = 1):
    """A paid, unshipped, merchant-fulfilled sandbox order with an address."""
    for _ in range(300):
        order = state.create_orders(kind, 1, SHOP[kind])[0]
        if order.payment == "paid" and not order.fulfilled and not order.cancelled and not order.fba \
                and order.address and len(order.lines) >= min_lines and not order.refunds:
            return order
    raise AssertionError("no suitable sandbox order")


RISK_CHECKS = ("risk_check_amount", "risk_check_country_mismatch", "risk_check_velocity",
               "risk_check_channel_signals", "risk_check_exchange_rate")


def quiet_risk_checks(session, actor) -> None:
    """Sandbox buyers pay in many currencies from many countries: no review holds here."""
    for key in RISK_CHECKS:
        settings.set_value(session, key, False, actor)
    session.commit()


def import_order(session, channel, sim) -> Order:
    normalized = connector_for(channel).fetch_order(sim.external_id)
    result = importing.import_order(session, channel, normalized, Actor.channel(channel.code))
    session.commit()
    return session.get(Order, result.order.id)


def ship(session, order_id: int, actor, *, warehouse_id=None, tracking="1Z999AA10123456784", carrier="ups"):
    shipments.start_picking(session, order_id, actor)
    shipments.mark_packed(session, order_id, actor)
    return shipments.ship(session, order_id, actor, carrier=carrier, tracking_number=tracking,
                          warehouse_id=warehouse_id)


def deliver(policy=POLICY, seconds: float = 20.0) -> int:
    """Send passes until no write-back message is pending or sending; returns the passes."""
    deadline, passes = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        outbox_sender.send_pass(db.engine, policy=policy, rng=random.Random(passes))
        passes += 1
        db.session.rollback()
        left = db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.topic.like("channel.%"), OutboxMessage.status.in_(("pending", "sending"))))
        if not left:
            return passes
        time.sleep(0.005)
    raise AssertionError("the outbox did not drain")


def messages(session, topic_prefix: str = "channel.") -> list[OutboxMessage]:
    session.rollback()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic.like(f"{topic_prefix}%"))
                                .order_by(OutboxMessage.id)))
