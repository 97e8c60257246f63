"""Sync through the API: conflict resolutions (services/channels/conflicts.py), sync runs, and the
channel operations poll now, test connection, re-pull one order (services/channels/ops.py)
against the channel sandbox over real HTTP."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditLog, Order, SyncConflict, SyncRun
from app.services.channels import sync
from tests.sync.conftest import _sandbox_server, sandbox, sandbox_channels  # noqa: F401

from .conftest import assert_error


@pytest.fixture
def conflict_id(world, session):
    world.make.order(world.channel, [("MYSTERY-1", 1, "3.00")])
    session.rollback()
    return session.scalar(select(SyncConflict.id))


def conflict(session, pk):
    session.rollback()
    return session.get(SyncConflict, pk)


@pytest.mark.parametrize("role,allowed", [("admin", True), ("operations", True),
                                          ("support", False), ("warehouse", False),
                                          ("viewer", False)])
def test_resolve_permissions(api, conflict_id, session, role, allowed):
    response = api.post(f"/api/v1/sync_conflict/{conflict_id}/resolve",
                        {"note": "asked the shop to fix the listing"}, as_=role)
    if allowed:
        assert response.status_code == 200, response.get_json()
        result = response.get_json()["result"]
        assert result["status"] == "resolved" and result["resolved_by"] == f"user:{role}"
    else:
        assert_error(response, 403)
        assert conflict(session, conflict_id).status == "open"


def test_map_sku_resolves_and_releases_the_held_order(api, world, conflict_id, session):
    order_id = conflict(session, conflict_id).order_id
    assert session.get(Order, order_id).status == "new"  # held: unknown SKU
    response = api.post(f"/api/v1/sync_conflict/{conflict_id}/resolve",
                        {"resolution": "map_sku", "product_sku": "sku-1"}, as_="operations")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["result"]["resolution"] == "map_sku"
    assert body["mapped"]["released_order_ids"] == [order_id]
    session.rollback()
    assert session.get(Order, order_id).status == "allocated"
    aliases = api.get("/api/v1/sku_alias/").get_json()["result"]
    assert [a["alias"] for a in aliases] == ["MYSTERY-1"]


def test_resolve_bad_input_and_twice(api, conflict_id, session):
    url = f"/api/v1/sync_conflict/{conflict_id}/resolve"
    assert_error(api.post(url, {"resolution": "discard"}), 422, "note")  # say why (the body names it note)
    assert_error(api.post(url, {"resolution": "ignore"}), 422, "resolution")
    assert_error(api.post(url, {"note": "x" * 2001}), 422, "note")
    assert_error(api.post(url, {"resolution": "map_sku"}), 422, "product_id")
    assert_error(api.post(url, {"resolution": "map_sku", "product_sku": "NOPE"}), 422,
                 "product_sku")
    assert_error(api.post(url, {"resolution": "take_remote"}), 422, "kind")  # not a local edit
    assert conflict(session, conflict_id).status == "open"
    assert api.post(url, {"resolution": "discard", "note": "test order"}).status_code == 200
    assert_error(api.post(url, {"note": "again"}), 409)
    assert_error(api.post("/api/v1/sync_conflict/999999/resolve", {"note": "x"}), 404)
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "sync_conflict")).all()
    assert len(audit) == 1
    listed = api.get("/api/v1/sync_conflict/?q=(filters:!((col:status,opr:eq,value:discarded)))")
    assert listed.get_json()["ids"] == [conflict_id]


def test_bulk_discard_reports_each_conflict(api, world, conflict_id, session):
    world.make.order(world.channel, [("MYSTERY-2", 1, "3.00")])
    session.rollback()
    ids = sorted(session.scalars(select(SyncConflict.id)))
    assert_error(api.post("/api/v1/sync_conflict/bulk", {"action": "discard", "ids": ids}),
                 422, "reason")
    assert_error(api.post("/api/v1/sync_conflict/bulk",
                          {"action": "discard", "ids": ids, "reason": "x"}, as_="support"), 403)
    response = api.post("/api/v1/sync_conflict/bulk",
                        {"action": "discard", "ids": ids + [999999], "reason": "test orders"},
                        as_="operations")
    result = response.get_json()["result"]
    assert result["succeeded"] == ids
    assert [f["id"] for f in result["failed"]] == [999999]


def test_sync_runs_are_listed_for_sync_readers(api, world, session):
    run = sync.start_run(session, world.channel, "pull_orders", None)
    sync.finish_run(session, run, sync.PullStats(), "succeeded", "2026-11-01T00:00:00Z")
    session.commit()
    body = api.get("/api/v1/sync_run/", as_="support").get_json()
    assert [(r["job"], r["status"], r["channel"]["code"]) for r in body["result"]] == [
        ("pull_orders", "succeeded", "shop")]
    assert api.get(f"/api/v1/sync_run/{run.id}", as_="viewer").status_code == 200
    assert_error(api.get("/api/v1/sync_run/", as_="warehouse"), 403)


# --- channel operations against the sandbox --------------------------------------------------

def test_poll_now_test_connection_and_repull(api, sandbox, sandbox_channels, session):
    state, _root = sandbox
    state.create_orders("shopify", 3)
    channel = sandbox_channels["shopify"]
    assert_error(api.post(f"/api/v1/sync_run/poll/{channel.id}", as_="support"), 403)
    polled = api.post(f"/api/v1/sync_run/poll/{channel.id}", as_="operations")
    assert polled.status_code == 201, polled.get_json()
    run = polled.get_json()["result"]
    assert run["status"] == "succeeded" and run["created"] == 3
    assert session.scalar(select(SyncRun.id).where(SyncRun.id == polled.get_json()["id"]))

    check = api.post(f"/api/v1/channel/{channel.id}/test-connection", as_="operations")
    assert check.status_code == 200 and check.get_json()["result"]["ok"] is True
    assert_error(api.post(f"/api/v1/channel/{channel.id}/test-connection", as_="viewer"), 403)

    external_id = session.scalar(select(Order.external_id).where(Order.channel_id == channel.id))
    repulled = api.post(f"/api/v1/channel/{channel.id}/repull", {"external_id": external_id},
                        as_="operations")
    assert repulled.status_code == 200, repulled.get_json()
    assert repulled.get_json()["result"]["outcome"] in ("unchanged", "updated")
    assert_error(api.post(f"/api/v1/channel/{channel.id}/repull", {}), 422, "external_id")
    assert_error(api.post(f"/api/v1/channel/{channel.id}/repull", {"external_id": "nope-1"}),
                 404)


def test_channel_operations_refuse_channels_without_a_connector(api, world):
    # the channel's state (no base URL) does not allow it: 409, naming the field
    assert_error(api.post(f"/api/v1/sync_run/poll/{world.channel.id}"), 409, "base_url")
    assert_error(api.post(f"/api/v1/channel/{world.channel.id}/test-connection"), 409,
                 "base_url")
    assert_error(api.post("/api/v1/sync_run/poll/999999"), 404)


def test_a_channel_s_own_ship_by_through_the_api(api, world):
    channel_id = world.channel.id
    body = {"ship_by_days": 3, "sla_cutoff_hour": 16, "ship_by_methods": {"Express": 1}}
    response = api.put(f"/api/v1/channel/{channel_id}", body, as_="operations")
    assert response.status_code == 200, response.get_json()
    shown = api.get(f"/api/v1/channel/{channel_id}").get_json()["result"]
    assert {k: shown[k] for k in body} == body
    refused = api.put(f"/api/v1/channel/{channel_id}", {"ship_by_methods": {"Express": 91}}, as_="operations")
    assert refused.status_code == 422 and "ship_by_methods" in str(refused.get_json())
    assert api.put(f"/api/v1/channel/{channel_id}", body, as_="support").status_code == 403
