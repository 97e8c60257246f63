from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import AuditLog, OrderEvent, StockLevel
from app.services.core import fx
from app.services.orders import actions as orders
from app.services.core import settings
from app.services.core.errors import InvalidTransition, StaleVersion, ValidationFailed


@pytest.fixture
def shop(make):
    wh = make.warehouse("W1", "US")
    make.product("A-1", stock={wh: 10})
    make.product("B-2", stock={wh: 1})
    return make.channel()


def events_of(session, order):
    return [e.type for e in session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))]


def test_transition_table_refuses_invalid_moves(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")])
    assert order.status == "allocated"
    with pytest.raises(InvalidTransition) as err:
        orders.transition(session, order, "delivered", actor())
    assert err.value.status == 409 and "allocated" in err.value.message
    assert orders.TRANSITIONS["cancelled"] == frozenset()


def test_hold_keeps_reservations_and_release_continues_pipeline(session, make, shop, actor):
    order = make.order(shop, [("B-2", 2, "5")])  # only 1 in stock
    assert order.status == "partially_allocated"
    orders.place_hold(session, order.id, "manual", "customer call", actor("support"))
    assert order.is_held and order.lines[0].quantity_allocated == 1
    orders.release_hold(session, order.id, actor("support"), reason="manual", note="ok")
    assert not order.is_held
    assert events_of(session, order)[-2:] == ["hold_placed", "hold_released"]
    event = session.scalars(select(OrderEvent).where(OrderEvent.type == "hold_placed")).one()
    assert event.actor == "user:support" and event.user_id is not None


def test_released_last_hold_allocates(session, make, shop, actor):
    order = make.order(shop, [("A-1", 2, "5")], financial_status="pending")
    assert order.status == "new" and [h.reason for h in order.open_holds] == ["payment"]
    orders.release_hold(session, order.id, actor("support"))
    assert order.status == "allocated"


def test_cancel_releases_reservations(session, make, shop, actor):
    order = make.order(shop, [("A-1", 3, "5")])
    level = session.scalar(select(StockLevel).where(StockLevel.product_id == order.lines[0].product_id))
    assert level.reserved == 3
    orders.cancel_order(session, order.id, "changed mind", actor("support"))
    session.refresh(level)
    assert level.reserved == 0 and order.status == "cancelled"
    assert order.lines[0].quantity_cancelled == 3
    assert "cancelled" in events_of(session, order)
    assert not order.synced_to_channel  # until channel push exists


def test_cancel_needs_a_reason_and_refuses_twice(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")])
    with pytest.raises(ValidationFailed) as err:
        orders.cancel_order(session, order.id, "  ", actor())
    assert "reason" in err.value.errors
    orders.cancel_order(session, order.id, "fraud", actor())
    with pytest.raises(InvalidTransition):
        orders.cancel_order(session, order.id, "again", actor())


def test_address_edit_checks_version_and_records_local_edit(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")])
    version = order.version
    new = {"name": "Ada", "line1": "9 New Rd", "city": "Boston", "country": "us"}
    orders.edit_address(session, order.id, "shipping", new, version, actor("support"))
    assert order.shipping_address["country"] == "US"
    assert "shipping_address" in order.local_edits
    with pytest.raises(StaleVersion) as err:
        orders.edit_address(session, order.id, "shipping", {**new, "city": "Salem"}, version,
                            actor("support"))
    assert err.value.status == 409
    session.refresh(order)
    assert order.shipping_address["city"] == "Boston"


def test_address_edit_validates_fields(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")])
    with pytest.raises(ValidationFailed) as err:
        orders.edit_address(session, order.id, "shipping",
                            {"line1": "x" * 300, "city": "", "country": "USA", "planet": "Mars"},
                            order.version, actor())
    assert set(err.value.errors) == {"shipping_address.line1", "shipping_address.city",
                                     "shipping_address.country", "shipping_address.planet"}


def test_country_change_reroutes(session, make, actor):
    us = make.warehouse("US1", "US", ships_to=["US"])
    de = make.warehouse("DE1", "DE", ships_to=["DE"])
    make.product("A-1", stock={us: 5, de: 5})
    shop = make.channel()
    order = make.order(shop, [("A-1", 2, "5")], country="US")
    assert order.allocations[0].warehouse_id == us.id
    orders.edit_address(session, order.id, "shipping",
                        {"line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"},
                        order.version, actor("support"))
    session.refresh(order)
    open_allocs = [a for a in order.allocations if a.status == "open"]
    assert [a.warehouse_id for a in open_allocs] == [de.id]
    assert order.status == "allocated"


def test_unknown_sku_holds_and_records_conflict(session, make, shop):
    from app.models import SyncConflict

    order = make.order(shop, [("NOPE-1", 1, "5")])
    assert [h.reason for h in order.open_holds] == ["unknown_sku"]
    conflict = session.scalars(select(SyncConflict)).one()
    assert conflict.kind == "unknown_sku" and conflict.sku == "NOPE-1"


def test_settings_typed_defaults_and_audit(session, actor):
    assert settings.get(session, "risk_review_threshold") == Decimal("5000")
    settings.set_value(session, "risk_review_threshold", "7500.50", actor())
    assert settings.get(session, "risk_review_threshold") == Decimal("7500.50")
    with pytest.raises(ValidationFailed):
        settings.set_value(session, "allow_split", "maybe", actor())
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "setting")).one()
    assert audit.changes["risk_review_threshold"] == {"old": "5000", "new": "7500.50"}


def test_total_base_uses_rates_and_never_guesses(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "100")], currency="EUR")
    assert order.total_base is None  # no rate: no 1:1 guess
    fx.set_rate(session, "EUR", "1.10", actor())
    order2 = make.order(shop, [("A-1", 1, "100")], currency="EUR")
    assert order2.total_base == Decimal("110.00")
    with pytest.raises(ValidationFailed):
        fx.set_rate(session, "EUR", "-1", actor())


def test_cross_channel_duplicate_gets_a_duplicate_hold(session, make, shop):
    from datetime import datetime, timedelta, timezone

    from app.models import SyncConflict

    other = make.channel("woo", "woocommerce")
    at = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    first = make.order(shop, [("A-1", 1, "5"), ("B-2", 1, "5")], email="Twice@Example.com",
                       placed_at=at)
    second = make.order(other, [("b-2", 1, "5"), ("a-1", 1, "5")], email="twice@example.com",
                        placed_at=at + timedelta(minutes=4))
    later = make.order(other, [("A-1", 1, "5"), ("B-2", 1, "5")], email="twice@example.com",
                       placed_at=at + timedelta(minutes=30))
    same_channel = make.order(shop, [("A-1", 1, "5"), ("B-2", 1, "5")], email="twice@example.com",
                              placed_at=at + timedelta(minutes=15))
    assert not first.is_held and not later.is_held and not same_channel.is_held
    assert [h.reason for h in second.open_holds] == ["duplicate"]
    conflict = session.scalars(select(SyncConflict).where(SyncConflict.kind == "duplicate")).one()
    assert conflict.order_id == second.id and conflict.local_value["order_number"] == first.order_number
