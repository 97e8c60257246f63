"""Reference data through the API: warehouses, products and channels are written through
their services (validation, audit, encryption); channel secrets are never returned."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.models import AuditLog, Channel, Product, Warehouse
from app.services.channels import config as channel_service

from .conftest import assert_error

SECRET = "shpat_super_secret_token_123"
HOOK_SECRET = "whsec_hook_secret_456"


def count(session, model, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


# --- warehouses -----------------------------------------------------------------------------

@pytest.mark.parametrize("role,allowed", [("admin", True), ("operations", True),
                                          ("support", False), ("warehouse", False),
                                          ("viewer", False)])
def test_warehouse_write_permissions(api, session, role, allowed):
    response = api.post("/api/v1/warehouse/", {"code": "ber", "name": "Berlin",
                                               "country": "de"}, as_=role)
    if allowed:
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["result"]["code"] == "BER"
        assert response.get_json()["result"]["country"] == "DE"
    else:
        assert_error(response, 403)
        assert count(session, Warehouse) == 0
    assert api.get("/api/v1/warehouse/", as_=role).status_code == 200


def test_warehouse_create_update_delete_go_through_the_service(api, session):
    created = api.post("/api/v1/warehouse/", {"code": "ber", "name": "Berlin",
                                              "country": "DE", "ships_to": ["de", "at"]})
    pk = created.get_json()["id"]
    assert created.get_json()["result"]["ships_to"] == ["AT", "DE"]
    updated = api.put(f"/api/v1/warehouse/{pk}", {"priority": 5}, as_="operations")
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["result"]["priority"] == 5
    assert updated.get_json()["result"]["name"] == "Berlin"  # PUT changes only what it names
    assert api.delete(f"/api/v1/warehouse/{pk}").status_code == 200
    assert count(session, Warehouse) == 0
    actions = session.scalars(select(AuditLog.action).where(AuditLog.entity == "warehouse")
                              .order_by(AuditLog.id)).all()
    assert actions == ["create", "update", "delete"]


def test_warehouse_bad_input_is_422_naming_the_field(api, session, make):
    make.warehouse("WH1")
    assert_error(api.post("/api/v1/warehouse/", {"code": "X", "name": "X", "country": "USA"}),
                 422, "country")
    # a taken code is a conflict with what is stored (409), still naming the field
    assert_error(api.post("/api/v1/warehouse/", {"code": "wh1", "name": "X", "country": "US"}),
                 409, "code")
    assert_error(api.post("/api/v1/warehouse/", {"name": "X", "country": "US"}), 422, "code")
    assert_error(api.post("/api/v1/warehouse/", {"code": "X", "name": "x" * 129,
                                                 "country": "US"}), 422, "name")
    assert_error(api.post("/api/v1/warehouse/", {"code": "X", "name": "X", "country": "US",
                                                 "priority": -1}), 422, "priority")
    assert_error(api.post("/api/v1/warehouse/", {"code": "X", "name": "X", "country": "US",
                                                 "latitude": 123}), 422, "latitude")
    assert_error(api.post("/api/v1/warehouse/", {"code": "X", "name": "X", "country": "US",
                                                 "colour": "red"}), 422, "colour")
    assert count(session, Warehouse) == 1
    assert count(session, AuditLog, AuditLog.entity == "warehouse") == 1


def test_warehouse_in_use_cannot_be_deleted_and_unknown_is_404(api, world, session):
    assert_error(api.delete(f"/api/v1/warehouse/{world.wh1.id}"), 409)
    assert count(session, Warehouse) == 2
    assert_error(api.delete("/api/v1/warehouse/999999"), 404)
    assert_error(api.put("/api/v1/warehouse/999999", {"name": "x"}), 404)
    assert_error(api.put("/api/v1/warehouse/abc", {"name": "x"}), 404)


# --- products ------------------------------------------------------------------------------

def test_product_is_created_with_a_normalised_sku(api, session):
    response = api.post("/api/v1/product/", {"sku": "  ab-1 ", "name": "Widget",
                                             "price": "12.50", "reorder_point": 3},
                        as_="operations")
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    assert result["sku"] == "AB-1" and result["price"] == "12.50"
    filtered = api.get("/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:AB-1)))")
    assert filtered.get_json()["count"] == 1


def test_product_bad_input_is_422(api, session, make):
    make.product("SKU-1")
    assert_error(api.post("/api/v1/product/", {"sku": "sku-1", "name": "Dup"}), 409, "sku")
    assert_error(api.post("/api/v1/product/", {"sku": "N", "name": "N", "price": "-1"}), 422,
                 "price")
    assert_error(api.post("/api/v1/product/", {"sku": "N", "name": "N", "price": "abc"}), 422,
                 "price")
    assert_error(api.post("/api/v1/product/", {"sku": "N", "name": "N",
                                               "reorder_point": "lots"}), 422, "reorder_point")
    assert_error(api.post("/api/v1/product/", {"sku": "N"}), 422, "name")
    assert count(session, Product) == 1
    assert_error(api.post("/api/v1/product/", {"sku": "N", "name": "N"}, as_="support"), 403)


# --- channels ------------------------------------------------------------------------------

def _assert_no_secret(response, names=True):
    text = response.get_data(as_text=True)
    assert SECRET not in text and HOOK_SECRET not in text
    assert "gAAAAA" not in text  # no Fernet token either
    if names:
        assert "credentials_encrypted" not in text and "webhook_secret_encrypted" not in text


@pytest.fixture
def shop(api):
    response = api.post("/api/v1/channel/", {
        "code": "shop", "name": "Shop", "kind": "shopify",
        "base_url": "https://shop.example.com",
        "credentials": {"access_token": SECRET}, "webhook_secret": HOOK_SECRET,
    }, as_="operations")
    assert response.status_code == 201, response.get_json()
    _assert_no_secret(response)
    return response.get_json()


def test_channel_secrets_are_stored_encrypted_and_never_returned(api, shop, session, browser):
    result = shop["result"]
    assert result["has_credentials"] is True and result["has_webhook_secret"] is True
    channel = session.get(Channel, shop["id"])
    assert channel_service.credentials_of(channel) == {"access_token": SECRET}
    assert channel_service.webhook_secret_of(channel) == HOOK_SECRET
    assert SECRET not in channel.credentials_encrypted
    for url in ("/api/v1/channel/", f"/api/v1/channel/{shop['id']}", "/api/v1/channel/_info",
                "/api/v1/channel/?q=(columns:!(id,code,has_credentials))",
                "/api/v1/channel/?q=(select_columns:!(id,credentials_encrypted))",
                f"/api/v1/channel/{shop['id']}?q=(columns:!(id,credentials_encrypted))",
                "/api/v1/channel/_info?q=(keys:!(add_columns,edit_columns,filters))"):
        response = api.get(url)
        assert response.status_code in (200, 400), (url, response.status_code)
        _assert_no_secret(response)
    info = api.get("/api/v1/channel/_info").get_json()
    assert not {"credentials", "webhook_secret"} & {c["name"] for c in info["add_columns"]}
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "channel")).all()
    assert SECRET not in json.dumps([a.changes for a in audit])
    # the HTML UI's cookie session sees the same
    _assert_no_secret(browser("operations").get("/api/v1/channel/"))


def test_channel_ciphertext_cannot_be_probed_by_filters_or_ordering(api, shop):
    for q in ("(filters:!((col:credentials_encrypted,opr:sw,value:g)))",
              "(filters:!((col:webhook_secret_encrypted,opr:eq,value:x)))",
              "(order_column:credentials_encrypted,order_direction:asc)"):
        response = api.get(f"/api/v1/channel/?q={q}")
        assert_error(response, 400, "q")
        _assert_no_secret(response, names=False)  # the message repeats the column asked for


def test_channel_update_replaces_secrets_write_only(api, shop, session):
    response = api.put(f"/api/v1/channel/{shop['id']}",
                       {"credentials": {"access_token": "new-token-789"}, "enabled": False},
                       as_="admin")
    assert response.status_code == 200, response.get_json()
    assert "new-token-789" not in response.get_data(as_text=True)
    assert response.get_json()["result"]["enabled"] is False
    session.expire_all()
    channel = session.get(Channel, shop["id"])
    assert channel_service.credentials_of(channel) == {"access_token": "new-token-789"}
    assert channel_service.webhook_secret_of(channel) == HOOK_SECRET  # untouched


@pytest.mark.parametrize("role,read,write", [("admin", True, True), ("operations", True, True),
                                             ("viewer", True, False), ("support", False, False),
                                             ("warehouse", False, False)])
def test_channel_permissions(api, shop, role, read, write):
    listing = api.get("/api/v1/channel/", as_=role)
    assert listing.status_code == (200 if read else 403)
    _assert_no_secret(listing)
    response = api.put(f"/api/v1/channel/{shop['id']}", {"name": "Renamed"}, as_=role)
    assert response.status_code == (200 if write else 403)


def test_channel_bad_input_is_422_and_stores_nothing(api, shop, session):
    assert_error(api.post("/api/v1/channel/", {"code": "Bad Code!", "name": "x",
                                               "kind": "shopify"}), 422, "code")
    assert_error(api.post("/api/v1/channel/", {"code": "shop", "name": "x",
                                               "kind": "shopify"}), 409, "code")
    assert_error(api.post("/api/v1/channel/", {"code": "new", "name": "x", "kind": "fax"}),
                 422, "kind")
    assert_error(api.post("/api/v1/channel/", {"code": "new", "name": "x", "kind": "csv",
                                               "credentials": "plain"}), 422, "credentials")
    assert_error(api.post("/api/v1/channel/", {"code": "new", "name": "x", "kind": "csv",
                                               "base_url": "ftp://x"}), 422, "base_url")
    assert_error(api.post("/api/v1/channel/", {"code": "new", "name": "x", "kind": "csv",
                                               "poll_interval_seconds": -5}), 422,
                 "poll_interval_seconds")
    assert count(session, Channel) == 1


def test_channels_are_not_deleted_through_the_api(api, shop):
    assert_error(api.delete(f"/api/v1/channel/{shop['id']}"), 405, code="method_not_allowed")


# --- SKU aliases ---------------------------------------------------------------------------

def test_sku_alias_maps_a_channel_sku(api, world, session):
    response = api.post("/api/v1/sku_alias/", {"alias": " shop-widget ", "sku": "sku-1",
                                               "channel_id": world.channel.id},
                        as_="operations")
    assert response.status_code == 201, response.get_json()
    listed = api.get("/api/v1/sku_alias/", as_="viewer").get_json()["result"]
    assert [(a["alias"], a["product"]["sku"], a["channel"]["code"]) for a in listed] == [
        ("SHOP-WIDGET", "SKU-1", "shop")]
    assert_error(api.post("/api/v1/sku_alias/", {"alias": "x", "sku": "sku-1"}, as_="support"),
                 403)


def test_sku_alias_bad_input_is_422(api, world, session):
    # naming a product or channel that does not exist: 404 (UnknownRecord), still by field
    assert_error(api.post("/api/v1/sku_alias/", {"alias": "x", "sku": "NOPE"}), 404, "sku")
    assert_error(api.post("/api/v1/sku_alias/", {"alias": "x"}), 422, "product_id")
    assert_error(api.post("/api/v1/sku_alias/", {"alias": "x", "product_id": 99999}), 404,
                 "product_id")
    assert_error(api.post("/api/v1/sku_alias/", {"alias": " ", "sku": "SKU-1"}), 422, "alias")
    assert_error(api.post("/api/v1/sku_alias/", {"alias": "x", "sku": "SKU-1",
                                                 "channel_id": 99999}), 404, "channel_id")
    api.post("/api/v1/sku_alias/", {"alias": "x", "sku": "SKU-1"})
    # an alias taken by another product conflicts with what is stored: 409
    assert_error(api.post("/api/v1/sku_alias/", {"alias": "X", "sku": "SKU-2"}), 409, "alias")
    assert len(api.get("/api/v1/sku_alias/").get_json()["result"]) == 1
    assert_error(api.delete("/api/v1/sku_alias/1"), 405)


def test_no_api_answer_carries_channel_secrets(api, world):
    """Every GET of every resource (lists, details, _info) with a channel that has secrets."""
    response = api.put(f"/api/v1/channel/{world.channel.id}", {
        "credentials": {"access_token": SECRET}, "webhook_secret": HOOK_SECRET})
    assert response.status_code == 200
    api.post("/api/v1/sku_alias/", {"alias": "w", "sku": "SKU-1",
                                    "channel_id": world.channel.id})
    world.make.order(world.channel, [("UNKNOWN-1", 1, "1.00")])  # a conflict with a channel
    for resource in ("order", "customer", "stock_level", "stock_movement", "shipment", "return",
                     "product", "sku_alias", "warehouse", "channel", "sync_conflict", "sync_run",
                     "rule"):
        listing = api.get(f"/api/v1/{resource}/")
        assert listing.status_code == 200, resource
        _assert_no_secret(listing)
        _assert_no_secret(api.get(f"/api/v1/{resource}/_info"))
        for pk in listing.get_json()["ids"][:3]:
            _assert_no_secret(api.get(f"/api/v1/{resource}/{pk}"))
