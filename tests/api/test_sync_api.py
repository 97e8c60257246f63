"""/api/v1/sync_conflict/<pk>/resolve and /api/v1/sync_run/."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditLog, SyncConflict
from app.services import sync

from .conftest import assert_error


@pytest.fixture
def conflict_id(world, session):
    world.make.order(world.channel, [("MYSTERY-1", 1, "3.00")])
    session.rollback()
    return session.scalar(select(SyncConflict.id))


@pytest.mark.parametrize("role,allowed", [("admin", True), ("operations", True),
                                          ("support", False), ("warehouse", False),
                                          ("viewer", False)])
def test_resolve_permissions(api, conflict_id, session, role, allowed):
    response = api.post(f"/api/v1/sync_conflict/{conflict_id}/resolve",
                        {"note": "mapped MYSTERY-1 to SKU-1"}, as_=role)
    if allowed:
        assert response.status_code == 200, response.get_json()
        result = response.get_json()["result"]
        assert result["status"] == "resolved" and result["resolved_by"] == f"user:{role}"
    else:
        assert_error(response, 403)
        session.rollback()
        assert session.get(SyncConflict, conflict_id).status == "open"


def test_resolve_is_audited_and_happens_once(api, conflict_id, session):
    url = f"/api/v1/sync_conflict/{conflict_id}/resolve"
    assert_error(api.post(url, {"status": "discarded"}), 422, "note")  # say why
    assert_error(api.post(url, {"status": "ignored", "note": "x"}), 422, "status")
    assert_error(api.post(url, {"note": "x" * 2001}), 422, "note")
    session.rollback()
    assert session.get(SyncConflict, conflict_id).status == "open"
    assert api.post(url, {"status": "discarded", "note": "test order"}).status_code == 200
    assert_error(api.post(url, {"note": "again"}), 409, "status", "invalid_transition")
    assert_error(api.post("/api/v1/sync_conflict/999999/resolve", {"note": "x"}), 404)
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "sync_conflict")).all()
    assert [a.action for a in audit] == ["discarded"]
    listed = api.get("/api/v1/sync_conflict/?q=(filters:!((col:status,opr:eq,value:discarded)))")
    assert listed.get_json()["ids"] == [conflict_id]


def test_sync_runs_are_listed_for_sync_readers(api, world, session):
    run = sync.start_run(session, world.channel, "pull_orders", None)
    sync.finish_run(session, run, sync.PullStats(), "succeeded", "2026-11-01T00:00:00Z")
    session.commit()
    body = api.get("/api/v1/sync_run/", as_="support").get_json()
    assert [(r["job"], r["status"], r["channel"]["code"]) for r in body["result"]] == [
        ("pull_orders", "succeeded", "shop")]
    assert api.get(f"/api/v1/sync_run/{run.id}", as_="viewer").status_code == 200
    assert_error(api.get("/api/v1/sync_run/", as_="warehouse"), 403)
