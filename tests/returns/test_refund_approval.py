"""Refunds above a Support agent's limit wait for an Admin: recorded pending approval (who
asked, on the order's timeline), their amount held against the cap; the Admins' page and API
list them; approving sends the refund on as any refund (the outbox for a written-back order),
rejecting frees the amount. Role checks and CSRF on the page, role checks on the API."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import Order, OrderEvent, OutboxMessage, Refund, Return
from app.services.channels import config as channels
from app.services.core.errors import InvalidTransition, ValidationFailed
from app.services.returns import actions as returns, approvals
from tests.api.conftest import assert_error


def _events(session, order_id, type_):
    session.expire_all()
    return session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id, OrderEvent.type == type_)
                           .order_by(OrderEvent.id)).all()


def _written_back(session, shipped, actor):
    """The order's channel gets an API and credentials: its refunds go through the outbox."""
    channels.save_channel(session, {"code": "shop", "name": "Shop", "kind": "shopify",
                                    "base_url": "http://127.0.0.1:9"}, actor("admin"), shipped.channel.id,
                          credentials={"access_token": "x"})
    session.commit()


def _refund_messages(session):
    return session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "channel.refund")).all()


@pytest.fixture
def received(session, shipped, actor):
    """Both SKU-A back as "too small", received and inspected: the policy says 60.00."""
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 2}, "too_small", actor("support"))
    returns.receive_return(session, ret.id, actor("warehouse"))
    returns.inspect(session, ret.id, {}, actor("warehouse"))
    return ret


def test_above_the_limit_waits_then_approval_sends_it_through_the_outbox(session, shipped, received, actor):
    _written_back(session, shipped, actor)
    asked = returns.refund_return(session, received.id, actor("support"), limit=Decimal("20"))
    assert (asked.status, asked.amount, asked.created_by) == ("pending_approval", Decimal("60.00"), "user:support")
    assert session.get(Return, received.id).status == "inspected"  # not closed before an Admin says so
    assert _refund_messages(session) == []  # nothing leaves before approval
    [event] = _events(session, shipped.order_id, "refund_pending_approval")
    assert event.actor == "user:support" and "above the refund limit of 20" in event.message
    # its amount is held: 108 paid, 60 held, so 48.01 more is refused even for an Admin
    with pytest.raises(ValidationFailed, match="left to refund"):
        returns.refund(session, shipped.order_id, "48.01", "goodwill", actor("admin"))
    assert [r.id for r in approvals.awaiting(session)] == [asked.id]

    approved = approvals.approve(session, asked.id, actor("admin"))
    assert approved.status == "pending"  # sent to the channel, succeeded when it confirms
    [event] = _events(session, shipped.order_id, "refund_approved")
    assert event.actor == "user:admin" and "asked by user:support" in event.message
    [message] = _refund_messages(session)
    assert message.payload == {"refund_id": asked.id} and message.status == "pending"
    assert session.get(Return, received.id).status == "closed"
    assert approvals.awaiting(session) == []
    with pytest.raises(InvalidTransition):  # decided once
        approvals.reject(session, asked.id, "too late", actor("admin"))


def test_rejected_frees_the_amount_and_an_admin_never_decides_their_own(session, shipped, received, actor):
    asked = returns.refund_return(session, received.id, actor("support"), amount="100.00", limit=Decimal("20"))
    rejected = approvals.reject(session, asked.id, "the policy says 60", actor("admin"))
    assert (rejected.status, rejected.error) == ("rejected", "the policy says 60")
    [event] = _events(session, shipped.order_id, "refund_rejected")
    assert event.actor == "user:admin" and "the policy says 60" in event.message
    assert session.get(Return, received.id).status == "inspected"  # Support may refund again
    within = returns.refund_return(session, received.id, actor("support"), amount="20.00", limit=Decimal("20"))
    assert within.status == "succeeded"  # within the limit: no approval (no channel to tell here)
    mine = returns.refund(session, shipped.order_id, "50.00", "goodwill", actor("admin"), limit=Decimal("20"))
    with pytest.raises(ValidationFailed, match="another Admin"):
        approvals.approve(session, mine.id, actor("admin"))
    assert session.get(Refund, mine.id).status == "pending_approval"
    approvals.approve(session, mine.id, actor("support"))  # (the service trusts its caller's role check)
    assert session.get(Order, shipped.order_id).financial_status == "partially_refunded"


