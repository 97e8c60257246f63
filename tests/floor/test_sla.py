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


def test_a_channel_promises_its_own_ship_by_per_shipping_method(floor, session, actor):
    """The channel's days for the order's shipping method (any case), else its own days, and
    its cut-off, over the shop's settings; the channel's promise in the order still wins; the
    bulk import path counts the same way."""
    from app.models import Channel, Warehouse
    from app.services.channels import config as channels
    from app.services.channels import sync
    from app.services.core.actor import Actor
    from app.services.orders.ship_by import Calendar
    from connectors.base import OrderPage
    from tests.factories import normalized_order

    warehouse = session.get(Warehouse, floor.warehouse.id)
    warehouse.timezone = "America/New_York"
    session.commit()
    channels.save_channel(session, {"ship_by_days": 5, "sla_cutoff_hour": 16,
                                    "ship_by_methods": {" Express ": 0, "Two-Day": 1}},
                          actor("admin"), floor.channel.id)
    # Monday 2026-11-02 15:00 New York: before the channel's cut-off (16), after the shop's (14)
    monday = datetime(2026, 11, 2, 20, 0, tzinfo=timezone.utc)
    express = floor.order([("MUG", 1)], placed_at=monday, shipping_method="EXPRESS")
    two_day = floor.order([("TEE", 1)], placed_at=monday, shipping_method="two-day")
    other = floor.order([("CAP", 1)], placed_at=monday, shipping_method="Ground")
    promised = datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc)
    kept = floor.order([("CAP", 1)], placed_at=monday, shipping_method="Express", ship_by=promised)
    at = lambda day: datetime(2026, 11, day, 21, 0, tzinfo=timezone.utc)  # 16:00 New York (EST)
    assert session.get(Order, express.id).ship_by == at(2)   # the same day: before the cut-off
    assert session.get(Order, two_day.id).ship_by == at(3)
    assert session.get(Order, other.id).ship_by == at(9)     # 5 business days: the weekend skipped
    assert session.get(Order, kept.id).ship_by == promised
    # a page of new orders takes the bulk path: the same rules
    page = [normalized_order([("MUG", 1, "10.00")], placed_at=monday, shipping_method=method)
            for method in ("express", "Ground")]
    sync.import_page(session, session.get(Channel, floor.channel.id), OrderPage(orders=page, next_page=None),
                     Actor.channel("shop"), sync.PullStats())
    bulk = {o.shipping_method: o.ship_by for o in session.scalars(
        select(Order).where(Order.external_id.in_([str(n.external_id) for n in page])))}
    assert bulk == {"express": at(2), "Ground": at(9)}
    channel = session.get(Channel, floor.channel.id)
    assert channel.ship_by_methods == {"Express": 0, "Two-Day": 1}  # names kept, trimmed
    # the shop's settings for a channel without its own, and for no channel
    calendar = Calendar(session)
    assert calendar.rules(None, "Express") == (2, 14)
    channels.save_channel(session, {"ship_by_days": None, "sla_cutoff_hour": None, "ship_by_methods": None},
                          actor("admin"), floor.channel.id)
    assert calendar.rules(session.get(Channel, floor.channel.id), "Express") == (2, 14)


def test_a_channel_s_ship_by_rules_are_checked(floor, session, actor):
    import pytest

    from app.services.channels import config as channels
    from app.services.core.errors import ValidationFailed

    for values, field in (({"ship_by_days": 91}, "ship_by_days"), ({"sla_cutoff_hour": 24}, "sla_cutoff_hour"),
                          ({"ship_by_methods": {"Express": -1}}, "ship_by_methods"),
                          ({"ship_by_methods": {"  ": 1}}, "ship_by_methods"),
                          ({"ship_by_methods": ["Express"]}, "ship_by_methods")):
        with pytest.raises(ValidationFailed) as err:
            channels.save_channel(session, values, actor("admin"), floor.channel.id)
        assert field in err.value.errors, values
        session.rollback()
