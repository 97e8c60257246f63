"""/api/v1/setting/: read by Admin and Operations, changed by Admin, audited."""
from __future__ import annotations

from sqlalchemy import select

from app.models import AuditLog

from .conftest import assert_error


def test_settings_read_permissions(api):
    for role in ("admin", "operations"):
        body = api.get("/api/v1/setting/", as_=role).get_json()
        keys = {s["key"]: s for s in body["result"]}
        assert keys["allow_split"]["value"] is True and keys["allow_split"]["is_default"]
        assert keys["risk_review_threshold"]["value"] == "5000"
    for role in ("support", "warehouse", "viewer"):
        assert_error(api.get("/api/v1/setting/", as_=role), 403)
        assert_error(api.get("/api/v1/setting/allow_split", as_=role), 403)


def test_admin_changes_a_setting_and_it_is_audited(api, session):
    assert_error(api.put("/api/v1/setting/allow_split", {"value": False}, as_="operations"), 403)
    response = api.put("/api/v1/setting/allow_split", {"value": False}, as_="admin")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"]["value"] is False
    assert api.get("/api/v1/setting/allow_split").get_json()["result"]["is_default"] is False
    [row] = session.scalars(select(AuditLog).where(AuditLog.entity == "setting")).all()
    assert row.changes == {"allow_split": {"old": True, "new": False}}


def test_setting_bad_input(api, session):
    assert_error(api.put("/api/v1/setting/backorder_policy", {"value": "panic"}), 422,
                 "backorder_policy")
    assert_error(api.put("/api/v1/setting/ship_by_days", {"value": -1}), 422, "ship_by_days")
    assert_error(api.put("/api/v1/setting/ship_by_days", {}), 422, "value")
    assert_error(api.put("/api/v1/setting/nope", {"value": 1}), 404)
    assert_error(api.get("/api/v1/setting/nope"), 404)
    assert session.scalars(select(AuditLog).where(AuditLog.entity == "setting")).all() == []
