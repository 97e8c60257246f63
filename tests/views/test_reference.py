"""Reference data pages write through services (validation, audit); secrets are write-only."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Channel, ExchangeRate, Product, SkuAlias, Warehouse
from app.services.channels import config as channels
from app.services.core import settings as settings_service
from tests.views.conftest import post


def audit(entity):
    return db.session.scalars(select(AuditLog).where(AuditLog.entity == entity)
                              .order_by(AuditLog.id)).all()


def test_product_add_edit_delete_through_service(client_for, session):
    client = client_for("operations")
    response = post(client, "/products/add", {"sku": "  new-1 ", "name": "New thing",
                                              "price": "12.50", "reorder_point": "3"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    product = db.session.scalar(select(Product).where(Product.sku == "NEW-1"))
    assert product is not None and product.reorder_point == 3  # normalised by the service
    pid = product.id
    assert audit("product")[-1].action == "create" and audit("product")[-1].actor == "user:operations"

    response = post(client, f"/products/edit/{product.id}", {"sku": "NEW-1", "name": "Renamed",
                                                             "reorder_point": "-1"})
    assert "must not be negative" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Product, product.id).name == "New thing"

    response = post(client, f"/products/edit/{product.id}", {"sku": "NEW-1", "name": "Renamed",
                                                             "reorder_point": "4"})
    assert response.status_code == 302
    assert db.session.get(Product, product.id).name == "Renamed"

    response = post(client, f"/products/delete/{pid}")
    assert response.status_code == 302
    assert db.session.get(Product, pid) is None
    assert audit("product")[-1].action == "delete"


def test_product_duplicate_sku_refused(client_for, shop):
    client = client_for("admin")
    response = post(client, "/products/add", {"sku": "sku-1", "name": "Dup", "reorder_point": "0"})
    assert "already used" in response.get_data(as_text=True)
    assert db.session.scalar(select(Product).where(Product.name == "Dup")) is None
    assert post(client_for("support"), "/products/add", {"sku": "X", "name": "x"}).status_code == 403


def test_warehouse_add_and_edit(client_for):
    client = client_for("operations")
    response = post(client, "/warehouses/add", {"code": "eu1", "name": "Europe", "country": "de",
                                                "priority": "10", "ships_to": "de, fr AT",
                                                "active": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    warehouse = db.session.scalar(select(Warehouse).where(Warehouse.code == "EU1"))
    assert warehouse.country == "DE" and warehouse.ships_to == ["AT", "DE", "FR"]
    html = client.get(f"/warehouses/edit/{warehouse.id}").get_data(as_text=True)
    assert "AT, DE, FR" in html
    response = post(client, f"/warehouses/edit/{warehouse.id}", {
        "code": "EU1", "name": "Europe", "country": "d1", "priority": "10", "active": "y"})
    assert "two-letter ISO country code" in response.get_data(as_text=True)
    assert db.session.get(Warehouse, warehouse.id).country == "DE"
    assert [a.action for a in audit("warehouse")] == ["create"]


def test_sku_alias_maps_through_catalog_service(client_for, shop):
    client = client_for("operations")
    html = client.get("/sku-aliases/add").get_data(as_text=True)
    assert "Product SKU" in html and "Product SKU-1" not in html  # no dropdown of products
    response = post(client, "/sku-aliases/add", {"alias": "shop-sku-a", "product": "sku-1",
                                                 "channel": str(shop.channel.id)})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    alias = db.session.scalar(select(SkuAlias))
    assert alias.alias == "SHOP-SKU-A" and alias.product_id == shop.p1.id
    assert alias.channel_id == shop.channel.id and alias.created_by == "user:operations"
    response = post(client, "/sku-aliases/add", {"alias": "other", "product": "missing"})
    assert "No product with SKU missing" in response.get_data(as_text=True)
    assert len(db.session.scalars(select(SkuAlias)).all()) == 1


def test_channel_credentials_are_write_only(client_for, session, actor):
    client = client_for("operations")
    response = post(client, "/channels/add", {
        "code": "woo-1", "name": "Woo", "kind": "woocommerce", "base_url": "https://shop.test",
        "poll_interval_seconds": "300", "backfill_days": "30", "stock_buffer": "0",
        "enabled": "y", "credentials": '{"key": "ck_live_secret"}', "webhook_secret": "whsec-1"})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    channel = db.session.scalar(select(Channel).where(Channel.code == "woo-1"))
    assert channels.credentials_of(channel) == {"key": "ck_live_secret"}
    assert channels.webhook_secret_of(channel) == "whsec-1"

    edit = client.get(f"/channels/edit/{channel.id}").get_data(as_text=True)
    assert "ck_live_secret" not in edit and "whsec-1" not in edit
    # blank secrets keep the stored values
    response = post(client, f"/channels/edit/{channel.id}", {
        "code": "woo-1", "name": "Woo renamed", "kind": "woocommerce",
        "base_url": "https://shop.test", "poll_interval_seconds": "60", "backfill_days": "30",
        "stock_buffer": "0", "enabled": "y", "credentials": "", "webhook_secret": ""})
    assert response.status_code == 302
    channel = db.session.get(Channel, channel.id)
    assert channel.name == "Woo renamed" and channel.poll_interval_seconds == 60
    assert channels.credentials_of(channel) == {"key": "ck_live_secret"}
    assert channels.webhook_secret_of(channel) == "whsec-1"
    # invalid JSON: refused, nothing stored, and the typed secret is not echoed back
    response = post(client, f"/channels/edit/{channel.id}", {
        "code": "woo-1", "name": "Woo bad", "kind": "woocommerce", "poll_interval_seconds": "60",
        "backfill_days": "30", "stock_buffer": "0", "credentials": "{not json secret-typed",
        "webhook_secret": "new-secret-typed"})
    html = response.get_data(as_text=True)
    assert "not valid JSON" in html
    assert "secret-typed" not in html
    assert db.session.get(Channel, channel.id).name == "Woo renamed"
    changes = audit("channel")[-1].changes
    assert "ck_live_secret" not in str(audit("channel")[0].changes) and changes


def test_settings_edit_and_audit(client_for):
    admin = client_for("admin")
    response = post(admin, "/settings/ship_by_days", {"value": "4"})
    assert response.status_code == 302
    assert settings_service.get(db.session, "ship_by_days") == 4
    assert audit("setting")[-1].actor == "user:admin"
    response = post(admin, "/settings/ship_by_days", {"value": "-1"})
    assert response.status_code == 422 and "must be at least" in response.get_data(as_text=True)
    response = post(admin, "/settings/payment_hold", {"value": "false"})
    assert settings_service.get(db.session, "payment_hold") is False
    assert settings_service.get(db.session, "ship_by_days") == 4
    assert post(admin, "/settings/nope", {"value": "1"}).status_code == 404
    operations = client_for("operations")
    html = operations.get("/settings/").get_data(as_text=True)
    assert "Default ship-by" in html and "only administrators can change them" in html
    assert post(operations, "/settings/ship_by_days", {"value": "9"}).status_code == 403
    log = operations.get("/audit-log/list/").get_data(as_text=True)
    assert "ship_by_days" in log and "user:admin" in log


def test_exchange_rate_add(client_for):
    admin = client_for("admin")
    response = post(admin, "/exchange-rates/add", {"currency": "eur", "rate": "1.08"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    rate = db.session.scalar(select(ExchangeRate))
    assert rate.currency == "EUR" and str(rate.rate).startswith("1.08")
    response = post(admin, "/exchange-rates/add", {"currency": "EUR", "rate": "-2"})
    assert "greater than zero" in response.get_data(as_text=True)
    assert len(db.session.scalars(select(ExchangeRate)).all()) == 1
    assert "1 EUR =" in admin.get("/exchange-rates/list/").get_data(as_text=True)
    assert post(client_for("operations"), "/exchange-rates/add",
                {"currency": "GBP", "rate": "1.2"}).status_code == 403


def test_a_channel_s_own_ship_by_in_the_form(client_for, make):
    channel = make.channel("shop")
    client = client_for("operations")
    base = {"code": "shop", "name": "Shop", "kind": channel.kind, "poll_interval_seconds": "300",
            "backfill_days": "30", "stock_buffer": "0", "enabled": "y"}
    response = post(client, f"/channels/edit/{channel.id}", dict(
        base, ship_by_days="3", sla_cutoff_hour="16", ship_by_methods="Express = 1, Next day=0"))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    saved = db.session.get(Channel, channel.id)
    assert (saved.ship_by_days, saved.sla_cutoff_hour) == (3, 16)
    assert saved.ship_by_methods == {"Express": 1, "Next day": 0}
    edit = client.get(f"/channels/edit/{channel.id}").get_data(as_text=True)
    assert 'value="Express = 1, Next day = 0"' in edit
    shown = client.get(f"/channels/show/{channel.id}").get_data(as_text=True)
    assert "3 business day(s), cut-off 16:00; Express: 1 business day(s); Next day: 0 business day(s)" in shown
    # a method without its days is refused, nothing changes
    response = post(client, f"/channels/edit/{channel.id}", dict(base, ship_by_methods="Express"))
    assert "write method = business days" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Channel, channel.id).ship_by_methods == {"Express": 1, "Next day": 0}
    # emptied: the shop's settings again
    assert post(client, f"/channels/edit/{channel.id}", base).status_code == 302
    db.session.expire_all()
    saved = db.session.get(Channel, channel.id)
    assert (saved.ship_by_days, saved.sla_cutoff_hour, saved.ship_by_methods) == (None, None, None)
