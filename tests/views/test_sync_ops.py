"""Channels & Sync pages (Operations): the conflicts queue and conflict page per role, every
resolution through its form, bulk resolution with its summary, CSRF refusal, channel health
and sync run columns. (Poll now, test connection and re-pull against the sandbox over real
HTTP: tests/sync/test_sync_ops_http.py.)"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Order, SkuAlias, SyncConflict, SyncRun
from app.models.base import utcnow
from app.services.channels import importing
from app.services.orders import actions as orders
from app.services.channels import sync
from app.services.core.actor import Actor
from app.services.core.transaction import unit_of_work
from connectors.base import NormalizedAddress
from tests.factories import normalized_order
from tests.views.conftest import post

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield",
           "postcode": "12345", "country": "US"}


def follow(client, response):
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def conflict(conflict_id) -> SyncConflict:
    db.session.expire_all()
    return db.session.get(SyncConflict, conflict_id)


def shopify_payload(sku="SKU-1", corrupt=False):
    from connectors.sandbox import create_sandbox_app
    from connectors.sandbox.render import shopify_order

    state = create_sandbox_app(catalog=[{"sku": sku, "name": "Thing", "price": "5.00"}]).state
    sim = state.create_orders("shopify", 1)[0]
    sim.corrupt = corrupt
    return shopify_order(sim)


@pytest.fixture
def queue(shop, session, make, actor):
    """One conflict of each resolvable kind on the shop's channel."""
    order = shop.order
    orders.edit_address(session, order.id, "shipping", {**ADDRESS, "line1": "2 Local Rd"},
                        order.version, actor("support"))
    remote = NormalizedAddress(name="Ada Lovelace", line1="3 Remote Ave", city="Springfield",
                               postcode="12345", country="US")
    importing.import_order(session, shop.channel,
                           normalized_order([("sku-1", 2, "9.99")], external_id=order.external_id,
                                            shipping_address=remote),
                           Actor.channel(shop.channel.code))
    held = make.order(shop.channel, [("mystery-9", 1, "5")], email="held@example.com")
    with unit_of_work(session):
        bad = sync.quarantine(session, shop.channel, shopify_payload(), "invalid payload: boom",
                              external_id="EXT-BAD")
    ids = {c.kind: c.id for c in session.scalars(select(SyncConflict))}
    ids["invalid_payload"] = bad.id
    session.rollback()
    return type("Queue", (), dict(ids=ids, held_order_id=held.id, order_id=order.id))


# --- pages per role ----------------------------------------------------------------------

@pytest.mark.parametrize("role,status,buttons", [
    ("operations", 200, True), ("admin", 200, True), ("support", 200, False),
    ("viewer", 200, False), ("warehouse", 403, False)])
def test_conflict_pages_per_role(client_for, queue, role, status, buttons):
    client = client_for(role)
    listing = client.get("/sync-conflicts/list/")
    page = client.get(f"/sync-conflicts/show/{queue.ids['local_edit']}")
    assert listing.status_code == page.status_code == status
    if status != 200:
        return
    html, show = listing.get_data(as_text=True), page.get_data(as_text=True)
    assert "mystery-9" in html and "EXT-BAD" in html and "shipping address" in html
    assert ('name="ids"' in html) is buttons
    assert ("Take the channel&#39;s value" in show or "Take the channel's value" in show) is buttons
    assert ("Discard" in show) is buttons


