"""`flask oms ...` commands: init with demo data (idempotent), users, API keys."""
import logging
from datetime import datetime, timezone

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Channel, ExchangeRate, Notification, Order, OrderEvent, Product, Refund, Return, Shipment,
    StockLevel, TrackingEvent, Warehouse,
)
from tests.services.test_invariants import assert_invariants

COUNTED = (Warehouse, Product, StockLevel, Channel, ExchangeRate, Order, OrderEvent, Shipment,
           TrackingEvent, Return)


def counts():
    db.session.remove()
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in COUNTED}


def test_init_demo_loads_a_realistic_shop_and_a_second_run_changes_nothing(app, caplog):
    runner = app.test_cli_runner()
    caplog.set_level(logging.INFO)
    result = runner.invoke(args=["oms", "init", "--demo", "--orders", "120"])
    assert result.exit_code == 0, result.output
    # A clean run says what it did and nothing else: no FAB advice to run `flask fab`, no
    # refused permission deletions, no line per migration.
    noise = [r.getMessage() for r in caplog.records
             if r.levelno >= logging.WARNING or r.name.startswith(("alembic", "flask_appbuilder"))]
    assert noise == []
    assert result.output.splitlines()[0].startswith("database: schema")
    assert "roles: Support" in result.output and "init done in" in result.output
    first = counts()
    assert first["warehouses"] == 3 and first["products"] == 200 and first["channels"] == 3
    assert first["orders"] == 120 and first["shipments"] > 0 and first["tracking_events"] > 0
    assert first["returns"] > 0 and first["exchange_rates"] >= 3
    kinds = set(db.session.scalars(select(Channel.kind)))
    assert kinds == {"shopify", "woocommerce", "amazon"}
    from app.models import CarrierAccount

    assert set(db.session.scalars(select(CarrierAccount.kind))) == {"ups", "easypost"}
    countries = set(db.session.scalars(select(Warehouse.country)))
    assert len(countries) == 3
    statuses = set(db.session.scalars(select(Order.status).distinct()))
    assert {"new", "allocated", "picking", "packed", "shipped", "delivered", "cancelled"} <= statuses
    without_timeline = db.session.scalar(
        select(func.count(Order.id)).where(~Order.events.any()))
    assert without_timeline == 0
    assert_invariants(db.session)
    # The orders it shipped have their mails in the mail log (no SMTP in the demo); Amazon
    # buyers get none (Amazon mails them itself).
    mails = db.session.execute(select(Notification.event, Notification.status, Channel.kind)
                               .join(Order, Notification.order_id == Order.id)
                               .join(Channel, Order.channel_id == Channel.id)).all()
    assert {"shipped", "delivered"} <= {m.event for m in mails}
    assert {m.status for m in mails} == {"logged"} and "amazon" not in {m.kind for m in mails}
    # The demo's history is all in the past: returns, receipts and refunds too.
    now = datetime.now(timezone.utc)
    for column in (OrderEvent.created_at, Order.placed_at, Return.created_at,
                   Return.received_at, Refund.created_at, Shipment.shipped_at,
                   TrackingEvent.occurred_at):
        latest = db.session.scalar(select(func.max(column)))
        assert latest is not None and latest <= now, (column, latest)

    again = runner.invoke(args=["oms", "init", "--demo", "--orders", "120"])
    assert again.exit_code == 0, again.output
    assert "admin user exists" in again.output
    assert counts() == first


def test_create_user_and_api_key(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["oms", "create-user", "--username", "ann", "--role", "Support",
                                 "--password", "long-enough-pw", "--email", "ann@example.com"])
    assert result.exit_code == 0, result.output
    user = app.appbuilder.sm.find_user(username="ann")
    assert [r.name for r in user.roles] == ["Support"]
    assert user.password != "long-enough-pw"  # stored hashed

    bad = runner.invoke(args=["oms", "create-user", "--username", "bob", "--role", "Pilot",
                              "--password", "long-enough-pw"])
    assert bad.exit_code != 0 and "unknown role" in bad.output
    short = runner.invoke(args=["oms", "create-user", "--username", "bob", "--role", "Support",
                                "--password", "short"])
    assert short.exit_code != 0 and "password" in short.output.lower()

    key = runner.invoke(args=["oms", "create-api-key", "--username", "ann", "--name", "printer"])
    assert key.exit_code == 0
    token = key.output.strip()
    assert token.startswith("wb_")
    response = app.test_client().get("/api/v1/order/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    wrong = app.test_client().get("/api/v1/order/", headers={"Authorization": "Bearer wb_nope"})
    assert wrong.status_code == 401
    # FAB's tables are not emptied between tests: leave the usual users only.
    db.session.execute(app.appbuilder.sm.api_key_model.__table__.delete())
    db.session.delete(db.session.merge(user))
    db.session.commit()
