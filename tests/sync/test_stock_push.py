"""Stock pushed to every channel (issue 20), over real HTTP against the sandbox: ATP per channel
with its rules, every kind of stock change queued as one collapsing message per listing, sent
in batches, and what the channel shows read back as drift."""
import pytest
from sqlalchemy import func, select

from app.models import normalize_sku, Channel, Listing, OutboxMessage, Order, Product, SyncConflict, Warehouse
from app.services.fulfilment import shipments as fulfilment
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from app.services.returns import actions as returns
from app.services.channels import stock_drift
from app.services.core import outbox_sender
from app.services.inventory import atp
from connectors.sandbox.stock import set_stock, stock_view
from jobs import push_stock, sync_listings
from tests.views.conftest import post
from jobs import stock_drift as drift_job

SHOPS = {"shopify": "demo", "woocommerce": "demo", "amazon": "na"}


def _shown(state, channel: Channel, listing: Listing):
    view = stock_view(state, channel.kind, SHOPS[channel.kind])
    if channel.kind == "shopify":
        return sum((view.get(listing.inventory_item_id) or {}).values()) if listing.inventory_item_id in view else None
    if channel.kind == "woocommerce":
        return view.get(listing.external_key.split("/")[-1])
    return view.get(listing.sku)


def _assert_channels_show_atp(session, state, codes):
    session.rollback()  # a fresh snapshot: the sender wrote in its own transactions
    checked = 0
    for channel in _channels(session, codes).values():
        rows = session.scalars(select(Listing).where(Listing.channel_id == channel.id,
                                                     Listing.product_id.is_not(None))).all()
        promises = atp.for_channel(session, channel, [r.product_id for r in rows])
        for row in rows:
            assert _shown(state, channel, row) == promises[row.product_id].quantity, (channel.code, row.sku)
            assert row.last_pushed_quantity == promises[row.product_id].quantity
            checked += 1
    assert checked == 36


def _send(app):
    while outbox_sender.send_pass(app.extensions["sqlalchemy"].engine,
                                  policy=outbox_sender.Policy(time_scale=0.001)).claimed:
        pass


@pytest.fixture
def stocked(session, sandbox, sandbox_channels, make):
    state, _root = sandbox
    codes = {kind: channel.code for kind, channel in sandbox_channels.items()}
    for code in codes.values():
        assert sync_listings.run(code).status == "succeeded"
    return state, codes


def _channels(session, codes):
    return {kind: session.scalar(select(Channel).where(Channel.code == code)) for kind, code in codes.items()}


def _pending(session):
    return session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.topic == "channel.inventory", OutboxMessage.status == "pending"))


def test_every_stock_change_reaches_every_channel_as_its_atp(app, session, stocked, make):
    state, codes = stocked
    channels = _channels(session, codes)
    products = {p.sku: p.id for p in session.scalars(select(Product))}
    ewr = session.scalar(select(Warehouse.id).where(Warehouse.code == "EWR"))
    lax = make.warehouse("LAX", "US", priority=200).id
    # the channels' rules: Shopify by location (EWR → Main warehouse, LAX → Retail store) with a
    # buffer of 2; WooCommerce 10 % held back; Amazon capped at 40 and served by EWR only
    shopify, woo, amazon = channels["shopify"], channels["woocommerce"], channels["amazon"]
    locations = [loc["id"] for loc in shopify.locations]
    shopify.location_warehouses = {locations[0]: [ewr], locations[1]: [lax]}
    shopify.stock_buffer = 2
    woo.stock_buffer_percent = 10
    amazon.stock_cap, amazon.stock_warehouse_ids = 40, [ewr]
    session.commit()

    queued, left = push_stock.run()
    assert queued == 36 and left == 0
    _assert_channels_show_atp(session, state, codes)

    channels = _channels(session, codes)
    tee, mug = products[normalize_sku("TEE-BLK-M")], products[normalize_sku("mug-01")]
    admin = make.actor
    inventory.receive(session, lax, tee, 7, admin)  # receipt
    inventory.adjust(session, ewr, mug, -99_990, "cycle count", admin)  # adjustment
    order = make.order(channels["woocommerce"], [("TEE-BLK-M", 3, "5.00"), ("mug-01", 2, "5.00")])  # import
    assert session.get(Order, order.id).status == "allocated"  # the import's allocation reserved
    inventory.adjust(session, ewr, tee, -(99_999 - 3), "damaged", admin)  # tee now short in EWR
    short = make.order(channels["shopify"], [("TEE-BLK-M", 8, "5.00")])
    inventory.receive(session, ewr, tee, 20, admin)
    from jobs import allocate_backorders
    with app.test_request_context():
        allocate_backorders.run()  # allocation of the waiting order
    assert session.get(Order, short.id).status == "allocated"
    fulfilment.start_picking(session, order.id, admin)
    fulfilment.mark_packed(session, order.id, admin)
    fulfilment.ship(session, order.id, admin, carrier="UPS", tracking_number="1ZPUSH1")
    shipped = session.get(Order, order.id)
    ret = returns.create_return(session, shipped.id, {shipped.lines[0].id: 2}, "damaged", admin)
    returns.receive_and_inspect(session, ret.id, None, admin)  # return restock (grade A)
    orders.cancel_order(session, short.id, "customer request", admin)  # cancel: released

    # one pending message per listing of the changed products, however many changes
    assert _pending(session) == 6
    _send(app)
    _assert_channels_show_atp(session, state, codes)
    assert _pending(session) == 0