def test_conflict_page_shows_both_values_payload_and_the_buttons_of_its_kind(client_for, queue):
    client = client_for("operations")
    html = client.get(f"/sync-conflicts/show/{queue.ids['local_edit']}").get_data(as_text=True)
    local, remote = html.index("In Waybill (local)"), html.index("On the channel (remote)")
    assert local < html.index("2 Local Rd") < remote < html.index("3 Remote Ave")
    assert '<details class="oms-raw-payload">' in html and "user:support" in html
    assert "Keep Waybill" in html and "Map SKU" not in html and "Retry the import" not in html
    assert "was changed in Waybill and on the channel" in html  # the error

    unknown = client.get(f"/sync-conflicts/show/{queue.ids['unknown_sku']}").get_data(as_text=True)
    assert "Map SKU" in unknown and 'name="product_sku"' in unknown
    assert "Keep Waybill" not in unknown and "Discard" in unknown
    invalid = client.get(f"/sync-conflicts/show/{queue.ids['invalid_payload']}").get_data(
        as_text=True)
    assert "Retry the import" in invalid and "Map SKU" not in invalid
    assert client.get("/sync-conflicts/show/999999").status_code == 404


def test_queue_filters_by_kind_status_and_channel(client_for, queue, make):
    other = make.channel("other")
    make.order(other, [("ELSEWHERE-1", 1, "5")], email="else@example.com")
    client = client_for("support")
    only_sku = client.get("/sync-conflicts/list/?kind=unknown_sku").get_data(as_text=True)
    assert "mystery-9" in only_sku and "ELSEWHERE-1" in only_sku and "EXT-BAD" not in only_sku
    by_channel = client.get(f"/sync-conflicts/list/?channel={other.id}").get_data(as_text=True)
    assert "ELSEWHERE-1" in by_channel and "mystery-9" not in by_channel
    assert "No conflicts match" in client.get("/sync-conflicts/list/?status=resolved").get_data(
        as_text=True)
    by_sku = client.get("/sync-conflicts/list/?sku=MYSTERY-9").get_data(as_text=True)
    assert "mystery-9" in by_sku and "ELSEWHERE-1" not in by_sku
    # newest first
    everything = client.get("/sync-conflicts/list/?status=").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'/sync-conflicts/show/(\d+)"', everything)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4


# --- resolutions -------------------------------------------------------------------------

def test_take_remote_form(client_for, queue):
    client = client_for("operations")
    cid = queue.ids["local_edit"]
    page = follow(client, post(client, f"/sync-conflicts/{cid}/take-remote", {"note": "ok"}))
    assert "Took the channel" in page
    assert conflict(cid).resolution == "take_remote"
    assert conflict(cid).resolved_by == "user:operations"
    order = db.session.get(Order, queue.order_id)
    assert order.shipping_address["line1"] == "3 Remote Ave"
    assert "shipping_address" not in order.local_edits


def test_keep_local_form(client_for, queue):
    client = client_for("operations")
    cid = queue.ids["local_edit"]
    page = follow(client, post(client, f"/sync-conflicts/{cid}/keep-local"))
    assert "Kept Waybill" in page and "resolved" in page
    order = db.session.get(Order, queue.order_id)
    assert order.shipping_address["line1"] == "2 Local Rd" and "shipping_address" in order.local_edits


def test_map_sku_form_releases_and_allocates_the_held_order(client_for, queue, shop):
    client = client_for("operations")
    cid = queue.ids["unknown_sku"]
    page = follow(client, post(client, f"/sync-conflicts/{cid}/map-sku",
                               {"product_sku": "nope-0"}))
    assert "No product with SKU nope-0" in page and conflict(cid).status == "open"
    assert db.session.scalar(select(SkuAlias.id)) is None

    page = follow(client, post(client, f"/sync-conflicts/{cid}/map-sku",
                               {"product_sku": "sku-2"}))
    assert "SKU MYSTERY-9 mapped to SKU-2 (this channel): 1 conflict(s) resolved" in page
    assert "1 released" in page
    assert conflict(cid).resolution == "map_sku"
    order = db.session.get(Order, queue.held_order_id)
    assert order.status == "allocated" and not order.is_held


def test_retry_form(client_for, queue):
    client = client_for("operations")
    cid = queue.ids["invalid_payload"]
    page = follow(client, post(client, f"/sync-conflicts/{cid}/retry"))
    assert "re-imported: imported" in page
    assert conflict(cid).status == "resolved" and conflict(cid).order_id is not None


