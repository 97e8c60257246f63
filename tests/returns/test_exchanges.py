"""Exchanges: a new order on the same channel linked to the return and the original, its
stock reserved at authorization; a cheaper one leaves the difference to refund, a dearer one
waits on a payment hold until the difference is marked paid."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import Allocation, Order
from app.services.core.errors import Conflict, ValidationFailed
from app.services.orders import queries
from app.services.returns import actions as returns, exchanges, policy


def test_a_cheaper_exchange_refunds_the_difference(session, shipped, make, actor):
    make.product("SKU-C", stock={shipped.wh: 3})  # priced 10.00
    ret = returns.create_return(session, shipped.order_id, {shipped.b.id: 1}, "too_small", actor("support"))
    with pytest.raises(ValidationFailed) as err:
        exchanges.create_exchange(session, ret.id, {"NOPE": 1}, actor("support"))
    assert "items.NOPE" in err.value.errors
    new = exchanges.create_exchange(session, ret.id, {"SKU-C": 2}, actor("support"))
    assert ret.status == "authorized" and ret.exchange_order_id == new.id
    assert (new.channel_id, new.total, new.status, new.is_held) == (shipped.channel.id, Decimal("20.00"),
                                                                     "allocated", False)
    assert session.scalar(select(Allocation.quantity).where(Allocation.order_id == new.id)) == 2
    assert not queries.written_back(new)  # the channel does not know it
    # 40 - 4 + 4 for the returned item, less the 20.00 of goods sent instead
    assert policy.breakdown(session, ret).total == Decimal("20.00")
    with pytest.raises(Conflict):
        exchanges.create_exchange(session, ret.id, {"SKU-C": 1}, actor("support"))


def test_a_dearer_exchange_waits_for_the_difference(session, shipped, make, actor):
    make.product("SKU-D", stock={shipped.wh: 3})
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_small", actor("support"))
    new = exchanges.create_exchange(session, ret.id, {"SKU-D": 4}, actor("support"))  # 40.00 for 30.00
    assert new.is_held and [h.reason for h in new.holds if h.released_at is None] == ["payment"]
    assert policy.breakdown(session, ret).total == Decimal("0")
    exchanges.mark_paid(session, ret.id, actor("support"))
    assert not session.get(Order, new.id).is_held


def test_exchange_api(api, session, shipped, make, actor):
    make.product("SKU-C", stock={shipped.wh: 3})
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_small", actor("support"))
    assert api.post(f"/api/v1/return/{ret.id}/exchange", {"items": {"SKU-C": 1}},
                           as_="warehouse").status_code == 403
    assert api.post(f"/api/v1/return/{ret.id}/exchange", {"items": {"SKU-C": 0}},
                           as_="support").status_code == 422
    made = api.post(f"/api/v1/return/{ret.id}/exchange", {"items": {"SKU-C": 1}}, as_="support")
    assert made.status_code == 201 and made.get_json()["result"]["exchange_order_id"]
    assert made.get_json()["result"]["breakdown"]["exchange"] == "10.00"


def test_exchange_from_the_return_page(client_for, session, shipped, make, actor):
    make.product("SKU-D", stock={shipped.wh: 3})
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_small", actor("support"))
    support = client_for("support")
    page = support.post(f"/returns/{ret.id}/exchange", data={"items": "SKU-D=4", "csrf_token": support.csrf_token},
                        follow_redirects=True).get_data(as_text=True)
    assert "Exchange order" in page and "The difference is paid" in page
    support.post(f"/returns/{ret.id}/exchange/paid", data={"csrf_token": support.csrf_token})
    session.expire_all()
    assert not session.get(Order, session.get(type(ret), ret.id).exchange_order_id).is_held
