"""Stored credentials never leave with a changed URL (issue 10, point 1).

An Operations user points a channel's base URL at a server of theirs (a small HTTP server
on 127.0.0.1 that records every request) through the HTML form and through the REST API,
both over real HTTP to a live Waybill, then presses "test connection": without the
credentials entered again the change is refused (the form and the API name the
credentials field), nothing is saved, and the recording server sees nothing. With the
credentials entered again the change is saved, audited, and test connection goes there,
carrying only the new credentials."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Channel
from app.services.channels import config as channels
from app.services.core import credential_targets
from connectors.sandbox import DEFAULT_CREDENTIALS
from tests.conftest import CSRF_RE, PASSWORD

NEW_CREDENTIALS = {
    "shopify": {"access_token": "shpat_reentered_by_ops_42"},
    "woocommerce": {"consumer_key": "ck_reentered_by_ops_42", "consumer_secret": "cs_reentered_42"},
}


@pytest.fixture
def recorder():
    """A server of "theirs": records each request line and headers, answers 200 {}."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("latin-1") if length else ""
            seen.append(f"{self.command} {self.path}\n{self.headers}\n{body}")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _record

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    thread.join(timeout=5)


def browser_login(root: str, username: str) -> requests.Session:
    http = requests.Session()
    token = CSRF_RE.search(http.get(f"{root}/login/", timeout=10).text).group(1)
    response = http.post(f"{root}/login/", allow_redirects=False, timeout=10, data={
        "username": username, "password": PASSWORD.format(role=username), "csrf_token": token})
    assert response.status_code == 302
    http.csrf_token = token
    return http


