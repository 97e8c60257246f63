"""The velocity check's address key follows the shipping address: recomputed when staff edit
it and when the channel changes it, so that orders are counted at the address they now go to."""
from datetime import timedelta

import pytest

from connectors.base import NormalizedAddress

from app.models import Order
from app.services.channels import importing
from app.services.orders import edits as order_edits
from app.services.orders import actions as orders
from app.services.orders import addresses
from app.services.core import settings
from app.services.core.actor import Actor
from tests.factories import normalized_order

DROP = {"name": "Drop", "line1": "9 Forwarder Way", "city": "Miami", "postcode": "33101",
        "country": "US"}


@pytest.fixture
def shop(make):
    wh = make.warehouse("W1", "US")
    make.product("A-1", stock={wh: 100})
    return make.channel("web")


def reload(session, order_id) -> Order:
    session.expire_all()
    return session.get(Order, order_id)


def test_staff_address_edit_recomputes_the_key(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")])
    old_key = order.ship_address_key
    assert old_key == addresses.address_key(order.shipping_address)
    orders.edit_address(session, order.id, "shipping", DROP, order.version, actor("support"))
    order = reload(session, order.id)
    assert order.ship_address_key == addresses.address_key(DROP) != old_key
    # a billing edit leaves it alone
    orders.edit_address(session, order.id, "billing", {**DROP, "line1": "1 Bill St"},
                        order.version, actor("support"))
    assert reload(session, order.id).ship_address_key == addresses.address_key(DROP)


def test_combined_order_edit_recomputes_the_key(session, make, shop, actor):
    order = make.order(shop, [("A-1", 1, "5")])
    order_edits.edit_order(session, order.id, actor("support"), expected_version=order.version,
                           shipping_address=DROP, email="new@example.com")
    assert reload(session, order.id).ship_address_key == addresses.address_key(DROP)


def test_channel_address_change_recomputes_the_key(session, make, shop):
    normalized = normalized_order([("A-1", 1, "5")])
    order = importing.import_order(session, shop, normalized, Actor.channel("web")).order
    old_key = order.ship_address_key
    normalized.shipping_address = NormalizedAddress(**DROP)
    normalized.updated_at += timedelta(minutes=5)
    normalized.raw = {**normalized.raw, "address": "moved"}
    assert importing.import_order(session, shop, normalized,
                                  Actor.channel("web")).outcome == "updated"
    order = reload(session, order.id)
    assert order.ship_address_key == addresses.address_key(DROP) != old_key


def test_velocity_counts_an_order_at_its_new_address(session, make, shop, actor):
    """Two orders moved to the drop address by staff count there: the third order to it
    goes to review (limit 2), which it would not if the keys kept the old addresses."""
    settings.set_value(session, "velocity_max_orders", "2", actor())
    start = make.order(shop, [("A-1", 1, "5")], email="a@example.com").placed_at
    moved = [make.order(shop, [("A-1", 1, "5")], email=f"m{i}@example.com",
                        placed_at=start + timedelta(minutes=i + 1)) for i in range(2)]
    for order in moved:
        orders.edit_address(session, order.id, "shipping", DROP, order.version,
                            actor("support"))
    third = make.order(shop, [("A-1", 1, "5")], email="t@example.com",
                       shipping_address=NormalizedAddress(**DROP),
                       placed_at=start + timedelta(minutes=5))
    assert third.status == "new"
    assert "3 orders to this shipping address" in \
        {h.reason: h.note for h in third.open_holds}["review"]
