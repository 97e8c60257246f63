"""The channel page's actions against the sandbox over real HTTP: poll now (under the job
lock), test connection (credentials never shown), re-pull one order (created, unchanged,
quarantined, unknown)."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, Order, SyncConflict, SyncRun
from app.services.channels import config as channels
from jobs.locks import job_lock
from tests.views.conftest import post


def follow(client, response):
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def count(model, *where):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_poll_now_runs_the_job_and_reports_its_sync_run(client_for, sandbox, sandbox_channels):
    state, _root = sandbox
    state.create_orders("shopify", 5)
    channel = sandbox_channels["shopify"]
    client = client_for("operations")
    page = follow(client, post(client, f"/sync-runs/poll/{channel.id}",
                               {"next": f"/channels/show/{channel.id}"}))
    assert "Poll succeeded: 5 fetched, 5 created, 0 updated, 0 unchanged" in page
    assert "Recent sync runs" in page  # back on the channel page
    assert count(Order, Order.channel_id == channel.id) == 5
    run = db.session.scalars(select(SyncRun)).one()
    assert run.status == "succeeded" and run.cursor_after
    assert f"/sync-runs/show/{run.id}" in page
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "poll_now")).one()
    assert audit.actor == "user:operations"


def test_poll_now_while_the_job_runs_elsewhere_is_refused(client_for, sandbox, sandbox_channels):
    channel = sandbox_channels["woocommerce"]
    held, release = threading.Event(), threading.Event()
    engine, code, channel_id = db.engine, channel.code, channel.id

    def other_scheduler():
        with job_lock(engine, f"pull_orders:{code}"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_scheduler)
    thread.start()
    try:
        assert held.wait(10)
        client = client_for("operations")
        page = follow(client, post(client, f"/sync-runs/poll/{channel_id}"))
        assert f"A poll of {code} is already running" in page
        assert count(SyncRun) == 0
    finally:
        release.set()
        thread.join(10)


def test_test_connection_says_ok_or_why_without_credentials(client_for, sandbox,
                                                            sandbox_channels, session, actor):
    client = client_for("operations")
    for kind in ("shopify", "amazon"):
        channel = sandbox_channels[kind]
        page = follow(client, post(client, f"/channels/{channel.id}/test-connection"))
        assert f"Connected to Sandbox {kind}" in page, kind

    woo = sandbox_channels["woocommerce"]
    wrong = {"consumer_key": "ck_wrong_0123456789", "consumer_secret": "cs_wrong_9876543210"}
    channels.save_channel(session, {}, actor(), woo.id, credentials=wrong)
    page = follow(client, post(client, f"/channels/{woo.id}/test-connection"))
    assert "The channel refused the credentials" in page
    assert "ck_wrong_0123456789" not in page and "cs_wrong_9876543210" not in page
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "test_connection")
                               .order_by(AuditLog.id)).all()
    assert [a.changes["ok"] for a in audit] == [True, True, False]
    assert "cs_wrong" not in str(audit[-1].changes)


def test_repull_one_order(client_for, sandbox, sandbox_channels):
    state, _root = sandbox
    first, second = state.create_orders("woocommerce", 2)
    channel = sandbox_channels["woocommerce"]
    client = client_for("operations")
    url = f"/channels/{channel.id}/repull"

    page = follow(client, post(client, url, {"external_id": first.external_id}))
    assert f"Order {first.external_id} re-pulled: created" in page
    order = db.session.scalars(select(Order).where(Order.external_id == first.external_id)).one()
    assert f'<a href="/orders/show/{order.id}">open the order</a>' in page  # a link, not text
    page = follow(client, post(client, url, {"external_id": first.external_id}))
    assert "re-pulled: unchanged" in page
    assert count(Order) == 1

    state.update_orders("woocommerce", ids=[second.external_id], action="corrupt")
    page = follow(client, post(client, url, {"external_id": second.external_id}))
    assert "cannot read" in page and count(SyncConflict) == 0 and count(Order) == 1

    page = follow(client, post(client, url, {"external_id": "987654321"}))
    assert "has no order 987654321" in page
    page = follow(client, post(client, url, {"external_id": ""}))
    assert "Enter an external id" in page


def test_repull_quarantines_an_order_that_fails_to_import(client_for, sandbox, sandbox_channels,
                                                          monkeypatch):
    from app.services.channels import importing

    state, _root = sandbox
    [sim] = state.create_orders("shopify", 1)
    channel = sandbox_channels["shopify"]

    def broken(*args, **kwargs):
        raise RuntimeError("importer broke")

    monkeypatch.setattr(importing, "import_order", broken)
    client = client_for("operations")
    page = follow(client, post(client, f"/channels/{channel.id}/repull",
                               {"external_id": sim.external_id}))
    assert f"Order {sim.external_id} could not be imported: it is quarantined" in page
    quarantined = db.session.scalars(select(SyncConflict)).one()
    assert quarantined.kind == "invalid_payload" and "importer broke" in quarantined.error
    assert quarantined.raw_payload and quarantined.external_id == sim.external_id
    assert count(Order) == 0

    monkeypatch.undo()  # the importer is fixed: retry imports the kept payload
    page = follow(client, post(client, f"/sync-conflicts/{quarantined.id}/retry"))
    assert "re-imported: imported" in page and count(Order) == 1


def test_repull_an_amazon_order(client_for, sandbox, sandbox_channels):
    state, _root = sandbox
    [sim] = state.create_orders("amazon", 1)
    channel = sandbox_channels["amazon"]
    client = client_for("admin")
    page = follow(client, post(client, f"/channels/{channel.id}/repull",
                               {"external_id": sim.external_id}))
    assert f"Order {sim.external_id} re-pulled: created" in page
