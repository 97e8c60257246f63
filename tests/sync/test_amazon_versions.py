"""An Amazon channel reads the Orders API 2026-01-01 unless it is set to the v0 fallback; both
import the same orders with their e-mails and addresses; without the restricted role the
orders still import, without PII. Real HTTP to the sandbox, the real import."""
import pytest
from sqlalchemy import select

from app.models import Order
from app.services.channels import config as channels
from app.services.core.errors import ValidationFailed
from jobs import pull_orders


def _imported(session, channel):
    session.expire_all()
    return {o.external_id: o for o in session.scalars(select(Order).where(Order.channel_id == channel.id))}


@pytest.mark.parametrize("version", [None, "v0"])
def test_amazon_channel_reads_its_api_version_with_restricted_data(session, sandbox, sandbox_channels, make,
                                                                   version):
    state, _root = sandbox
    state.create_orders("amazon", 25)
    channel = channels.save_channel(session, {"api_version": version}, make.actor,
                                    channel_id=sandbox_channels["amazon"].id)
    assert pull_orders.connector_for(channel).api_version == (version or "2026-01-01")
    run = pull_orders.run(channel.code)
    assert run.status == "succeeded", run.error_message
    facts = state.snapshot()["channels"]["amazon"]["na"]["orders"]
    orders = _imported(session, channel)
    assert set(orders) == set(facts)
    for external_id, order in orders.items():
        assert order.email == facts[external_id]["email"]
    ready = [o for o in orders.values() if o.total is not None and not o.fulfilled_by_channel]
    assert ready and all(o.shipping_address and o.shipping_address.get("line1") for o in ready)


def test_without_the_role_orders_import_without_pii(session, sandbox, sandbox_channels):
    state, _root = sandbox
    state.amazon_pii_role = False
    state.create_orders("amazon", 15)
    run = pull_orders.run(sandbox_channels["amazon"].code)
    assert run.status == "succeeded" and run.created == 15
    orders = _imported(session, sandbox_channels["amazon"]).values()
    assert all(o.email is None and o.customer_id is None for o in orders)
    assert all("line1" not in (o.shipping_address or {}) for o in orders)


def test_an_unknown_api_version_is_refused(session, sandbox_channels, make):
    with pytest.raises(ValidationFailed) as err:
        channels.save_channel(session, {"api_version": "2025-01-01"}, make.actor,
                              channel_id=sandbox_channels["amazon"].id)
    assert "2026-01-01, v0" in str(err.value.errors)
    with pytest.raises(ValidationFailed):
        channels.save_channel(session, {"api_version": "v0"}, make.actor, channel_id=sandbox_channels["woocommerce"].id)
