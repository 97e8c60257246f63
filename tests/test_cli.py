"""`flask oms ...` commands: init with demo data (idempotent), users, API keys."""
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Channel, ExchangeRate, Order, OrderEvent, Product, Return, Shipment, StockLevel,
    TrackingEvent, Warehouse,
)
from tests.services.test_invariants import assert_invariants

COUNTED = (Warehouse, Product, StockLevel, Channel, ExchangeRate, Order, OrderEvent, Shipment,
           TrackingEvent, Return)


def counts():
    db.session.remove()
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in COUNTED}


def test_init_demo_loads_a_realistic_shop_and_a_second_run_changes_nothing(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["oms", "init", "--demo", "--orders", "120"])
    assert result.exit_code == 0, result.output
    first = counts()
    assert first["warehouses"] == 3 and first["products"] == 200 and first["channels"] == 3
    assert first["orders"] == 120 and first["shipments"] > 0 and first["tracking_events"] > 0
    assert first["returns"] > 0 and first["exchange_rates"] >= 3
    kinds = set(db.session.scalars(select(Channel.kind)))
    assert kinds == {"shopify", "woocommerce", "amazon"}
    countries = set(db.session.scalars(select(Warehouse.country)))
    assert len(countries) == 3
    statuses = set(db.session.scalars(select(Order.status).distinct()))
    assert {"new", "allocated", "picking", "packed", "shipped", "delivered", "cancelled"} <= statuses
    without_timeline = db.session.scalar(
        select(func.count(Order.id)).where(~Order.events.any()))
    assert without_timeline == 0
    assert_invariants(db.session)

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
