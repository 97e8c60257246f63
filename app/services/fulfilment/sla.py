"""SLA clocks (the ship-by itself is set at import: orders/ship_by.py): the ``sla_watch`` job
that flags orders within ``sla_warning_hours`` of ship-by (``at_risk``) and past it (``late``):
a flag on the order, an event on its timeline, and ``order.sla_changed`` (notify raises the
``sla_at_risk`` alert). On-time is recorded at ship confirm (shipments.confirm)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from app.models import Order
from app.models.base import utcnow
from app.services.core import domain_events, events, settings
from app.services.core.actor import Actor
from app.services.core.transaction import transactional

OPEN_STATUSES = ("new", "allocated", "partially_allocated", "backordered", "picking", "packed")
WATCH_BATCH = 500


# --- the watch -----------------------------------------------------------------------------------

@transactional
def watch(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Flag orders newly at risk or late (each once per state); clear the flag of those that
    left the watch (shipped, cancelled)."""
    now = now or utcnow()
    warning = timedelta(hours=settings.get(session, "sla_warning_hours"))
    cleared = session.execute(update(Order).where(Order.sla_state.is_not(None), Order.status.not_in(OPEN_STATUSES))
                              .values(sla_state=None).execution_options(synchronize_session=False)).rowcount
    counts = {"at_risk": 0, "late": 0, "cleared": cleared}
    due = session.scalars(select(Order).where(
        Order.status.in_(OPEN_STATUSES), Order.fulfilled_by_channel.is_(False), Order.ship_by.is_not(None),
        Order.ship_by <= now + warning,
        or_(Order.sla_state.is_(None), and_(Order.sla_state == "at_risk", Order.ship_by < now)))
        .order_by(Order.ship_by).limit(WATCH_BATCH).with_for_update(skip_locked=True))
    actor = Actor.job("sla_watch")
    for order in due:
        state = "late" if order.ship_by < now else "at_risk"
        order.sla_state = state
        counts[state] += 1
        when = f"{order.ship_by:%Y-%m-%d %H:%M} UTC"
        events.order_event(session, order, actor, f"sla_{state}",
                           f"Ship-by {when} passed: late" if state == "late" else f"Ship-by {when} is near: at risk",
                           {"ship_by": order.ship_by.isoformat(), "state": state})
        domain_events.publish(session, "order.sla_changed", {"order_id": order.id, "order_number": order.order_number,
                                                             "state": state, "ship_by": order.ship_by.isoformat(),
                                                             "actor": actor})
    return counts


def tile(session: Session, now: datetime | None = None) -> dict[str, int]:
    """The dashboard's at-risk tile: at risk, late, shipped late today (UTC day)."""
    now = now or utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counts = dict(session.execute(select(Order.sla_state, func.count()).where(
        Order.sla_state.is_not(None), Order.status.in_(OPEN_STATUSES)).group_by(Order.sla_state)).all())
    from app.models import Shipment

    late_today = session.scalar(select(func.count(func.distinct(Shipment.order_id))).join(Order).where(
        Shipment.shipped_at >= start, Order.shipped_on_time.is_(False))) or 0
    return {"at_risk": counts.get("at_risk", 0), "late": counts.get("late", 0), "shipped_late_today": late_today}