def test_admins_approve_on_their_page_with_role_checks_and_csrf(session, shipped, received, client_for, actor):
    asked = returns.refund_return(session, received.id, actor("support"), limit=Decimal("20"))
    session.commit()
    for role in ("support", "warehouse", "operations", "viewer"):
        client = client_for(role)
        assert client.get("/refunds/approval/").status_code == 403
        assert client.post(f"/refunds/approval/{asked.id}/approve",
                           data={"csrf_token": client.csrf_token}).status_code == 403
    assert "Refunds to approve" not in client_for("support").get("/orders/list/").get_data(as_text=True)
    admin = client_for("admin")
    assert "Refunds to approve" in admin.get("/orders/list/").get_data(as_text=True)  # the menu
    page = admin.get("/refunds/approval/").get_data(as_text=True)
    assert f'id="refund-{asked.id}"' in page and "user:support" in page and "60.00" in page
    assert admin.post(f"/refunds/approval/{asked.id}/approve").status_code == 400  # no CSRF token
    session.expire_all()
    assert session.get(Refund, asked.id).status == "pending_approval"
    done = admin.post(f"/refunds/approval/{asked.id}/approve", data={"csrf_token": admin.csrf_token},
                      follow_redirects=True).get_data(as_text=True)
    assert "approved: made" in done and "No refund waits for approval" in done
    session.expire_all()
    assert session.get(Refund, asked.id).status == "succeeded"


def test_support_over_the_limit_on_the_return_page_is_told_it_waits(session, shipped, received, client_for,
                                                                      policy_set):
    policy_set(support_refund_limit="20")
    support = client_for("support")
    page = support.post(f"/returns/{received.id}/refund", data={"csrf_token": support.csrf_token},
                        follow_redirects=True).get_data(as_text=True)
    assert "waits for an Admin" in page
    session.expire_all()
    assert session.scalar(select(Refund.status).where(Refund.return_id == received.id)) == "pending_approval"


def test_the_refund_api_lists_and_decides_with_role_checks(api, session, shipped, received, policy_set):
    policy_set(support_refund_limit="20")
    made = api.post(f"/api/v1/order/{shipped.order_id}/refund", {"amount": "30", "reason": "late"}, as_="support")
    assert made.status_code == 201 and made.get_json()["result"]["status"] == "pending_approval"
    refund_id = made.get_json()["id"]
    other = api.post(f"/api/v1/order/{shipped.order_id}/refund", {"amount": "5"}, as_="support")
    assert other.get_json()["result"]["status"] == "succeeded"
    listed = api.get("/api/v1/refund/?q=(filters:!((col:status,opr:eq,value:pending_approval)))", as_="viewer")
    assert [r["id"] for r in listed.get_json()["result"]] == [refund_id]
    for role in ("support", "warehouse", "operations", "viewer"):
        assert_error(api.post(f"/api/v1/refund/{refund_id}/approve", as_=role), 403)
        assert_error(api.post(f"/api/v1/refund/{refund_id}/reject", {"reason": "no"}, as_=role), 403)
    assert_error(api.post("/api/v1/refund/999999/approve"), 404)
    assert_error(api.post(f"/api/v1/refund/{refund_id}/reject", {"reason": 5}), 422, "reason")
    rejected = api.post(f"/api/v1/refund/{refund_id}/reject", {"reason": "not late"})
    assert rejected.status_code == 200, rejected.get_json()
    assert (rejected.get_json()["result"]["status"], rejected.get_json()["result"]["error"]) == ("rejected",
                                                                                                 "not late")
    assert_error(api.post(f"/api/v1/refund/{refund_id}/approve"), 409, code="invalid_transition")