def test_discard_needs_a_reason_and_stores_nothing_without(client_for, queue):
    client = client_for("operations")
    cid = queue.ids["invalid_payload"]
    page = follow(client, post(client, f"/sync-conflicts/{cid}/discard", {"reason": " "}))
    assert "Enter a reason" in page and conflict(cid).status == "open"
    page = follow(client, post(client, f"/sync-conflicts/{cid}/discard",
                               {"reason": "test order, deleted on the channel"}))
    assert f"Conflict #{cid} discarded" in page
    assert conflict(cid).status == "discarded"
    assert conflict(cid).resolution_note == "test order, deleted on the channel"
    page = follow(client, post(client, f"/sync-conflicts/{cid}/discard", {"reason": "again"}))
    assert "already discarded" in page


def test_bulk_flashes_what_succeeded_and_what_did_not(client_for, queue):
    client = client_for("operations")
    local, unknown = queue.ids["local_edit"], queue.ids["unknown_sku"]
    response = post(client, "/sync-conflicts/bulk", {
        "action": "take_remote", "ids": [str(local), str(unknown)],
        "next": "/sync-conflicts/list/?status="})
    assert response.headers["Location"].endswith("/sync-conflicts/list/?status=")
    page = follow(client, response)
    assert "Take the channel&#39;s value: 1 of 2 done (#%d)" % local in page
    assert f"1 of 2 not done — #{unknown}: Sync conflict {unknown} is unknown sku" in page
    assert "applies to local edit conflicts only" in page
    assert conflict(local).status == "resolved" and conflict(unknown).status == "open"

    page = follow(client, post(client, "/sync-conflicts/bulk",
                               {"action": "discard", "ids": [str(unknown)]}))
    assert "Enter a reason" in page and conflict(unknown).status == "open"
    page = follow(client, post(client, "/sync-conflicts/bulk",
                               {"action": "discard", "ids": [str(unknown)], "reason": "old"}))
    assert "Discard: 1 of 1 done" in page and conflict(unknown).status == "discarded"
    page = follow(client, post(client, "/sync-conflicts/bulk", {"action": "discard"}))
    assert "select at least one conflict" in page


@pytest.mark.parametrize("role", ["support", "warehouse", "viewer"])
def test_resolutions_are_refused_without_sync_resolve(client_for, queue, role):
    client = client_for(role)
    cid = queue.ids["local_edit"]
    for url, data in ((f"/sync-conflicts/{cid}/take-remote", {}),
                      (f"/sync-conflicts/{cid}/discard", {"reason": "x"}),
                      ("/sync-conflicts/bulk", {"action": "discard", "ids": [str(cid)],
                                                "reason": "x"}),
                      (f"/sync-runs/poll/{queue.ids['local_edit']}", {})):
        assert post(client, url, data).status_code == 403, url
    assert conflict(cid).status == "open"


def test_posts_without_csrf_token_are_refused(client_for, queue):
    client = client_for("operations")
    cid = queue.ids["local_edit"]
    assert client.post(f"/sync-conflicts/{cid}/take-remote").status_code == 400
    assert client.post("/sync-conflicts/bulk", data={"action": "discard", "ids": [str(cid)],
                                                     "reason": "x"}).status_code == 400
    assert client.post(f"/sync-conflicts/{cid}/discard",
                       data={"reason": "x", "csrf_token": "forged"}).status_code == 400
    assert conflict(cid).status == "open"


# --- channels and runs -------------------------------------------------------------------

def add_run(session, channel, status, minutes_ago, error=None):
    started = utcnow() - timedelta(minutes=minutes_ago)
    with unit_of_work(session):
        session.add(SyncRun(channel_id=channel.id, job=sync.PULL_JOB, status=status,
                            started_at=started, finished_at=started + timedelta(seconds=2),
                            duration_ms=2000, fetched=4, created=3, conflicts=1,
                            cursor_before="2026-11-01T10:00:00+00:00",
                            cursor_after="2026-11-01T11:00:00+00:00", error_message=error))


