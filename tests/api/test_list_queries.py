"""Every list endpoint answers a page with a fixed number of statements (no query per
row): the count, the page (related columns joined), at most one more batch query."""
from __future__ import annotations

import pytest

from sqlalchemy import select

from app.models import Channel, Rule
from app.services.channels import sync

LISTS = ["order", "customer", "stock_level", "stock_movement", "shipment", "return",
         "warehouse", "product", "channel", "sync_conflict", "sync_run", "rule", "sku_alias"]


@pytest.fixture
def busy(api, world, session):
    """At least three rows of every resource."""
    make = world.make
    make.channel("web", kind="woocommerce")
    make.channel("amz", kind="amazon")
    make.warehouse("WH3")
    make.product("SKU-3")
    for i in range(3):
        assert api.post("/api/v1/sku_alias/", {"alias": f"A-{i}", "sku": "SKU-1",
                                               "channel_id": world.channel.id}).status_code == 201
    orders = [make.order(world.channel, [("SKU-2", 1, "2.00"), ("SKU-1", 1, "1.00")],
                         email=f"c{i}@example.com") for i in range(3)]
    for i in range(3):
        make.order(world.channel, [(f"UNKNOWN-{i}", 1, "1.00")])
    for order in orders:
        for step in ("pick", "pack"):
            assert api.post(f"/api/v1/shipment/order/{order.id}/{step}").status_code == 200
        shipment = api.post(f"/api/v1/shipment/order/{order.id}/ship", {"carrier": "ups"})
        assert shipment.status_code == 201
        line_id = api.get(f"/api/v1/order/{order.id}").get_json()["result"]["lines"][0]["id"]
        assert api.post("/api/v1/return/", {"order_id": order.id, "reason": "changed_mind",
                                            "lines": {str(line_id): 1}}).status_code == 201
    for channel in session.scalars(select(Channel)):
        run = sync.start_run(session, channel, "pull_orders", None)
        sync.finish_run(session, run, sync.PullStats(), "succeeded", None)
    session.commit()
    for i in range(3):
        session.add(Rule(name=f"rule {i}", position=i, conditions=[], actions=[]))
    session.commit()


def test_list_statements_do_not_grow_with_rows(api, busy, count_queries):
    problems = {}
    for resource in LISTS:  # one world for all: building it is the slow part
        api.get(f"/api/v1/{resource}/")  # warm up
        with count_queries() as counter:
            body = api.get(f"/api/v1/{resource}/?q=(page_size:50)").get_json()
        assert len(body["result"]) >= 3, (resource, body)
        if len(counter.domain()) > 3:
            problems[resource] = counter.domain()
    assert not problems, problems
