"""Resolving sync conflicts (services/channels/conflicts.py) and channel health (services/
channel_health.py) on the real database, with data made through the services."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.models import AuditLog, Order, OrderEvent, SkuAlias, SyncConflict, SyncRun
from app.models.base import utcnow
from app.services.channels import health as channel_health
from app.services.channels import conflicts
from app.services.channels import importing
from app.services.orders import actions as orders
from app.services.channels import sync
from app.services.core.actor import Actor
from app.services.core.errors import InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import unit_of_work
from connectors.base import NormalizedAddress
from tests.factories import normalized_order

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield",
           "postcode": "12345", "country": "US"}


@pytest.fixture
def shop(make):
    wh = make.warehouse("W1", "US")
    a = make.product("A-1", stock={wh: 10})
    b = make.product("B-2", stock={wh: 10})
    channel = make.channel("shop")
    other = make.channel("other")
    return type("Shop", (), dict(warehouse=wh, a=a, b=b, channel=channel, other=other))


def conflicts_of(session, **where):
    session.expire_all()
    query = select(SyncConflict).order_by(SyncConflict.id)
    for name, value in where.items():
        query = query.where(getattr(SyncConflict, name) == value)
    return session.scalars(query).all()


def event_types(session, order_id):
    return [e.type for e in session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))]


def channel_update(session, channel, external_id, line1):
    """The channel sends the order again with another street."""
    address = NormalizedAddress(name="Ada Lovelace", line1=line1, city="Springfield",
                                postcode="12345", country="US")
    normalized = normalized_order([("A-1", 1, "5")], external_id=external_id,
                                  shipping_address=address)
    return importing.import_order(session, channel, normalized, Actor.channel(channel.code))


@pytest.fixture
def local_edit(session, make, shop, actor):
    """An order whose shipping address was edited in Waybill and then by the channel."""
    order = make.order(shop.channel, [("A-1", 1, "5")], external_id="E-1")
    orders.edit_address(session, order.id, "shipping", {**ADDRESS, "line1": "2 Local Rd"},
                        order.version, actor("support"))
    channel_update(session, shop.channel, "E-1", "3 Remote Ave")
    [conflict] = conflicts_of(session, kind="local_edit")
    assert conflict.field == "shipping_address" and conflict.status == "open"
    return type("LocalEdit", (), dict(order_id=order.id, conflict_id=conflict.id))


# --- local edits -------------------------------------------------------------------------

def test_take_remote_applies_the_channel_value_through_the_import_path(session, local_edit, actor):
    conflict = conflicts.take_remote(session, local_edit.conflict_id, actor("operations"),
                                     "customer confirmed on the channel")
    assert conflict.status == "resolved" and conflict.resolution == "take_remote"
    assert conflict.resolved_by == "user:operations" and conflict.resolved_at is not None
    assert conflict.resolution_note == "customer confirmed on the channel"
    session.expire_all()
    order = session.get(Order, local_edit.order_id)
    assert order.shipping_address["line1"] == "3 Remote Ave"
    assert "shipping_address" not in order.local_edits
    types = event_types(session, order.id)
    assert types[-2:] == ["channel_update", "sync_conflict"]
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "sync_conflict")).one()
    assert audit.action == "take_remote" and audit.actor == "user:operations"
    # the next copy of the same value changes nothing and raises no conflict
    channel_update(session, order.channel, "E-1", "3 Remote Ave")
    assert len(conflicts_of(session, kind="local_edit")) == 1


def test_take_remote_answers_every_open_conflict_of_the_field_with_the_newest_value(
        session, local_edit, shop, actor):
    channel_update(session, shop.channel, "E-1", "4 Newer St")
    first, second = conflicts_of(session, kind="local_edit")
    conflicts.take_remote(session, first.id, actor("operations"))
    first, second = conflicts_of(session, kind="local_edit")
    assert first.status == second.status == "resolved"
    assert second.resolution_note == f"answered with sync conflict #{first.id}"
    assert session.get(Order, local_edit.order_id).shipping_address["line1"] == "4 Newer St"


def test_keep_local_keeps_the_value_and_the_next_import_still_detects(session, local_edit, shop,
                                                                       actor):
    conflicts.keep_local(session, local_edit.conflict_id, actor("operations"), "we called")
    session.expire_all()
    order = session.get(Order, local_edit.order_id)
    assert order.shipping_address["line1"] == "2 Local Rd"
    assert "shipping_address" in order.local_edits
    [conflict] = conflicts_of(session)
    assert (conflict.status, conflict.resolution) == ("resolved", "keep_local")
    assert event_types(session, order.id)[-1] == "sync_conflict"

    channel_update(session, shop.channel, "E-1", "5 Another St")
    later = conflicts_of(session, kind="local_edit", status="open")
    assert len(later) == 1 and later[0].remote_value["value"]["line1"] == "5 Another St"


def test_a_resolution_of_the_wrong_kind_or_a_closed_conflict_is_refused(session, local_edit,
                                                                        actor):
    with pytest.raises(ValidationFailed, match="applies to"):
        conflicts.retry(session, local_edit.conflict_id, actor("operations"))
    conflicts.keep_local(session, local_edit.conflict_id, actor("operations"))
    with pytest.raises(InvalidTransition, match="already resolved"):
        conflicts.take_remote(session, local_edit.conflict_id, actor("operations"))
    with pytest.raises(NotFound):
        conflicts.discard(session, 999999, "x", actor("operations"))
    session.expire_all()
    assert session.get(Order, local_edit.order_id).shipping_address["line1"] == "2 Local Rd"


# --- discard -----------------------------------------------------------------------------

def test_discard_needs_a_reason_and_is_recorded(session, local_edit, actor):
    with pytest.raises(ValidationFailed, match="reason"):
        conflicts.discard(session, local_edit.conflict_id, "  ", actor("operations"))
    assert conflicts_of(session)[0].status == "open"
    conflicts.discard(session, local_edit.conflict_id, "the channel is wrong", actor("operations"))
    [conflict] = conflicts_of(session)
    assert (conflict.status, conflict.resolution) == ("discarded", "discarded")
    assert conflict.resolution_note == "the channel is wrong"
    event = session.scalars(select(OrderEvent).where(OrderEvent.type == "sync_conflict")).one()
    assert "discarded" in event.message and event.actor == "user:operations"


# --- unknown SKUs ------------------------------------------------------------------------

def test_map_sku_resolves_every_conflict_of_that_sku_and_allocates_the_held_orders(
        session, make, shop, actor):
    held_1 = make.order(shop.channel, [("mystery-1", 2, "5")])
    held_2 = make.order(shop.channel, [(" MYSTERY-1 ", 1, "5"), ("A-1", 1, "5")])
    two_unknown = make.order(shop.channel, [("Mystery-1", 1, "5"), ("ENIGMA", 1, "5")])
    elsewhere = make.order(shop.other, [("MYSTERY-1", 1, "5")])
    assert all(o.is_held and o.status == "new" for o in (held_1, held_2, two_unknown, elsewhere))
    first = conflicts_of(session, order_id=held_1.id)[0]

    result = conflicts.map_sku(session, shop.a.id, actor("operations"), conflict_id=first.id)

    assert result.sku == "MYSTERY-1" and result.product_sku == "A-1"
    expected = [c.id for c in conflicts_of(session, channel_id=shop.channel.id)
                if c.sku.strip().upper() == "MYSTERY-1"]
    assert sorted(result.conflict_ids) == expected and len(expected) == 3
    assert sorted(result.released_order_ids) == sorted([held_1.id, held_2.id])
    alias = session.scalars(select(SkuAlias)).one()
    assert (alias.alias, alias.product_id, alias.channel_id) == ("MYSTERY-1", shop.a.id,
                                                                 shop.channel.id)
    session.expire_all()
    for order_id in (held_1.id, held_2.id):
        order = session.get(Order, order_id)
        assert not order.is_held and order.status == "allocated"
        assert all(line.product_id == shop.a.id for line in order.lines)
        assert {"sync_conflict", "hold_released", "allocated"} <= set(event_types(session, order_id))
    still = session.get(Order, two_unknown.id)  # ENIGMA is still unknown: still held
    assert still.is_held and still.status == "new"
    assert [l.product_id for l in still.lines] == [shop.a.id, None]
    assert session.get(Order, elsewhere.id).is_held  # another channel: not in scope
    open_left = {(c.sku, c.channel_id) for c in conflicts_of(session, status="open")}
    assert open_left == {("ENIGMA", shop.channel.id), ("MYSTERY-1", shop.other.id)}

    # mapping the last unknown SKU of the order releases it
    [enigma] = conflicts_of(session, sku="ENIGMA")
    conflicts.map_sku(session, shop.b.id, actor("operations"), conflict_id=enigma.id)
    session.expire_all()
    assert session.get(Order, two_unknown.id).status == "allocated"

    # the alias lasts: the next order with that SKU imports without a conflict
    later = make.order(shop.channel, [("mystery-1", 1, "5")])
    assert not later.is_held and later.lines[0].product_id == shop.a.id


def test_map_sku_for_all_channels_by_sku(session, make, shop, actor):
    one = make.order(shop.channel, [("GLOBAL-9", 1, "5")])
    two = make.order(shop.other, [("global-9", 1, "5")], email="other@example.com")
    result = conflicts.map_sku(session, shop.b.id, actor("operations"), sku="Global-9",
                               all_channels=True)
    assert len(result.conflict_ids) == 2 and result.channel_id is None
    assert session.scalars(select(SkuAlias)).one().channel_id is None
    session.expire_all()
    assert session.get(Order, one.id).status == session.get(Order, two.id).status == "allocated"


def test_map_sku_refusals_store_nothing(session, make, shop, actor):
    make.order(shop.channel, [("A-1 ", 1, "5"), ("X-9", 1, "5")])
    [conflict] = conflicts_of(session)
    with pytest.raises(ValidationFailed, match="product"):
        conflicts.map_sku(session, 999999, actor("operations"), conflict_id=conflict.id)
    with pytest.raises(ValidationFailed, match="applies to"):
        conflicts.take_remote(session, conflict.id, actor("operations"))
    with pytest.raises(ValidationFailed, match="SKU of product A-1"):
        conflicts.map_sku(session, shop.b.id, actor("operations"), sku="a-1")
    assert session.scalar(select(func.count(SkuAlias.id))) == 0
    assert conflicts_of(session)[0].status == "open"


# --- invalid payloads --------------------------------------------------------------------

def shopify_payload(sku="A-1", corrupt=False):
    from connectors.sandbox import create_sandbox_app
    from connectors.sandbox.render import shopify_order

    state = create_sandbox_app(catalog=[{"sku": sku, "name": "Thing", "price": "5.00"}]).state
    order = state.create_orders("shopify", 1)[0]
    order.corrupt = corrupt
    return shopify_order(order)


def quarantined(session, channel, raw, error="invalid payload: boom"):
    with unit_of_work(session):
        conflict = sync.quarantine(session, channel, raw, error, external_id=str(raw.get("id")))
    return conflict.id


def test_retry_reimports_the_kept_payload(session, shop, actor):
    raw = shopify_payload()
    conflict_id = quarantined(session, shop.channel, raw)
    conflict = conflicts.retry(session, conflict_id, actor("operations"))
    assert conflict.status == "resolved" and conflict.resolution == "retry"
    order = session.scalars(select(Order)).one()
    assert order.external_id == str(raw["id"]) and conflict.order_id == order.id
    assert event_types(session, order.id)[0] == "imported"
    assert event_types(session, order.id)[-1] == "sync_conflict"


def test_retry_of_a_still_invalid_payload_stores_nothing(session, shop, actor):
    conflict_id = quarantined(session, shop.channel, shopify_payload(corrupt=True))
    with pytest.raises(ValidationFailed, match="still invalid"):
        conflicts.retry(session, conflict_id, actor("operations"))
    assert conflicts_of(session)[0].status == "open"
    assert session.scalar(select(func.count(Order.id))) == 0


def test_retry_of_an_amazon_payload_says_to_repull(session, make, shop, actor):
    amazon = make.channel("amz", kind="amazon")
    conflict_id = quarantined(session, amazon, {"id": "111-1", "AmazonOrderId": "111-1"})
    with pytest.raises(ValidationFailed, match="Re-pull one order"):
        conflicts.retry(session, conflict_id, actor("operations"))


# --- bulk --------------------------------------------------------------------------------

def test_bulk_reports_what_succeeded_and_why_the_rest_did_not(session, make, local_edit, shop,
                                                             actor):
    make.order(shop.channel, [("NOPE-1", 1, "5")])
    unknown = conflicts_of(session, kind="unknown_sku")[0].id
    closed = quarantined(session, shop.channel, {"id": "zz"})
    conflicts.discard(session, closed, "test data", actor())
    result = conflicts.bulk(session, "take_remote", [local_edit.conflict_id, unknown, closed,
                                                     "999999"], actor("operations"))
    assert result.succeeded == [local_edit.conflict_id]
    reasons = dict(result.failed)
    assert "applies to local edit conflicts only" in reasons[unknown]
    assert "already discarded" in reasons[closed]
    assert "not found" in reasons[999999]
    assert conflicts_of(session, id=unknown)[0].status == "open"

    with pytest.raises(ValidationFailed, match="reason"):
        conflicts.bulk(session, "discard", [unknown], actor("operations"), reason="")
    with pytest.raises(ValidationFailed, match="(?i)action"):
        conflicts.bulk(session, "delete", [unknown], actor("operations"))
    result = conflicts.bulk(session, "discard", [unknown], actor("operations"), reason="old")
    assert result.succeeded == [unknown] and not result.failed


def test_bulk_counts_conflicts_answered_with_an_earlier_one_of_the_batch(session, local_edit,
                                                                        shop, actor):
    channel_update(session, shop.channel, "E-1", "4 Newer St")
    ids = [c.id for c in conflicts_of(session, kind="local_edit")]
    result = conflicts.bulk(session, "keep_local", ids, actor("operations"))
    assert result.succeeded == ids and not result.failed


# --- channel health ----------------------------------------------------------------------

def add_run(session, channel, status, started, error=None):
    with unit_of_work(session):
        run = SyncRun(channel_id=channel.id, job=sync.PULL_JOB, status=status,
                      started_at=started, finished_at=started + timedelta(seconds=3),
                      duration_ms=3000, error_message=error)
        session.add(run)


def test_channel_health_in_one_bounded_statement(session, make, shop):
    from sqlalchemy import event

    from app.extensions import db

    now = utcnow()
    # 25 runs: the 5 oldest failed (outside a window of 20), then 2 failed among the newest
    for i in range(25):
        started = now - timedelta(minutes=100 - i)
        failed = i < 5 or i in (20, 23)
        add_run(session, shop.channel, "failed" if failed else "succeeded", started,
                error=f"boom {i}" if failed else None)
    with unit_of_work(session):
        sync.set_cursor(session, shop.channel.id, (now - timedelta(minutes=30)).isoformat())
    make.order(shop.channel, [("WHO-1", 1, "5")])

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        rows = {h.code: h for h in channel_health.overview(session, now=now)}
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    health = rows["shop"]
    assert health.runs == 20 and health.failed_runs == 2 and health.error_rate == 0.1
    assert health.last_error == "boom 23"
    assert health.last_run_status == "succeeded"
    assert health.last_success_at == now - timedelta(minutes=76) + timedelta(seconds=3)
    assert health.lag == timedelta(minutes=30)
    assert health.open_conflicts == 1 and not health.running
    quiet = rows["other"]
    assert quiet.runs == 0 and quiet.last_run_at is None and quiet.state == "never"
    assert quiet.error_rate is None and quiet.lag is None
    assert channel_health.for_channel(session, shop.channel.id, now=now).failed_runs == 2
    assert [r.error_message for r in channel_health.recent_runs(session, shop.channel.id, 2)] == [
        None, "boom 23"]