def test_a_change_behind_our_back_is_drift_and_is_resolved(app, session, stocked, make):
    state, codes = stocked
    push_stock.run()
    channels = _channels(session, codes)
    shopify, woo, amazon = channels["shopify"], channels["woocommerce"], channels["amazon"]
    woo_row = session.scalar(select(Listing).where(Listing.channel_id == woo.id, Listing.sku == "CAP-NVY"))
    amz_row = session.scalar(select(Listing).where(Listing.channel_id == amazon.id, Listing.sku == "SOCK-3PK"))
    shop_row = session.scalar(select(Listing).where(Listing.channel_id == shopify.id, Listing.sku == "mug-01"))
    set_stock(state, "woocommerce", "demo", woo_row.external_key, 3)
    set_stock(state, "amazon", "na", amz_row.sku, 99_990)
    (location,) = shop_row.last_pushed_locations
    set_stock(state, "shopify", "demo", shop_row.inventory_item_id, 5, location)
    for channel in channels.values():
        run = drift_job.run(channel.code)
        assert run.status == "succeeded" and run.fetched == 12 and run.conflicts == 1, channel.code
        assert drift_job.run(channel.code).conflicts == 0  # one open conflict per listing
    opened = {c.sku: c for c in session.scalars(select(SyncConflict).where(SyncConflict.kind == "stock_drift"))}
    assert opened["CAP-NVY"].remote_value == {"quantity": 3}
    session.rollback()
    assert woo_row.channel_quantity == 3 and woo_row.channel_read_at is not None

    # our figure wins: pushed again (no compare); the channel's wins: a counted adjustment
    stock_drift.push_again(session, opened["CAP-NVY"].id, make.actor, "oversold risk")
    before = atp.for_channel(session, amazon, [amz_row.product_id])[amz_row.product_id].quantity
    stock_drift.accept_channel(session, opened["SOCK-3PK"].id, "counted on Amazon's side", make.actor)
    after = atp.for_channel(session, amazon, [amz_row.product_id])[amz_row.product_id].quantity
    assert after - before == 99_990 - amz_row.last_pushed_quantity
    # a Shopify push comparing with a figure that moved is refused and opens no second conflict
    inventory.receive(session, session.scalar(select(Warehouse.id).where(Warehouse.code == "EWR")),
                      shop_row.product_id, 1, make.actor)
    _send(app)
    assert _shown(state, woo, woo_row) == atp.for_channel(session, woo, [woo_row.product_id])[woo_row.product_id].quantity
    assert _shown(state, amazon, amz_row) == after
    assert _shown(state, shopify, shop_row) == 5  # not overwritten: the conflict stands
    stock_drift.push_again(session, opened["mug-01"].id, make.actor)
    _send(app)
    assert _shown(state, shopify, shop_row) == atp.for_channel(session, shopify, [shop_row.product_id])[shop_row.product_id].quantity
    with pytest.raises(Exception, match="already resolved"):
        stock_drift.push_again(session, opened["mug-01"].id, make.actor)


def test_the_pages_show_channel_stock_push_health_and_resolve_drift(app, session, stocked, client_for):
    state, codes = stocked
    push_stock.run()
    channels = _channels(session, codes)
    woo = channels["woocommerce"]
    row = session.scalar(select(Listing).where(Listing.channel_id == woo.id, Listing.sku == "CAP-NVY"))
    set_stock(state, "woocommerce", "demo", row.external_key, 1)
    assert drift_job.run(woo.code).conflicts == 1
    conflict = session.scalar(select(SyncConflict).where(SyncConflict.kind == "stock_drift"))
    viewer, operations = client_for("viewer"), client_for("operations")

    page = viewer.get(f"/products/show/{row.product_id}").get_data(as_text=True)
    assert "Stock on the channels" in page and "sb-woocommerce" in page
    assert f'<span class="text-danger" title="differs from what we last pushed">1</span>' in page
    page = viewer.get(f"/channels/show/{woo.id}").get_data(as_text=True)
    assert "Stock pushes" in page and "Open drift conflicts" in page and "(12 listing(s) pushed" in page
    page = operations.get(f"/sync-conflicts/show/{conflict.id}").get_data(as_text=True)
    assert "Push our figure again" in page and "Accept the channel's figure" in page
    assert post(viewer, f"/sync-conflicts/{conflict.id}/push-again").status_code in (302, 403)
    session.rollback()
    assert session.get(SyncConflict, conflict.id).status == "open"  # a viewer cannot resolve
    assert post(operations, f"/sync-conflicts/{conflict.id}/push-again", {"note": "ours"}).status_code == 302
    session.rollback()
    assert session.get(SyncConflict, conflict.id).resolution == "push_again"
    assert _pending(session) == 1


def test_push_stock_and_stock_drift_commands(app, session, stocked):
    state, codes = stocked
    runner = app.test_cli_runner()
    result = runner.invoke(args=["oms", "push-stock", "--channel", codes["amazon"]])
    assert result.exit_code == 0 and "push-stock: 12 listing(s) queued, 0 still pending" in result.output
    assert len(stock_view(state, "amazon", "na")) == 12 and stock_view(state, "woocommerce", "demo") == {}
    result = runner.invoke(args=["oms", "push-stock", "--channel", "nope"])
    assert result.exit_code == 2 and "no channel 'nope'" in result.output
    set_stock(state, "amazon", "na", "CAP-NVY", 0)
    result = runner.invoke(args=["oms", "stock-drift", "--channel", codes["amazon"]])
    assert result.exit_code == 0 and "succeeded — 12 listings read, 1 drift conflict(s) opened" in result.output
