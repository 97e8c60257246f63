"""Admins' security pages (API keys, the roles matrix), the audit of users, roles and API
keys, no User's Statistics page, and sync errors as Support and Viewer read them."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, SyncRun
from app.models.base import utcnow
from app.security.roles import ROLE_MATRIX, ROW_LABELS
from tests.conftest import PASSWORD


def audit_rows(entity):
    return db.session.scalars(select(AuditLog).where(AuditLog.entity == entity)
                              .order_by(AuditLog.id)).all()


def test_an_admin_creates_a_key_that_is_shown_once_works_and_can_be_revoked(app, client_for):
    admin = client_for("admin")
    response = admin.post("/api-keys/create", data={
        "csrf_token": admin.csrf_token, "username": "warehouse", "name": "label printer"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    key = re.search(r'<pre id="oms-new-api-key">(wb_[^<]+)</pre>', response.get_data(as_text=True)
                    ).group(1)
    listing = admin.get("/api-keys/").get_data(as_text=True)
    assert "label printer" in listing and key not in listing and "never" in listing

    # The key signs the program in as its user, with that user's roles.
    api = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert api.get("/api/v1/stock_level/", headers=headers).status_code == 200
    assert api.get("/api/v1/setting/", headers=headers).status_code in (403, 404)
    listing = admin.get("/api-keys/").get_data(as_text=True)
    assert "never" not in listing  # last used is shown

    uuid = re.search(r'/api-keys/([0-9a-f-]{36})/revoke', listing).group(1)
    response = admin.post(f"/api-keys/{uuid}/revoke", data={"csrf_token": admin.csrf_token})
    assert response.status_code == 302
    assert api.get("/api/v1/stock_level/", headers=headers).status_code == 401
    assert "revoked" in admin.get("/api-keys/").get_data(as_text=True)

    rows = audit_rows("api_key")
    assert [(r.action, r.actor) for r in rows] == [("created", "user:admin"),
                                                    ("revoked", "user:admin")]
    assert rows[0].changes["name"] == {"new": "label printer"}
    assert rows[0].changes["key_hash"] == {"old": None, "new": "********"}
    assert key not in str(rows[0].changes)


def test_the_api_keys_page_refuses_bad_input_other_roles_and_missing_csrf(client_for):
    admin = client_for("admin")
    response = admin.post("/api-keys/create", data={
        "csrf_token": admin.csrf_token, "username": "nobody", "name": "x"})
    assert response.status_code == 422 and "unknown user" in response.get_data(as_text=True)
    assert admin.post("/api-keys/create", data={"username": "admin", "name": "x"}
                      ).status_code == 400  # no CSRF token
    operations = client_for("operations")
    assert operations.get("/api-keys/").status_code == 403
    assert operations.post("/api-keys/create", data={
        "csrf_token": operations.csrf_token, "username": "operations", "name": "x"}
    ).status_code == 403
    assert audit_rows("api_key") == []


def test_changes_to_users_and_roles_are_audited_and_sign_ins_are_not(app, client_for):
    sm = app.appbuilder.sm
    client_for("viewer")  # a sign-in updates FAB's counters: not an audited change
    assert audit_rows("user") == []

    user = sm.find_user(username="viewer")
    user.roles = [sm.find_role("Viewer"), sm.find_role("Support")]
    user.email = "viewer.new@example.com"
    sm.update_user(user)
    role = sm.find_role("Viewer")
    extra = sm.find_permission_view_menu("can_read", "Setting")
    role.permissions = role.permissions + [extra]
    db.session.commit()
    try:
        (user_row,) = audit_rows("user")
        assert user_row.action == "updated" and user_row.entity_id == "viewer"
        assert user_row.changes["roles"] == {"added": ["Support"], "removed": []}
        assert user_row.changes["email"] == {"old": "viewer@example.com",
                                             "new": "viewer.new@example.com"}
        (role_row,) = audit_rows("role")
        assert role_row.changes["permissions"] == {"added": ["can_read on Setting"],
                                                   "removed": []}
        new = sm.add_user("newbie", "New", "Bie", "newbie@example.com", sm.find_role("Viewer"),
                          PASSWORD.format(role="newbie"))
        created = audit_rows("user")[-1]
        assert created.action == "created" and created.entity_id == "newbie"
        assert created.changes["password"] == {"old": None, "new": "********"}
        db.session.delete(new)
        db.session.commit()
        assert audit_rows("user")[-1].action == "deleted"
    finally:
        user = sm.find_user(username="viewer")
        user.roles, user.email = [sm.find_role("Viewer")], "viewer@example.com"
        role = sm.find_role("Viewer")
        role.permissions = [pv for pv in role.permissions if pv is not extra]
        db.session.commit()


def test_the_roles_page_shows_the_matrix_in_words(client_for):
    html = client_for("admin").get("/roles/list/").get_data(as_text=True)
    table = html.split('class="table table-hover table-condensed oms-roles-matrix"')[1]
    for label in ROW_LABELS.values():
        assert label in table
    assert table.count("fa-check") == sum(len(roles) for roles in ROLE_MATRIX.values())
    assert "[can_" not in html and "can_hold on Order" not in table.split("title=")[0]
    assert client_for("support").get("/roles/list/").status_code == 403


def test_no_page_loads_google_charts(client_for):
    admin = client_for("admin")
    assert admin.get("/userstatschartview/chart/").status_code == 404
    for url in ("/users/list/", "/roles/list/", "/api-keys/", "/orders/list/"):
        html = admin.get(url).get_data(as_text=True)
        assert "User's Statistics" not in html and "gstatic" not in html, url


TRACEBACK = ("ConnectionError: channel answered 502\nTraceback (most recent call last):\n"
             '  File "/srv/waybill/connectors/http.py", line 88, in get\n'
             "    raise ConnectionError(...)\n")


def test_sync_errors_show_no_traceback_or_path_to_support_and_viewer(make, client_for,
                                                                     api_headers, app):
    channel = make.channel("web")
    run = SyncRun(channel_id=channel.id, job="pull_orders", status="failed",
                  started_at=utcnow(), finished_at=utcnow(), error_message=TRACEBACK)
    db.session.add(run)
    db.session.commit()
    for role in ("support", "viewer"):
        client = client_for(role)
        for url in ("/sync-runs/list/", f"/sync-runs/show/{run.id}"):
            html = client.get(url).get_data(as_text=True)
            assert "channel answered 502" in html, (role, url)
            assert "Traceback" not in html and "/srv/waybill" not in html, (role, url)
        body = app.test_client().get(f"/api/v1/sync_run/{run.id}",
                                     headers=api_headers(role)).json
        assert body["result"]["error_message"] == "ConnectionError: channel answered 502"
    html = client_for("viewer").get(f"/channels/show/{channel.id}").get_data(as_text=True)
    assert "Traceback" not in html and "/srv/waybill" not in html
    # Operations resolves sync problems: it reads the whole error.
    html = client_for("operations").get(f"/sync-runs/show/{run.id}").get_data(as_text=True)
    assert "/srv/waybill/connectors/http.py" in html
    body = app.test_client().get(f"/api/v1/sync_run/{run.id}",
                                 headers=api_headers("operations")).json
    assert "Traceback" in body["result"]["error_message"]


def test_a_role_sync_writes_one_audit_row_per_changed_role(app):
    from app.security.manager import sync_roles

    sm = app.appbuilder.sm
    role = sm.find_role("Warehouse")
    kept = list(role.permissions)
    role.permissions = kept[2:]  # two permissions lost by hand...
    db.session.commit()
    db.session.execute(AuditLog.__table__.delete())
    db.session.commit()
    sync_roles(app.appbuilder)  # ...and given back by the sync: one row, both named
    rows = audit_rows("role")
    assert [(r.entity_id, r.action, r.actor) for r in rows] == [("Warehouse", "updated", "system")]
    assert sorted(rows[0].changes["permissions"]["added"]) == sorted(
        f"{pv.permission.name} on {pv.view_menu.name}" for pv in kept[:2])
    sync_roles(app.appbuilder)
    assert len(audit_rows("role")) == 1  # nothing changed: nothing written
