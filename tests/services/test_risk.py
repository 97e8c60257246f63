"""Risk checks (each one, each switchable), the risk score, and review: approve continues
the pipeline, reject cancels and releases stock; bulk reports each order."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.base import NormalizedAddress

from app.models import OrderEvent, StockLevel
from app.services.core import fx
from app.services.orders import actions as orders
from app.services.lifecycle import risk
from app.services.core import settings
from app.services.core.errors import InvalidTransition, ValidationFailed


@pytest.fixture
def shop(make):
    wh = make.warehouse("W1", "US", ships_to=["US", "CA"])
    make.product("A-1", stock={wh: 100})
    return make.channel("web")


def holds(order):
    return {h.reason: h.note for h in order.open_holds}


def risk_events(session, order):
    return [e.data["check"] for e in session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.type == "risk_check")
        .order_by(OrderEvent.id))]


def test_a_clean_order_passes_and_is_allocated(session, make, shop):
    order = make.order(shop, [("A-1", 1, "5")])
    assert order.status == "allocated" and not order.holds
    assert order.risk_score == 0 and order.screened_at is not None
    assert order.ship_address_key is not None


def test_large_order_goes_to_review(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5000.01")])
    assert order.status == "new"
    assert "above the review threshold 5,000.00" in holds(order)["review"]
    assert risk_events(session, order) == ["amount"] and order.risk_score == 40
    settings.set_value(session, "risk_review_threshold", "10000", actor())
    assert make.order(shop, [("A-1", 1, "5000.01")]).status == "allocated"


def test_country_mismatch_goes_to_review(session, make, shop):
    billing = NormalizedAddress(name="Ada", line1="1 Rue", city="Paris", country="FR")
    order = make.order(shop, [("A-1", 1, "5")], billing_address=billing)
    assert holds(order) == {"review": "billing country FR differs from shipping country US"}


def test_velocity_by_email_and_by_address(session, make, shop, actor):
    settings.set_value(session, "velocity_max_orders", "2", actor())
    start = make.order(shop, [("A-1", 1, "5")], email="fast@example.com").placed_at
    make.order(shop, [("A-1", 1, "5")], email="fast@example.com",
               placed_at=start + timedelta(hours=1))
    third = make.order(shop, [("A-1", 1, "5")], email="fast@example.com",
                       placed_at=start + timedelta(hours=2))
    assert holds(third) == {"review": "3 orders from fast@example.com within 24 h (limit 2); "
                                      "3 orders to this shipping address within 24 h (limit 2)"}
    assert risk_events(session, third) == ["velocity", "velocity"] and third.risk_score == 30
    # outside the window
    later = make.order(shop, [("A-1", 1, "5")], email="fast@example.com",
                       placed_at=start + timedelta(hours=30))
    assert later.status == "allocated"
    # one address, different e-mails
    address = NormalizedAddress(name="Drop", line1="9 Forwarder Way", city="Miami",
                                postcode="33101", country="US")
    found = [make.order(shop, [("A-1", 1, "5")], email=f"p{i}@example.com",
                        shipping_address=address, placed_at=start + timedelta(minutes=i))
             for i in range(3)]
    assert [o.is_held for o in found] == [False, False, True]
    assert "to this shipping address" in holds(found[2])["review"]


def test_channel_signals(session, make, shop):
    order = make.order(shop, [("A-1", 1, "5")], risk={"test": True})
    # NormalizedOrder.risk is not stored by the importer yet: derived again from the payload
    order.risk_signals = {"cancel_reason": "fraud", "is_prime": True}
    found = risk.findings(session, order)
    assert [(f.check, f.why) for f in found] == [
        ("channel_signals", "the channel flags it: cancel reason: fraud")]
    order.risk_signals = {"is_prime": True, "is_business_order": True}
    assert risk.findings(session, order) == []


def test_channel_signals_from_a_shopify_payload(session, make, shop):
    order = make.order(shop, [("A-1", 1, "5")])
    order.risk_signals = None
    order.raw_payload = {"id": 1, "test": True, "name": "#1", "created_at": "2026-11-01T12:00:00Z",
                         "currency": "USD", "line_items": [{"id": 2, "sku": "A-1", "quantity": 1, "price": "5"}]}
    assert risk.channel_signals(order) == {"test": True}
    order.raw_payload = {"garbage": True}
    assert risk.channel_signals(order) == {}


def test_missing_or_unshippable_address_is_an_address_hold(session, make, shop):
    no_street = NormalizedAddress(name="Ada", city="Springfield", country="US")
    order = make.order(shop, [("A-1", 1, "5")], shipping_address=no_street)
    assert holds(order) == {"address": "the shipping address has no street"}
    nowhere = NormalizedAddress(name="Ada", line1="1 Strasse", city="Berlin", country="DE")
    order = make.order(shop, [("A-1", 1, "5")], shipping_address=nowhere, billing_address=nowhere)
    assert holds(order) == {"address": "no active warehouse ships to DE"}
    assert order.risk_score == 10


def test_no_exchange_rate_is_reviewed_never_guessed(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")], currency="CHF")
    assert order.total_base is None
    assert holds(order) == {"review": "no exchange rate for CHF"}
    fx.set_rate(session, "CHF", "1.1", actor())
    assert make.order(shop, [("A-1", 1, "5")], currency="CHF").status == "allocated"


def test_every_check_can_be_switched_off(session, make, shop, actor):
    for key in risk.WEIGHTS:
        settings.set_value(session, f"risk_check_{key}", "false", actor())
    billing = NormalizedAddress(name="Ada", line1="1 Rue", city="Paris", country="FR")
    order = make.order(shop, [("A-1", 1, "9000")], currency="CHF", billing_address=billing,
                       risk={"test": True})
    assert order.status == "allocated" and order.risk_score == 0


def test_several_findings_one_hold_each_reason_and_a_score(session, make, shop):
    billing = NormalizedAddress(name="Ada", line1="1 Rue", city="Paris", country="FR")
    order = make.order(shop, [("A-1", 1, "6000")], billing_address=billing)
    assert holds(order)["review"] == ("total 6,000.00 in the base currency is above the review "
                                      "threshold 5,000.00; billing country FR differs from "
                                      "shipping country US")
    assert len(order.open_holds) == 1 and order.risk_score == 60
    assert risk_events(session, order) == ["amount", "country_mismatch"]


def test_held_for_payment_is_still_screened_once(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "6000")], financial_status="pending")
    assert set(holds(order)) == {"payment", "review"}
    orders.release_hold(session, order.id, actor(), reason="payment", note="paid")
    assert order.status == "new" and set(holds(order)) == {"review"}
    risk.approve_review(session, order.id, actor("support"), "known customer")
    assert order.status == "allocated"
    assert risk_events(session, order) == ["amount"]  # not checked again


# --- review -------------------------------------------------------------------------------

def test_approve_releases_the_review_hold_and_allocates(session, make, shop, actor):
    order = make.order(shop, [("A-1", 2, "6000")])
    queue = risk.review_queue(session)
    assert [o.id for o in queue.rows] == [order.id] and queue.total == 1
    risk.approve_review(session, order.id, actor("support"), "called the customer")
    assert order.status == "allocated" and not order.is_held
    types = [e.type for e in session.scalars(select(OrderEvent).where(
        OrderEvent.order_id == order.id).order_by(OrderEvent.id))]
    assert types.index("review_approved") < types.index("hold_released") < types.index("allocated")
    assert risk.review_queue(session).total == 0
    with pytest.raises(InvalidTransition):
        risk.approve_review(session, order.id, actor("support"))


def test_approve_keeps_other_holds(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "6000")])
    orders.place_hold(session, order.id, "manual", "wait", actor())
    risk.approve_review(session, order.id, actor("support"))
    assert order.status == "new" and set(holds(order)) == {"manual"}


def test_reject_cancels_and_releases_stock(session, make, shop, actor):
    order = make.order(shop, [("A-1", 3, "6000")])
    orders.release_hold(session, order.id, actor(), reason="review", note="oops")
    assert order.status == "allocated"
    orders.place_hold(session, order.id, "review", "second look", actor())
    level = session.scalar(select(StockLevel))
    assert level.reserved == 3
    with pytest.raises(ValidationFailed) as err:
        risk.reject_review(session, order.id, "  ", actor("support"))
    assert "reason" in err.value.errors
    risk.reject_review(session, order.id, "stolen card", actor("support"))
    session.refresh(level)
    assert order.status == "cancelled" and level.reserved == 0
    assert order.cancel_reason == "rejected in review: stolen card" and not order.is_held
    assert "status" in order.local_edits


def test_bulk_review_reports_each_order(session, make, shop, actor):
    a = make.order(shop, [("A-1", 1, "6000")])
    b = make.order(shop, [("A-1", 1, "6000")])
    clean = make.order(shop, [("A-1", 1, "5")])
    result = risk.review_bulk(session, "approve", [a.id, clean.id, 999999], actor("support"))
    assert result.succeeded == [a.order_number]
    assert [label for label, _ in result.failed] == [clean.order_number, "#999999"]
    assert "not waiting for review" in result.failed[0][1]
    with pytest.raises(ValidationFailed):
        risk.review_bulk(session, "reject", [b.id], actor("support"), "")
    result = risk.review_bulk(session, "reject", [b.id, a.id], actor("support"), "fraud")
    assert result.succeeded == [b.order_number] and len(result.failed) == 1
    assert b.status == "cancelled" and a.status == "allocated"
    with pytest.raises(ValidationFailed):
        risk.review_bulk(session, "delete", [a.id], actor("support"))
