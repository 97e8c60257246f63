"""The official client libraries talk to the sandbox, configured only through their own settings:
ShopifyAPI's ``ShopifyResource.site``/``headers``; ``woocommerce.API(url=...)`` (OAuth 1.0a query
signing over plain HTTP); python-amazon-sp-api's ``endpoint`` and ``auth_token_client_class``."""
from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.amazon import normalize_order as amazon_normalize
from connectors.sandbox import DEFAULT_CREDENTIALS
from connectors.shopify import normalize_order as shopify_normalize
from connectors.woocommerce import normalize_order as woo_normalize


def _orders(state, channel, shop):
    return state.snapshot()["channels"][channel][shop]["orders"]


def test_shopify_api_lists_orders_across_pages(sandbox, sandbox_control, sandbox_state):
    shopify = pytest.importorskip("shopify")
    sandbox_control("orders", channel="shopify", count=120)
    shopify.ShopifyResource.site = f"{sandbox}/shopify/demo/admin/api/2026-10"
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = DEFAULT_CREDENTIALS["shopify"]["access_token"]
    try:
        assert shopify.Shop.current().myshopify_domain == "demo.myshopify.com"
        page = shopify.Order.find(status="any", limit=50)
        pages = [page]
        while page.has_next_page():
            page = page.next_page()
            pages.append(page)
        orders = [o for p in pages for o in p]
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.ShopifyResource.headers.pop("X-Shopify-Access-Token", None)
    assert [len(list(iter(p))) for p in pages] == [50, 50, 20]  # (len() counts the pages fetched after it)
    expected = _orders(sandbox_state, "shopify", "demo")
    assert sorted(str(o.id) for o in orders) == sorted(expected)
    for order in orders:  # what the library parsed normalises like our own fetch
        normalized = shopify_normalize(order.to_dict())
        assert normalized.total == Decimal(expected[normalized.external_id]["total"])


def test_woocommerce_api_lists_orders_with_oauth1_over_http(sandbox, sandbox_control, sandbox_state):
    woocommerce = pytest.importorskip("woocommerce")
    sandbox_control("orders", channel="woocommerce", count=45)
    creds = DEFAULT_CREDENTIALS["woocommerce"]
    wcapi = woocommerce.API(url=f"{sandbox}/woocommerce/demo", consumer_key=creds["consumer_key"],
                            consumer_secret=creds["consumer_secret"], version="wc/v3", timeout=10)
    first = wcapi.get("orders", params={"per_page": 20, "orderby": "id", "order": "asc"})
    assert first.status_code == 200, first.text
    assert "oauth_signature" in first.url  # it signed (plain HTTP: no Basic auth)
    total_pages = int(first.headers["X-WP-TotalPages"])
    assert (first.headers["X-WP-Total"], total_pages) == ("45", 3)
    orders = list(first.json())
    for page in range(2, total_pages + 1):
        response = wcapi.get("orders", params={"per_page": 20, "page": page, "orderby": "id", "order": "asc"})
        assert response.status_code == 200, response.text
        orders += response.json()
    expected = _orders(sandbox_state, "woocommerce", "demo")
    assert [str(o["id"]) for o in orders] == sorted(expected, key=int)
    assert all(woo_normalize(o).total == Decimal(expected[str(o["id"])]["total"]) for o in orders)
    forged = woocommerce.API(url=f"{sandbox}/woocommerce/demo", consumer_key=creds["consumer_key"],
                             consumer_secret="cs_forged", version="wc/v3")
    refused = forged.get("orders")
    assert refused.status_code == 401 and "signature" in refused.json()["message"]


def test_python_amazon_sp_api_get_orders_and_items(sandbox, sandbox_control, sandbox_state):
    pytest.importorskip("sp_api")
    from sp_api.api import Orders
    from sp_api.auth import AccessTokenClient
    from sp_api.auth import access_token_client
    from sp_api.base import Marketplaces

    sandbox_control("orders", channel="amazon", count=12)
    access_token_client.cache.clear()  # the library caches tokens per refresh token, process-wide
    host = sandbox.split("://", 1)[1]

    class SandboxLwa(AccessTokenClient):  # the library's own extension point for the LWA endpoint
        scheme = "http://"
        path = "/amazon/auth/o2/token"

    SandboxLwa.host = host
    creds = DEFAULT_CREDENTIALS["amazon"]
    client = Orders(marketplace=Marketplaces.US, refresh_token=creds["refresh_token"],
                    credentials={"lwa_app_id": creds["client_id"], "lwa_client_secret": creds["client_secret"]},
                    auth_token_client_class=SandboxLwa)
    client.endpoint = f"{sandbox}/amazon/na"  # the SP-API endpoint (set from the marketplace by default)
    try:
        response = client.get_orders(LastUpdatedAfter="2000-01-01T00:00:00Z", MaxResultsPerPage=3)
        orders = list(response.payload["Orders"])
        while response.next_token:
            response = client.get_orders(NextToken=response.next_token)
            orders += response.payload["Orders"]
        assert orders and all(o["MarketplaceId"] == "ATVPDKIKX0DER" for o in orders)
        expected = {k: v for k, v in _orders(sandbox_state, "amazon", "na").items()}
        us_orders = [i for i, o in sandbox_state.by_id.items() if i[0] == "amazon" and o.marketplace_id == "ATVPDKIKX0DER"]
        assert sorted(o["AmazonOrderId"] for o in orders) == sorted(i[2] for i in us_orders)
        for order in orders:
            items = client.get_order_items(order["AmazonOrderId"]).payload
            assert items["AmazonOrderId"] == order["AmazonOrderId"]
            normalized = amazon_normalize(order, items)
            facts = expected[order["AmazonOrderId"]]
            assert [li.sku for li in normalized.lines] == facts["skus"]
            assert normalized.total == (Decimal(facts["total"]) if facts["total"] else None)
    finally:
        client.close()
        access_token_client.cache.clear()


