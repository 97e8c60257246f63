"""The search box: orders by number, channel order id, e-mail, name and tracking number,
customers by e-mail or name; exactly one hit goes straight to it."""
from __future__ import annotations

from app.services.fulfilment import shipments as fulfillment


def test_search_by_each_key_redirects_on_single_hit(client_for, shop, make, session, actor):
    order = shop.order
    fulfillment.start_picking(session, order.id, actor())
    fulfillment.mark_packed(session, order.id, actor())
    fulfillment.ship(session, order.id, actor(), carrier="UPS", tracking_number="1ZTRACK42")
    make.order(shop.channel, [("sku-2", 1, "5.00")], email="grace@example.com",
               name="Grace Hopper")
    client = client_for("viewer")
    number = order.order_number
    for query in (number, number.lstrip("#"), order.external_id, "1ZTRACK42"):
        response = client.get("/search", query_string={"q": query})
        assert response.status_code == 302, query
        assert response.headers["Location"].endswith(f"/orders/show/{order.id}"), query


def test_search_by_email_and_name_lists_orders_and_customers(client_for, shop):
    client = client_for("support")
    response = client.get("/search?q=ADA@example.com")
    # one order and its customer: two hits, so a result page
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert shop.order.order_number in html and "Customers" in html and "Ada Lovelace" in html
    html = client.get("/search?q=ada lov").get_data(as_text=True)
    assert shop.order.order_number in html


def test_search_single_customer_redirects(client_for, shop, session):
    from app.models import Customer

    customer = session.get(Customer, shop.order.customer_id)
    customer.name = "Zed Unique"
    shop.order.customer_name = "Someone Else"
    session.commit()
    response = client_for("support").get("/search?q=zed")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/customers/show/{customer.id}")


def test_search_nothing_found_and_empty(client_for, shop):
    client = client_for("warehouse")
    html = client.get("/search?q=no-such-thing").get_data(as_text=True)
    assert "Nothing found" in html
    html = client.get("/search?q=").get_data(as_text=True)
    assert "Type an order number" in html
    assert client_for(None).get("/search?q=x").status_code == 302  # to the login


def test_customer_page_lists_orders_across_channels(client_for, shop, make):
    other = make.channel("amazon-eu", kind="amazon")
    make.order(other, [("sku-2", 1, "7.00")], email="ADA@example.com", name="Ada Lovelace",
               currency="EUR")
    html = client_for("viewer").get(f"/customers/show/{shop.order.customer_id}").get_data(as_text=True)
    assert "2</span><span class=\"oms-stat-l\">orders across all channels" in html
    assert "19.98" in html and "USD" in html and "7.00" in html and "EUR" in html
    assert "amazon-eu" in html and "shop" in html
