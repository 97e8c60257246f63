"""No stock change goes missing while pushes are being sent, proven on PostgreSQL: writer
threads change stock in their own transactions while sender threads run send passes at the
same time; once everything is sent, the channel shows every listing's ATP (a change that
joined a message the sender had already read would leave a stale figure behind)."""
import random
import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Channel, Listing, Product, Warehouse
from app.services.core import outbox_sender
from app.services.core.actor import Actor
from app.services.inventory import atp
from app.services.inventory import stock as inventory
from connectors.sandbox.stock import stock_view
from jobs import push_stock, sync_listings
from tests.conftest import is_postgres

pytestmark = pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")

WRITERS, SENDERS, CHANGES = 4, 2, 40


def test_changes_made_while_pushes_are_sent_all_arrive(app, session, sandbox, sandbox_channels):
    state, _root = sandbox
    code = sandbox_channels["woocommerce"].code
    assert sync_listings.run(code).status == "succeeded"
    push_stock.run(code)
    warehouse_id = session.scalar(select(Warehouse.id))
    product_ids = list(session.scalars(select(Product.id)))
    writing = threading.Event()
    writing.set()
    errors = []

    def writer(seed):
        rng = random.Random(seed)
        with app.app_context():
            try:
                for _ in range(CHANGES):
                    inventory.adjust(db.session, warehouse_id, rng.choice(product_ids), rng.choice((-1, 1, 2)),
                                     "race", Actor.job("race"))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    def sender():
        with app.app_context():
            policy = outbox_sender.Policy(time_scale=0.001, workers=2)
            while writing.is_set():
                outbox_sender.send_pass(db.engine, policy=policy)

    senders = [threading.Thread(target=sender) for _ in range(SENDERS)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in senders + writers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    for thread in senders:
        thread.join()
    assert not errors, errors
    while outbox_sender.send_pass(db.engine, policy=outbox_sender.Policy(time_scale=0.001)).claimed:
        pass
    session.rollback()
    channel = session.scalar(select(Channel).where(Channel.code == code))
    rows = session.scalars(select(Listing).where(Listing.channel_id == channel.id,
                                                 Listing.product_id.is_not(None))).all()
    promises = atp.for_channel(session, channel, [r.product_id for r in rows])
    view = stock_view(state, "woocommerce", "demo")
    assert {r.sku: view.get(r.external_key.split("/")[-1]) for r in rows} == \
        {r.sku: promises[r.product_id].quantity for r in rows}
