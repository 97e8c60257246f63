"""The read-only resources: customers, shipments, returns, sync conflicts, rules, and the
search endpoint; each for the roles the matrix allows and refuses."""
from __future__ import annotations

import pytest

from app.models import Rule
from app.services.fulfilment import shipments as fulfillment
from app.services.returns import actions as returns
from app.services.core.actor import Actor

from .conftest import assert_error

ALL = ("admin", "support", "warehouse", "operations", "viewer")
# (url, roles that may read it)
READERS = {
    "/api/v1/customer/": ALL,
    "/api/v1/shipment/": ALL,
    "/api/v1/return/": ALL,
    "/api/v1/rule/": ALL,
    "/api/v1/sync_conflict/": ("admin", "support", "operations", "viewer"),
    "/api/v1/sync_run/": ("admin", "support", "operations", "viewer"),
    "/api/v1/search/?q=buyer@example.com": ALL,
}


@pytest.fixture
def shipped(world, session):
    actor = Actor.system()
    fulfillment.start_picking(session, world.order_id, actor)
    fulfillment.mark_packed(session, world.order_id, actor)
    shipment = fulfillment.ship(session, world.order_id, actor, carrier="ups",
                                tracking_number="1Z999")
    line = world.order.lines[0]
    rma = returns.create_return(session, world.order_id, {line.id: 1}, "too_small", actor)
    return shipment.id, rma.id


@pytest.fixture
def conflict(world):
    """An order with an unknown SKU: held, with an open sync conflict."""
    return world.make.order(world.channel, [("MYSTERY-9", 1, "3.00")])


@pytest.fixture
def rule(session):
    row = Rule(name="Big orders", position=10, stage="on_import", match="all",
               conditions=[{"field": "total", "op": "gt", "value": 500}],
               actions=[{"type": "hold", "reason": "review"}], enabled=True)
    session.add(row)
    session.commit()
    return row.id


@pytest.mark.parametrize("role", ALL + (None,))
def test_read_permissions(api, world, shipped, conflict, rule, role):
    for url, readers in READERS.items():
        response = api.get(url, as_=role)
        if role is None:
            assert_error(response, 401)
        elif role in readers:
            assert response.status_code == 200, (url, role, response.get_json())
        else:
            assert_error(response, 403, code="forbidden")


def test_no_generic_writes_on_read_only_resources(api, world, shipped, conflict, rule):
    for resource in ("order", "customer", "stock_level", "stock_movement", "shipment",
                     "return", "sync_conflict", "rule"):
        if resource != "return":  # POST /api/v1/return/ opens a return (returns.create)
            assert_error(api.post(f"/api/v1/{resource}/", {}), 405)
        assert_error(api.put(f"/api/v1/{resource}/1", {}), 405)
        assert_error(api.delete(f"/api/v1/{resource}/1"), 405)


def test_customer_show_has_recent_orders(api, world):
    listing = api.get(
        "/api/v1/customer/?q=(filters:!((col:email,opr:eq,value:'buyer@example.com')))")
    [customer] = listing.get_json()["result"]
    body = api.get(f"/api/v1/customer/{customer['id']}").get_json()["result"]
    assert body["email"] == "buyer@example.com"
    assert [o["order_number"] for o in body["recent_orders"]] == [world.order.order_number]
    assert_error(api.get("/api/v1/customer/999999"), 404)


def test_shipment_show_has_lines_and_tracking(api, world, shipped):
    shipment_id, _ = shipped
    listing = api.get("/api/v1/shipment/?q=(filters:!((col:tracking_number,opr:eq,value:'1Z999')))")
    assert listing.get_json()["ids"] == [shipment_id]
    body = api.get(f"/api/v1/shipment/{shipment_id}").get_json()["result"]
    assert body["order_number"] == world.order.order_number and body["carrier"] == "ups"
    assert sorted(l["sku"] for l in body["lines"]) == ["SKU-2", "sku-1"]
    assert_error(api.get("/api/v1/shipment/999999"), 404)


def test_return_show_has_lines(api, world, shipped):
    _, return_id = shipped
    body = api.get(f"/api/v1/return/{return_id}").get_json()["result"]
    assert body["rma_number"].startswith("RMA-") and body["status"] == ("requested")
    assert [(l["sku"], l["quantity"]) for l in body["lines"]] == [("sku-1", 1)]
    assert body["refunds"] == []


def test_sync_conflicts_list_and_show(api, conflict):
    listing = api.get("/api/v1/sync_conflict/?q=(filters:!((col:status,opr:eq,value:open)))")
    [row] = listing.get_json()["result"]
    assert row["kind"] == "unknown_sku" and row["channel"] == {"code": "shop"}
    detail = api.get(f"/api/v1/sync_conflict/{row['id']}").get_json()["result"]
    assert "raw_payload" in detail
    orders = api.get(f"/api/v1/order/?q=(filters:!((col:status,opr:eq,value:{conflict.status})))")
    held = [r for r in orders.get_json()["result"] if r["id"] == conflict.id]
    assert held and held[0]["is_held"] is True


def test_rules_list_and_show(api, rule):
    [row] = api.get("/api/v1/rule/").get_json()["result"]
    assert row["name"] == "Big orders" and "conditions" not in row
    detail = api.get(f"/api/v1/rule/{rule}").get_json()["result"]
    assert detail["actions"] == [{"type": "hold", "reason": "review"}]


# --- search ---------------------------------------------------------------------------------

def test_search_finds_orders_and_customers(api, world, shipped):
    by_number = api.get("/api/v1/search/", query_string={"q": world.order.order_number})
    body = by_number.get_json()
    assert [o["id"] for o in body["orders"]] == [world.order_id]
    assert body["orders"][0]["channel_code"] == "shop"
    by_tracking = api.get("/api/v1/search/?q=1Z999").get_json()
    assert [o["id"] for o in by_tracking["orders"]] == [world.order_id]
    by_email = api.get("/api/v1/search/?q=BUYER@example.com").get_json()
    assert by_email["count"] == 2 and by_email["customers"][0]["email"] == "buyer@example.com"
    by_name = api.get("/api/v1/search/?q=ada").get_json()
    assert by_name["customers"] and by_name["orders"]
    assert api.get("/api/v1/search/?q=").get_json()["count"] == 0


def test_search_bad_input_is_422(api, world):
    assert_error(api.get("/api/v1/search/?q=x&limit=0"), 422, "limit")
    assert_error(api.get("/api/v1/search/?q=x&limit=lots"), 422, "limit")
    assert_error(api.get("/api/v1/search/", query_string={"q": "x" * 201}), 422, "q")


def test_search_has_no_n_plus_1(api, world, count_queries):
    for _ in range(10):
        world.make.order(world.channel, [("SKU-2", 1, "1.00")])
    api.get("/api/v1/search/?q=ada")
    with count_queries() as counter:
        body = api.get("/api/v1/search/?q=ada&limit=50").get_json()
    assert len(body["orders"]) == 11
    assert len(counter.domain()) <= 5, counter.domain()