def _sp_api_client(cls, sandbox, **kwargs):
    """A python-amazon-sp-api client pointed at the sandbox through its own settings."""
    from sp_api.auth import AccessTokenClient
    from sp_api.base import Marketplaces

    class SandboxLwa(AccessTokenClient):
        scheme = "http://"
        path = "/amazon/auth/o2/token"

    SandboxLwa.host = sandbox.split("://", 1)[1]
    creds = DEFAULT_CREDENTIALS["amazon"]
    client = cls(marketplace=Marketplaces.US, refresh_token=creds["refresh_token"],
                 credentials={"lwa_app_id": creds["client_id"], "lwa_client_secret": creds["client_secret"]},
                 auth_token_client_class=SandboxLwa, **kwargs)
    client.endpoint = f"{sandbox}/amazon/na"
    return client


def test_python_amazon_sp_api_orders_2026_search_and_get(sandbox, sandbox_control, sandbox_state):
    pytest.importorskip("sp_api")
    from sp_api.api.orders.orders_2026_01_01 import OrdersV20260101
    from sp_api.auth import access_token_client

    sandbox_control("orders", channel="amazon", count=7)
    access_token_client.cache.clear()
    client = _sp_api_client(OrdersV20260101, sandbox)
    included = ["BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "CANCELLATION"]
    try:
        query = {"lastUpdatedAfter": "2000-01-01T00:00:00Z", "marketplaceIds": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"],
                 "includedData": included}
        response = client.search_orders(**query, maxResultsPerPage=3)
        orders = list(response.payload["orders"])
        while response.next_token:  # the library lifts pagination.nextToken out of the body
            response = client.search_orders(**query, maxResultsPerPage=3, paginationToken=response.next_token)
            orders += response.payload["orders"]
        expected = _orders(sandbox_state, "amazon", "na")
        assert sorted(o["orderId"] for o in orders) == sorted(expected)
        for order in orders:
            normalized = amazon_normalize(order)
            facts = expected[order["orderId"]]
            assert [li.sku for li in normalized.lines] == facts["skus"]
            assert normalized.total == (Decimal(facts["total"]) if facts["total"] else None)
            assert normalized.email == facts["email"]
        one = client.get_order(orders[0]["orderId"], includedData=included).payload
        assert amazon_normalize(one).external_id == orders[0]["orderId"]  # the {"order": ...} body
    finally:
        client.close()
        access_token_client.cache.clear()


def test_python_amazon_sp_api_v0_restricted_data_token(sandbox, sandbox_control, sandbox_state):
    pytest.importorskip("sp_api")
    from sp_api.api import Orders, Tokens
    from sp_api.auth import access_token_client

    sandbox_control("orders", channel="amazon", count=8)
    access_token_client.cache.clear()
    expected = _orders(sandbox_state, "amazon", "na")
    ready = [i for i, f in expected.items() if f["total"] is not None]
    tokens = _sp_api_client(Tokens, sandbox)
    orders = _sp_api_client(Orders, sandbox)
    try:
        # getOrders with RestrictedResources: the library asks the Tokens API for an RDT itself
        listed = orders.get_orders(LastUpdatedAfter="2000-01-01T00:00:00Z", MarketplaceIds=["ATVPDKIKX0DER",
                                   "A2EUQ1WTGCTBG2"], RestrictedResources=["buyerInfo", "shippingAddress"])
        with_pii = [o for o in listed.payload["Orders"] if o["AmazonOrderId"] in ready]
        assert with_pii and all(o["ShippingAddress"].get("AddressLine1") for o in with_pii)
        # an RDT for the generic getOrderAddress path, used through the client's own setting
        rdt = tokens.create_restricted_data_token(restrictedResources=[
            {"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}]).payload["restrictedDataToken"]
        restricted = _sp_api_client(Orders, sandbox, restricted_data_token=rdt)
        try:
            address = restricted.get_order_address(ready[0]).payload
            assert address["AmazonOrderId"] == ready[0] and address["ShippingAddress"]["Name"]
        finally:
            restricted.close()
    finally:
        tokens.close()
        orders.close()
        access_token_client.cache.clear()