def api_login(root: str, username: str) -> dict:
    response = requests.post(f"{root}/api/v1/security/login", timeout=10, json={
        "username": username, "password": PASSWORD.format(role=username), "provider": "db"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def edit_form(channel: Channel, base_url: str, credentials: str = "") -> dict:
    return {"code": channel.code, "name": channel.name, "kind": channel.kind,
            "base_url": base_url, "poll_interval_seconds": "300", "backfill_days": "365",
            "stock_buffer": "0", "enabled": "y", "credentials": credentials,
            "webhook_secret": ""}


def stored(channel_id: int) -> Channel:
    db.session.rollback()
    return db.session.get(Channel, channel_id)


def secrets_in(seen: list[str], kind: str) -> list[str]:
    values = list(DEFAULT_CREDENTIALS[kind].values())
    return [v for v in values if any(v in request for request in seen)]


@pytest.mark.parametrize("kind", ["shopify", "woocommerce"])
def test_a_changed_url_without_credentials_is_refused_and_nothing_leaves(
        sandbox, sandbox_channels, waybill_server, recorder, kind):
    theirs, seen = recorder
    channel = sandbox_channels[kind]
    channel_id, sandbox_url = channel.id, channel.base_url
    evil_url = f"{theirs}/{kind}/demo"

    # The HTML form: the edit is refused on the credentials field, nothing saved.
    page = browser_login(waybill_server, "operations")
    response = page.post(f"{waybill_server}/channels/edit/{channel_id}", allow_redirects=False,
                         timeout=10, data={"csrf_token": page.csrf_token,
                                           **edit_form(channel, evil_url)})
    assert response.status_code == 200
    assert "enter the credentials again to change the base url" in response.text
    assert stored(channel_id).base_url == sandbox_url

    # The REST API: 422 naming the field, nothing saved.
    headers = api_login(waybill_server, "operations")
    response = requests.put(f"{waybill_server}/api/v1/channel/{channel_id}", headers=headers,
                            json={"base_url": evil_url}, timeout=10)
    assert response.status_code == 422, response.text
    assert "credentials" in response.json()["errors"]
    response = requests.put(f"{waybill_server}/api/v1/channel/{channel_id}", headers=headers,
                            json={"base_url": evil_url, "credentials": None}, timeout=10)
    assert response.status_code == 422 and "credentials" in response.json()["errors"]
    assert stored(channel_id).base_url == sandbox_url

    # Test connection (page and API) still talks to the sandbox only.
    page.post(f"{waybill_server}/channels/{channel_id}/test-connection", timeout=10,
              data={"csrf_token": page.csrf_token})
    check = requests.post(f"{waybill_server}/api/v1/channel/{channel_id}/test-connection",
                          headers=headers, json={}, timeout=30)
    assert check.status_code == 200 and check.json()["result"]["ok"] is True, check.text
    assert seen == []
    db.session.rollback()
    assert db.session.scalars(select(AuditLog).where(
        AuditLog.action == "credentials_destination")).all() == []


@pytest.mark.parametrize("kind", ["shopify", "woocommerce"])
def test_a_changed_url_with_credentials_entered_again_works_and_is_audited(
        sandbox, sandbox_channels, waybill_server, recorder, kind):
    theirs, seen = recorder
    channel = sandbox_channels[kind]
    channel_id, sandbox_url = channel.id, channel.base_url
    new = NEW_CREDENTIALS[kind]

    page = browser_login(waybill_server, "operations")
    response = page.post(f"{waybill_server}/channels/edit/{channel_id}", allow_redirects=False,
                         timeout=10, data={"csrf_token": page.csrf_token, **edit_form(
                             channel, f"{theirs}/{kind}/page", json.dumps(new))})
    assert response.status_code == 302, response.text[:2000]
    assert stored(channel_id).base_url == f"{theirs}/{kind}/page"
    page.post(f"{waybill_server}/channels/{channel_id}/test-connection", timeout=30,
              data={"csrf_token": page.csrf_token})
    assert any(f"/{kind}/page/" in request for request in seen)

    headers = api_login(waybill_server, "operations")
    response = requests.put(f"{waybill_server}/api/v1/channel/{channel_id}", headers=headers,
                            json={"base_url": f"{theirs}/{kind}/api", "credentials": new},
                            timeout=10)
    assert response.status_code == 200, response.text
    requests.post(f"{waybill_server}/api/v1/channel/{channel_id}/test-connection",
                  headers=headers, json={}, timeout=30)
    assert any(f"/{kind}/api/" in request for request in seen)
    # Only the credentials entered for this server ever reached it.
    assert secrets_in(seen, kind) == []
    assert any(list(new.values())[0] in request for request in seen)

    db.session.rollback()
    audit = db.session.scalars(select(AuditLog).where(
        AuditLog.action == "credentials_destination").order_by(AuditLog.id)).all()
    assert [(a.actor, a.changes["base_url"]["old"], a.changes["base_url"]["new"],
             a.changes["credentials"]) for a in audit] == [
        ("user:operations", sandbox_url, f"{theirs}/{kind}/page", "re-entered"),
        ("user:operations", f"{theirs}/{kind}/page", f"{theirs}/{kind}/api", "re-entered")]
    assert not any(v in str(a.changes) for a in audit for v in new.values())


def test_what_counts_as_a_new_destination(session, actor):
    same = ["https://Shop.example.com/", "https://shop.example.com:443", "shop.example.com"]
    assert not any(credential_targets.moves("https://shop.example.com", url) for url in same)
    moved = ["http://shop.example.com", "https://shop.example.com:8443",
             "https://shop.example.com.evil.test", "https://shop.example.com/other",
             "https://user@shop.example.com", "https://shop.example.com?x=1", None]
    assert all(credential_targets.moves("https://shop.example.com", url) for url in moved)

    # Cosmetic edits need no credentials; clearing the URL neither (it sends nothing),
    # but the next URL then does. A channel without stored credentials never does.
    channel = channels.save_channel(session, {"code": "c1", "name": "C", "kind": "shopify",
                                              "base_url": "https://shop.example.com"},
                                    actor(), credentials={"access_token": "tok-1"})
    channels.save_channel(session, {"base_url": "https://SHOP.example.com/"}, actor(), channel.id)
    channels.save_channel(session, {"base_url": None}, actor(), channel.id)
    from app.services.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        channels.save_channel(session, {"base_url": "https://shop.example.com"}, actor(),
                              channel.id)
    assert "credentials" in refused.value.errors
    bare = channels.save_channel(session, {"code": "c2", "name": "C2", "kind": "shopify",
                                           "base_url": "https://a.example.com"}, actor())
    channels.save_channel(session, {"base_url": "https://b.example.com"}, actor(), bare.id)
    assert db.session.get(Channel, bare.id).base_url == "https://b.example.com"