def test_channels_list_shows_health(client_for, queue, shop, session):
    add_run(session, shop.channel, "succeeded", 30)
    add_run(session, shop.channel, "failed", 5,
            error="ChannelUnavailable: 503 from the channel\nTraceback ...")
    with unit_of_work(session):
        sync.set_cursor(session, shop.channel.id, (utcnow() - timedelta(hours=2)).isoformat())
    html = client_for("operations").get("/channels/list/").get_data(as_text=True)
    row = html[html.index(">shop<"):]
    assert "failing" in row and "1/2" in row and "(50%)" in row
    assert "2 h 0 min" in row or "1 h 59 min" in row
    assert "ChannelUnavailable: 503 from the channel" in row
    assert f"/sync-conflicts/list/?channel={shop.channel.id}" in row  # open conflicts link
    assert "Add channel" in html
    viewer = client_for("viewer").get("/channels/list/").get_data(as_text=True)
    assert "failing" in viewer and "Add channel" not in viewer


def test_channel_page_actions_follow_permissions(client_for, shop, session, actor):
    from app.services.channels import config as channels

    add_run(session, shop.channel, "partial", 3)
    channels.save_channel(session, {"base_url": "http://127.0.0.1:9/shopify/demo"}, actor(),
                          shop.channel.id)
    url = f"/channels/show/{shop.channel.id}"
    operations = client_for("operations").get(url).get_data(as_text=True)
    for text in ("Test connection", "Poll now", "Re-pull one order", "Recent sync runs",
                 "partial", "stored" if shop.channel.credentials_encrypted else "not set"):
        assert text in operations, text
    assert 'name="csrf_token"' in operations
    viewer = client_for("viewer").get(url).get_data(as_text=True)
    assert "Recent sync runs" in viewer
    assert "Test connection" not in viewer and "Poll now" not in viewer
    assert client_for("support").get(url).status_code == 403
    assert client_for("operations").get("/channels/show/999999").status_code == 404


def test_channel_actions_refused_without_channel_write(client_for, shop):
    for role in ("viewer", "support"):
        client = client_for(role)
        assert post(client, f"/channels/{shop.channel.id}/test-connection").status_code == 403
        assert post(client, f"/channels/{shop.channel.id}/repull",
                    {"external_id": "1"}).status_code == 403


def test_channel_without_connector_says_so(client_for, make):
    manual = make.channel("phone", kind="manual")
    client = client_for("operations")
    html = client.get(f"/channels/show/{manual.id}").get_data(as_text=True)
    assert "no connector for manual" in html and "Poll now" not in html
    page = follow(client, post(client, f"/channels/{manual.id}/test-connection"))
    assert "no connector for manual channels" in page
    page = follow(client, post(client, f"/sync-runs/poll/{manual.id}",
                               {"next": f"/channels/show/{manual.id}"}))
    assert "no connector for manual channels" in page


def test_sync_runs_list_shows_cursors_and_errors_newest_first(client_for, shop, session):
    add_run(session, shop.channel, "succeeded", 60)
    add_run(session, shop.channel, "failed", 1, error="ChannelAuthError: 401 Unauthorized")
    client = client_for("support")
    html = client.get("/sync-runs/list/").get_data(as_text=True)
    # The list shows where each run left the cursor; where it started is on the run's page
    # (it is the previous run's "after"), which keeps the list within the window.
    assert "2026-11-01T11:00:00+00:00" in html and "2026-11-01T10:00:00+00:00" not in html
    run_id = session.scalars(select(SyncRun.id)).first()
    assert "2026-11-01T10:00:00+00:00" in client.get(f"/sync-runs/show/{run_id}").get_data(as_text=True)
    assert "ChannelAuthError: 401 Unauthorized" in html and "2.0 s" in html
    assert html.index('oms-status">failed') < html.index('oms-status">succeeded')
