"""The orders list runs a fixed number of SQL statements whatever the number of rows on the
page (channel and holds are eager-loaded, no dropdown of a big table), and its count is
capped by OMS_LIST_COUNT_CAP."""
from __future__ import annotations

import pytest

from app.services.orders import actions as order_service


@pytest.fixture
def many_orders(make, session, actor):
    wh = make.warehouse("WH1")
    make.product("SKU-1", stock={wh: 10_000})
    channels = [make.channel("web"), make.channel("amazon", kind="amazon")]
    created = []
    for i in range(110):
        order = make.order(channels[i % 2], [("SKU-1", 1, "3.00")], email=f"c{i % 40}@example.com",
                           name=f"Customer {i % 40}")
        created.append(order.id)
    for order_id in created[::7]:
        order_service.place_hold(session, order_id, "review", None, actor())
    return created


def list_statements(client, count_queries, url):
    client.get(url)  # warm up (menu, permissions caches)
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter, response.get_data(as_text=True)


def test_list_statements_do_not_grow_with_rows(client_for, count_queries, many_orders):
    client = client_for("support")
    small, _ = list_statements(client, count_queries, "/orders/list/?psize_OrderView=10")
    big, html = list_statements(client, count_queries, "/orders/list/?psize_OrderView=100")
    assert html.count('href="/orders/show/') >= 100
    assert big.count == small.count, (small.count, big.count)
    assert len(big.matching(r"FROM order_holds")) == 1
    # the page's channels (one IN query) + the channel filter's dropdown (a small table)
    assert len(big.matching(r"FROM channels")) <= 3
    assert not big.matching(r"FROM customers") and not big.matching(r"FROM products")
    assert not big.matching(r"FROM order_lines")


def test_filters_keep_statements_bounded(client_for, count_queries, many_orders):
    client = client_for("support")
    url = "/orders/list/?_flt_0_holds=review&_flt_0_status=allocated&_flt_1_placed_at=2026-01-01"
    counter, html = list_statements(client, count_queries, url)
    assert html.count('title="Show record"') == len(many_orders[::7])
    assert counter.count < 40
    html = client.get("/orders/list/?_flt_0_holds=payment").get_data(as_text=True)
    assert "No records found" in html


def test_default_order_is_newest_first(client_for, many_orders):
    html = client_for("viewer").get("/orders/list/").get_data(as_text=True)
    newest, oldest = f'href="/orders/show/{many_orders[-1]}"', f'href="/orders/show/{many_orders[0]}"'
    assert newest in html and oldest not in html


def test_count_is_capped(app, client_for, many_orders):
    client = client_for("viewer")
    old = app.config["OMS_LIST_COUNT_CAP"]
    app.config["OMS_LIST_COUNT_CAP"] = 100
    try:
        html = client.get("/orders/list/").get_data(as_text=True)
    finally:
        app.config["OMS_LIST_COUNT_CAP"] = old
    assert "more than 100" in html
    html = client.get("/orders/list/").get_data(as_text=True)
    assert "<strong>110</strong> records" in html
