"""Shopify at a supported 2026 version: the sandbox serves a retired version as its oldest
supported one (as Shopify does) and the connector refuses that; the GraphQL Admin endpoint parses
queries, answers in Shopify's shapes with userErrors and the cost-based throttle."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from connectors import build_connector
from connectors.errors import ChannelError
from connectors.sandbox import DEFAULT_CREDENTIALS
from connectors.shopify import API_VERSION

TOKEN = {"X-Shopify-Access-Token": DEFAULT_CREDENTIALS["shopify"]["access_token"]}


def _graphql(sandbox, query, variables=None, version=API_VERSION):
    response = requests.post(f"{sandbox}/shopify/demo/admin/api/{version}/graphql.json", headers=TOKEN,
                             json={"query": query, "variables": variables or {}}, timeout=10)
    assert response.status_code == 200
    return response.json()


def test_the_connector_reads_a_supported_version_and_refuses_a_retired_one(sandbox, sandbox_control):
    assert API_VERSION.startswith("2026-")
    sandbox_control("orders", channel="shopify", count=3)
    url = f"{sandbox}/shopify/demo"
    conn = build_connector("shopify", url, DEFAULT_CREDENTIALS["shopify"])
    assert len(conn.fetch_orders(datetime(2000, 1, 1, tzinfo=timezone.utc)).orders) == 3
    retired = build_connector("shopify", url, DEFAULT_CREDENTIALS["shopify"], api_version="2024-04")
    with pytest.raises(ChannelError, match="asked for API version 2024-04, Shopify served 2026-01"):
        retired.test_connection()


def test_graphql_products_variants_inventory_items_and_locations(sandbox, sandbox_control):
    big = sandbox_control("products", channel="shopify", title="Big Tee", variants=130, sku_prefix="BIG")
    query = """query Products($after: String) {
      products(first: 20, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { id title variantsCount { count }
                variants(first: 10) { pageInfo { hasNextPage endCursor } nodes { id sku inventoryItem { id } } } }
      }
      locations(first: 5) { nodes { id name isActive } }
    }"""
    answer = _graphql(sandbox, query)
    products = answer["data"]["products"]["nodes"]
    assert len(products) == 13 and not answer["data"]["products"]["pageInfo"]["hasNextPage"]
    (tee,) = [p for p in products if p["title"] == "Big Tee"]
    assert tee["id"] == f"gid://shopify/Product/{big['id']}" and tee["variantsCount"]["count"] == 130
    assert tee["variants"]["pageInfo"]["hasNextPage"] and tee["variants"]["nodes"][0]["sku"] == "BIG-001"
    assert tee["variants"]["nodes"][0]["inventoryItem"]["id"].startswith("gid://shopify/InventoryItem/")
    assert [loc["name"] for loc in answer["data"]["locations"]["nodes"]] == ["Main warehouse", "Retail store"]
    cost = answer["extensions"]["cost"]
    # products: 2 + 20 x (node 1 + variantsCount 1 + variants (2 + 10 x (1 + inventoryItem 1))); locations: 2 + 5
    assert cost["requestedQueryCost"] == 2 + 20 * (1 + 1 + 2 + 10 * 2) + 2 + 5
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0


def test_graphql_errors_user_errors_and_throttle(sandbox, sandbox_control):
    bad = _graphql(sandbox, "{ products { nodes { id } } }")
    assert bad["data"] is None and bad["errors"][0]["message"] == "you must provide one of first or last"
    invalid = _graphql(sandbox, "{ products(first: 1) { nodes { nope } } }")
    assert invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    mutation = """mutation Set($input: InventorySetQuantitiesInput!) {
      inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { reason } userErrors { field message code } }
    }"""
    unknown = _graphql(sandbox, mutation, {"input": {"name": "available", "reason": "correction",
                                                    "ignoreCompareQuantity": True, "quantities": [
        {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/65000000001",
         "quantity": 4}]}})
    assert unknown["data"]["inventorySetQuantities"] == {"inventoryAdjustmentGroup": None, "userErrors": [
        {"field": ["input", "quantities", "0", "inventoryItemId"],
         "message": "The specified inventory item could not be found.", "code": "INVALID_INVENTORY_ITEM"}]}
    too_big = _graphql(sandbox, "{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }")
    assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    sandbox_control("time_scale", time_scale=1000)  # the bucket refills at 0.1 point per real second
    spent = 0
    while True:
        answer = _graphql(sandbox, "{ products(first: 250) { nodes { id title } } }")  # 252 points
        if "errors" in answer:
            break
        spent += 1
    assert spent == 7  # 2000 points of 252 each
    assert answer["errors"][0]["extensions"]["code"] == "THROTTLED" and "data" not in answer
    assert answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 252


def test_shopify_api_library_graphql_client_against_the_sandbox(sandbox, sandbox_control):
    shopify = pytest.importorskip("shopify")
    import json

    assert shopify.ApiVersion.coerce_to_version(API_VERSION).name == API_VERSION  # 12.7 takes 2026 versions
    shopify.ShopifyResource.site = f"{sandbox}/shopify/demo/admin/api/{API_VERSION}"
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = DEFAULT_CREDENTIALS["shopify"]["access_token"]
    try:
        result = json.loads(shopify.GraphQL().execute("{ shop { name myshopifyDomain } }"))
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.ShopifyResource.headers.pop("X-Shopify-Access-Token", None)
    assert result["data"]["shop"]["myshopifyDomain"] == "demo.myshopify.com"
    assert result["extensions"]["cost"]["requestedQueryCost"] == 1
