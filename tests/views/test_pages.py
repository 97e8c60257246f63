"""Every page renders for the roles that may see it and answers 403 to the others."""
from __future__ import annotations

import pytest

from app.models import StockLevel
from app.services.core import fx
from app.services.core import settings as settings_service

ALL = {"admin", "support", "warehouse", "operations", "viewer"}

PAGES = [
    # (url or builder, roles allowed)
    ("/dashboard/", ALL),
    ("/orders/list/", ALL),
    ("/orders/show/{order}", ALL),
    ("/orders/{order}/address", {"admin", "support"}),
    ("/customers/list/", ALL),
    ("/customers/show/{customer}", ALL),
    ("/search?q=nothing-matches", ALL),
    ("/shipments/list/", ALL),
    ("/pick-lists/list/", ALL),
    ("/returns/list/", ALL),
    ("/refunds/list/", ALL),
    ("/stock/list/", ALL),
    ("/stock/show/{level}", ALL),
    ("/stock/adjust", {"admin", "warehouse"}),
    ("/stock/receive", {"admin", "warehouse"}),
    ("/stock-movements/list/", ALL),
    ("/warehouses/list/", ALL),
    ("/warehouses/show/{warehouse}", ALL),
    ("/warehouses/add", {"admin", "operations"}),
    ("/warehouses/edit/{warehouse}", {"admin", "operations"}),
    ("/products/list/", ALL),
    ("/products/show/{product}", ALL),
    ("/products/add", {"admin", "operations"}),
    ("/products/edit/{product}", {"admin", "operations"}),
    ("/sku-aliases/list/", ALL),
    ("/sku-aliases/add", {"admin", "operations"}),
    ("/channels/list/", {"admin", "operations", "viewer"}),
    ("/channels/show/{channel}", {"admin", "operations", "viewer"}),
    ("/channels/add", {"admin", "operations"}),
    ("/channels/edit/{channel}", {"admin", "operations"}),
    ("/sync-runs/list/", {"admin", "support", "operations", "viewer"}),
    ("/sync-conflicts/list/", {"admin", "support", "operations", "viewer"}),
    ("/settings/", {"admin", "operations"}),
    ("/exchange-rates/list/", {"admin", "operations"}),
    ("/exchange-rates/add", {"admin"}),
    ("/audit-log/list/", {"admin", "operations"}),
]


@pytest.fixture
def ids(shop, session, actor):
    fx.set_rate(session, "EUR", "1.1", actor())
    settings_service.set_value(session, "ship_by_days", 3, actor())
    level = session.query(StockLevel).first()
    return {"order": shop.order.id, "customer": shop.order.customer_id, "level": level.id,
            "warehouse": shop.warehouse.id, "product": shop.p1.id, "channel": shop.channel.id}


def test_every_page_renders_for_allowed_roles_and_403_for_others(client_for, ids):
    clients = {role: client_for(role) for role in sorted(ALL)}
    failures = []
    for template, allowed in PAGES:
        url = template.format(**ids)
        for role, client in clients.items():
            response = client.get(url)
            expected = 200 if role in allowed else 403
            if response.status_code != expected:
                failures.append(f"{role} GET {url}: {response.status_code}, expected {expected}")
    assert not failures, "\n".join(failures)


def test_anonymous_is_sent_to_login(client_for):
    client = client_for(None)
    for url in ("/", "/dashboard/", "/orders/list/", "/search?q=x"):
        response = client.get(url)
        assert response.status_code == 302, url
    assert "/login/" in client.get("/dashboard/").headers["Location"]
    assert client.get("/").headers["Location"].endswith("/dashboard/")


def test_navbar_has_search_box_and_menus(client_for, shop):
    html = client_for("support").get("/orders/list/").get_data(as_text=True)
    assert 'action="/search' in html and 'name="q"' in html
    for menu in ("Orders", "Customers", "Fulfillment", "Returns", "Inventory", "Catalog"):
        assert menu in html
    assert "/sync-runs/list/" in html  # support reads sync runs
    assert "/channels/list/" not in html  # but not channels


def test_viewer_menu_hides_settings(client_for, shop):
    html = client_for("viewer").get("/orders/list/").get_data(as_text=True)
    assert "/settings/" not in html
    assert "/audit-log/list/" not in html
    admin_html = client_for("admin").get("/orders/list/").get_data(as_text=True)
    assert "/settings/" in admin_html


def test_orders_list_shows_order_fields(client_for, shop):
    html = client_for("viewer").get("/orders/list/").get_data(as_text=True)
    order = shop.order
    assert order.order_number in html
    assert "ada@example.com" in html
    assert "19.98" in html and "USD" in html  # money with currency
    assert "UTC" in html
    assert "allocated" in html


def test_order_page_shows_history(client_for, shop):
    html = client_for("viewer").get(f"/orders/show/{shop.order.id}").get_data(as_text=True)
    for text in ("Lines", "Allocations", "WH1", "Timeline", "Shipments", "Returns",
                 "Shipping address", "1 Main St", "Backordered", "imported"):
        assert text in html, text
    # a viewer sees no action forms
    assert "Place a hold" not in html and "Cancel the order" not in html


def test_order_page_actions_follow_permissions(client_for, shop):
    support = client_for("support").get(f"/orders/show/{shop.order.id}").get_data(as_text=True)
    assert "Place a hold" in support and "Cancel the order" in support and "Add a note" in support
    assert "Start picking" not in support
    warehouse = client_for("warehouse").get(f"/orders/show/{shop.order.id}").get_data(as_text=True)
    assert "Start picking" in warehouse
    assert "Place a hold" not in warehouse and "Cancel the order" not in warehouse
    operations = client_for("operations").get(f"/orders/show/{shop.order.id}").get_data(as_text=True)
    assert "Place a hold" in operations and "Cancel the order" not in operations


def test_unknown_records_are_404(client_for, shop):
    client = client_for("admin")
    assert client.get("/orders/show/999999").status_code == 404
    assert client.get("/orders/show/abc").status_code == 404
    assert client.get("/customers/show/999999").status_code == 404


def test_channel_secrets_are_never_shown(client_for, session, actor):
    from app.services.channels import config as channels

    channel = channels.save_channel(session, {"code": "sec", "name": "Sec", "kind": "shopify"},
                                    actor(), credentials={"token": "very-secret-token"},
                                    webhook_secret="hook-secret-xyz")
    client = client_for("admin")
    for url in ("/channels/list/", f"/channels/show/{channel.id}", f"/channels/edit/{channel.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "very-secret-token" not in html and "hook-secret-xyz" not in html, url
        assert channel.credentials_encrypted not in html, url
    assert "stored" in client.get(f"/channels/show/{channel.id}").get_data(as_text=True)


def test_dashboard_counts(client_for, shop, session, actor):
    from app.services.orders import actions as orders

    orders.place_hold(session, shop.order.id, "review", "check", actor())
    html = client_for("viewer").get("/dashboard/").get_data(as_text=True)
    assert "Orders by status" in html and "Open holds" in html
    assert "_flt_0_holds=review" in html
    assert "Low stock" in html
