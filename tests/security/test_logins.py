"""Sign-in limits, lockout, server-side sessions, safe redirects and security headers,
through the real HTML and JSON logins (app/services/core/logins.py, app/security/)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, LoginAttempt, LoginSession
from app.security.redirects import safe_local_path
from tests.conftest import CSRF_RE, PASSWORD, login


def html_login(client, username, password):
    page = client.get("/login/")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    return client.post("/login/", data={"username": username, "password": password,
                                        "csrf_token": token})


def api_login(client, username, password, address="127.0.0.1"):
    return client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"},
        environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def lockout(app, monkeypatch):
    monkeypatch.setitem(app.config, "OMS_LOGIN_LOCKOUT_FAILURES", 3)
    monkeypatch.setitem(app.config, "OMS_LOGIN_LOCKOUT_SECONDS", 600)


def test_an_account_locks_after_n_failures_with_a_message_and_an_audit_row(app, lockout):
    client = app.test_client()
    for _ in range(3):
        response = html_login(client, "warehouse", "wrong password")
        assert response.status_code == 302  # back to the form: "Invalid login"
    # Locked: even the right password is refused, in words, on both logins.
    response = html_login(client, "warehouse", PASSWORD.format(role="warehouse"))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 500
    assert "This account is locked after 3 failed sign-ins; try again in 10 minutes" in \
        response.get_data(as_text=True)
    response = api_login(app.test_client(), "warehouse", PASSWORD.format(role="warehouse"),
                         address="10.0.0.7")
    assert response.status_code == 429
    assert response.json["code"] == "account_locked"
    assert "locked" in response.json["message"]

    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "locked")).all()
    assert len(audit) == 1
    assert audit[0].entity == "user" and audit[0].changes["username"] == "warehouse"
    assert audit[0].changes["failures"] == 3

    # Ten minutes later (the failures moved back in time) the right password works and
    # clears the account's failures.
    for attempt in db.session.scalars(select(LoginAttempt)):
        attempt.attempted_at -= timedelta(minutes=11)
    db.session.commit()
    assert html_login(app.test_client(), "warehouse",
                      PASSWORD.format(role="warehouse")).status_code == 302
    assert api_login(app.test_client(), "warehouse", PASSWORD.format(role="warehouse")
                     ).status_code == 200
    left = db.session.scalars(select(LoginAttempt).where(LoginAttempt.cleared.is_(False))).all()
    assert left == []


def test_a_success_resets_the_count_towards_lockout(app, lockout):
    client = app.test_client()
    for _ in range(2):
        html_login(client, "viewer", "nope")
    assert html_login(client, "viewer", PASSWORD.format(role="viewer")).status_code == 302
    for _ in range(2):
        assert api_login(app.test_client(), "viewer", "nope").status_code == 401
    assert api_login(app.test_client(), "viewer", PASSWORD.format(role="viewer")
                     ).status_code == 200


def test_the_address_limit_counts_failures_of_every_account(app, monkeypatch):
    monkeypatch.setitem(app.config, "AUTH_RATE_LIMITED", True)
    monkeypatch.setitem(app.config, "AUTH_RATE_LIMIT", "4 per 60 second")
    client = app.test_client()
    statuses = [api_login(client, name, "wrong", address="10.1.1.1").status_code
                for name in ("a", "b", "c", "d", "e", "f")]
    assert statuses == [401, 401, 401, 401, 429, 429]
    refused = api_login(client, "support", PASSWORD.format(role="support"), address="10.1.1.1")
    assert refused.status_code == 429 and refused.json["code"] == "too_many_attempts"
    assert "Too many sign-in attempts from your address" in refused.json["message"]
    # Another address is not affected.
    assert api_login(client, "support", PASSWORD.format(role="support"),
                     address="10.1.1.2").status_code == 200


def test_signing_out_ends_the_session_on_the_server(app):
    client = login(app.test_client(), "support")
    assert client.get("/orders/list/").status_code == 200
    cookie = client.get_cookie("session").value
    assert db.session.scalar(select(LoginSession.user_id)) is not None

    assert client.get("/logout/").status_code == 302
    assert db.session.scalars(select(LoginSession)).all() == []

    # The cookie as it was before signing out (a copy kept by an attacker) signs nobody in.
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    response = replay.get("/orders/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_other_sessions_of_the_user_stay_signed_in_and_deactivation_ends_all(app):
    first, second = login(app.test_client(), "support"), login(app.test_client(), "support")
    first.get("/logout/")
    assert second.get("/orders/list/").status_code == 200
    sm = app.appbuilder.sm
    user = sm.find_user(username="support")
    user.active = False
    sm.update_user(user)
    try:
        assert db.session.scalars(select(LoginSession)).all() == []
        assert second.get("/orders/list/").status_code == 302
    finally:
        user = sm.find_user(username="support")
        user.active = True
        sm.update_user(user)


@pytest.mark.parametrize("target", [
    "/\t/evil.example/", "//evil.example/", "/\\evil.example", "/\n/evil.example",
    "https://evil.example/", "javascript:alert(1)", "evil.example", "/%09/evil.example",
    " //evil.example",
])
def test_next_accepts_only_paths_of_this_site(target):
    result = safe_local_path(target)
    assert result is None or (result.startswith("/") and not result.startswith("//")
                              and "evil" not in result.split("/")[1]), result


def test_safe_paths_pass():
    assert safe_local_path("/review/list/?page=2") == "/review/list/?page=2"
    assert safe_local_path("/orders/show/7#timeline") == "/orders/show/7#timeline"


@pytest.mark.parametrize("target", ["/\t/evil.example/", "//evil.example/", "/\\evil.example",
                                    "https://evil.example/x"])
def test_the_review_redirect_stays_on_the_site(client_for, target):
    client = client_for("support")
    response = client.post("/review/999999/approve",
                           data={"csrf_token": client.csrf_token, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/review/list/")


def test_the_login_redirect_stays_on_the_site(app):
    client = app.test_client()
    page = client.get("/login/?next=/%09/evil.example/")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    response = client.post("/login/?next=/%09/evil.example/", data={
        "username": "viewer", "password": PASSWORD.format(role="viewer"), "csrf_token": token})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    for target, expected in (("/orders/list/", "/orders/list/"),
                             # FAB's "please sign in" links carry the page's full URL
                             ("http://localhost/orders/list/?page=2", "/orders/list/?page=2"),
                             ("http://localhost//evil.example/", "/"),
                             ("http://evil.example/orders/list/", "/"),
                             ("/\\evil.example", "/")):
        response = client.get("/login/", query_string={"next": target})
        location = response.headers["Location"]
        assert location == expected or location.endswith("/dashboard/") and expected == "/", \
            (target, location)


def test_every_response_carries_the_security_headers(client_for):
    client = client_for("admin")
    for url in ("/login/", "/orders/list/", "/api/v1/order/", "/static/js/oms.js", "/nowhere"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, url
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    # FAB's inline scripts carry this response's nonce, and only they can run.
    response = client.get("/orders/list/")
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    html = response.get_data(as_text=True)
    assert f'nonce="{nonce}"' in html
    inline = [tag for tag in re.findall(r"<script[^>]*>", html) if "src=" not in tag]
    assert inline and all(f'nonce="{nonce}"' in tag for tag in inline), inline
