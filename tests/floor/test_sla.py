"""SLA clocks: business-day ship-by with a cut-off in the warehouse's zone, skipping holidays;
the watch flags at-risk and late orders once (event, alert), the tile counts them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.models import Alert, Order, OrderEvent
from app.services.fulfilment import sla
from app.services.orders import ship_by


def test_business_ship_by_skips_weekends_holidays_and_the_cutoff():
    friday_morning = datetime(2026, 12, 4, 14, 0, tzinfo=timezone.utc)  # 09:00 in New York
    # before the 14:00 cut-off: Friday is day 0, one business day on is Monday
    assert ship_by.business_ship_by(friday_morning, 1, 14, "America/New_York") == \
        datetime(2026, 12, 7, 19, 0, tzinfo=timezone.utc)
    friday_evening = datetime(2026, 12, 4, 21, 0, tzinfo=timezone.utc)  # 16:00 local: after the cut-off
    assert ship_by.business_ship_by(friday_evening, 0, 14, "America/New_York") == \
        datetime(2026, 12, 7, 19, 0, tzinfo=timezone.utc)
    assert ship_by.business_ship_by(friday_evening, 0, 14, "America/New_York", ["2026-12-07"]) == \
        datetime(2026, 12, 8, 19, 0, tzinfo=timezone.utc)


def test_watch_flags_at_risk_and_late_once(floor, session):
    now = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    soon, late, later = floor.order([("MUG", 1)]), floor.order([("TEE", 1)]), floor.order([("CAP", 1)])
    for order, ship_by in ((soon, now + timedelta(hours=3)), (late, now - timedelta(hours=1)),
                           (later, now + timedelta(days=5))):
        session.get(Order, order.id).ship_by = ship_by
    session.commit()
    assert sla.watch(session, now) == {"at_risk": 1, "late": 1, "cleared": 0}
    assert sla.watch(session, now) == {"at_risk": 0, "late": 0, "cleared": 0}
    session.expire_all()
    assert session.get(Order, soon.id).sla_state == "at_risk" and session.get(Order, late.id).sla_state == "late"
    assert session.get(Order, later.id).sla_state is None
    assert session.scalar(select(OrderEvent.message).where(OrderEvent.order_id == late.id,
                                                           OrderEvent.type == "sla_late")).endswith("late")
    assert {a.data["order_id"] for a in session.scalars(select(Alert).where(Alert.type == "sla_at_risk"))} == \
        {soon.id, late.id}
    assert sla.watch(session, now + timedelta(hours=4))["late"] == 1  # at risk, then late
    assert sla.tile(session, now) == {"at_risk": 0, "late": 2, "shipped_late_today": 0}


def test_sla_watch_command(app, floor, session):
    order = floor.order([("MUG", 1)])
    session.get(Order, order.id).ship_by = datetime(2020, 1, 1, tzinfo=timezone.utc)
    session.commit()
    result = app.test_cli_runner().invoke(args=["oms", "sla-watch"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "0 at risk, 1 late, 0 cleared"


def test_import_keeps_the_channel_promise_else_counts_business_days(floor, session, actor):
    from app.models import Warehouse
    from app.services.core import settings

    warehouse = session.get(Warehouse, floor.warehouse.id)
    warehouse.timezone, warehouse.holidays = "America/New_York", ["2026-11-09"]
    session.commit()
    settings.set_value(session, "sla_cutoff_hour", 12, actor("admin"))
    promised = datetime(2026, 11, 20, 23, 0, tzinfo=timezone.utc)
    kept = floor.order([("MUG", 1)], ship_by=promised)
    # Friday 2026-11-06 15:00 New York: after the cut-off; Monday is a holiday; 2 business days on
    counted = floor.order([("TEE", 1)], placed_at=datetime(2026, 11, 6, 20, 0, tzinfo=timezone.utc))
    assert session.get(Order, kept.id).ship_by == promised
    assert session.get(Order, counted.id).ship_by == datetime(2026, 11, 12, 17, 0, tzinfo=timezone.utc)
