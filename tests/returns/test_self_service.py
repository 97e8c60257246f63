"""The public self-service return page /returns/start: found by number + e-mail or a signed
link, CSRF, rate limit, what can be returned and why not, the label bought and shown, the
customer's mails (authorized with the label attached, rejected, received)."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.models import OutboxMessage, Return
from app.services.notify import mail_render, return_mail
from app.services.returns import actions as returns, self_service
from tests.conftest import CSRF_RE


def csrf(page: str) -> str:
    return CSRF_RE.search(page).group(1)


def mails(session, event):
    return [m.payload for m in session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify.customer"))
            if m.payload["event"] == event]


def test_customer_returns_one_item_and_gets_the_label(app, client_for, session, shipped, policy_set,
                                                       label_carrier):
    policy_set(return_label_paid_by="us", return_auto_authorize_below="1000", return_nonreturnable_skus="SKU-B")
    web = client_for(None)
    start = web.get("/returns/start").get_data(as_text=True)
    number, email = shipped.order.order_number, shipped.order.email
    assert web.post("/returns/start", data={"order_number": number, "email": email}).status_code == 400  # CSRF
    wrong = web.post("/returns/start", data={"order_number": number, "email": "x@example.com",
                                             "csrf_token": csrf(start)})
    assert wrong.status_code == 404 and "No order" in wrong.get_data(as_text=True)
    page = web.post("/returns/start", data={"order_number": number.lstrip("#"), "email": email.upper(),
                                            "csrf_token": csrf(start)}).get_data(as_text=True)
    assert "Cannot be returned: this item cannot be returned" in page  # SKU-B
    action = re.search(r'action="(/returns/start/[^"]+)"', page).group(1)
    a = shipped.a.id
    refused = web.post(action, data={f"qty_{a}": "3", f"reason_{a}": "too_small", "csrf_token": csrf(page)})
    assert refused.status_code == 422 and session.scalar(select(Return.id)) is None
    done = web.post(action, data={f"qty_{a}": "1", f"reason_{a}": "too_small", "csrf_token": csrf(page)})
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "is authorized" in text and "Download your return label" in text
    session.expire_all()
    ret = session.scalar(select(Return))
    assert (ret.source, ret.status, ret.created_by) == ("customer", "authorized", f"customer:{email}")
    assert ret.label_tracking and ret.label_carrier == "ups-main"
    label = web.get(re.search(r'href="(/returns/label/[^"]+)"', text).group(1))
    assert label.status_code == 200 and label.data[:4] == b"%PDF"
    assert web.get("/returns/label/not-a-token").status_code == 404
    # the mail waited for the label, and carries it
    [payload] = mails(session, "return_authorized")
    assert return_mail.label_attachment(session, payload)[0][2][:4] == b"%PDF"
    context = mail_render.context_for(session, payload)
    assert context["ret"]["has_label"] and context["ret"]["rma_number"] == ret.rma_number
    # the signed link (the order's mails) reaches the same order
    assert number in web.get(f"/returns/start/{self_service.link_token(shipped.order_id)}").get_data(as_text=True)
    link = mail_render.context_for(session, {"event": "delivered", "order_id": shipped.order_id})["return_url"]
    assert number in web.get(link.split("localhost:8080", 1)[-1]).get_data(as_text=True)
    assert web.get("/returns/start/forged").status_code == 404


def test_rejected_and_received_mails_and_channel_run_returns(session, shipped, make, client_for, actor, app):
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_large", actor("support"))
    returns.reject(session, ret.id, "Worn", actor("support"))
    [payload] = mails(session, "return_rejected")
    assert mail_render.context_for(session, payload)["ret"]["rejection_reason"] == "Worn"
    other = returns.create_return(session, shipped.order_id, {shipped.b.id: 1}, "changed_mind", actor("support"))
    returns.authorize(session, other.id, actor("support"))  # the customer pays the label (policy default)
    returns.receive_return(session, other.id, actor("warehouse"))
    assert [p["return_id"] for p in mails(session, "return_authorized")] == [other.id]
    assert [p["return_id"] for p in mails(session, "return_received")] == [other.id]
    amazon = make.order(make.channel("amz", kind="amazon"), [("SKU-A", 1, "30.00")], email="a@example.com")
    web = client_for(None)
    start = web.get("/returns/start").get_data(as_text=True)
    page = web.post("/returns/start", data={"order_number": amazon.order_number, "email": "a@example.com",
                                            "csrf_token": csrf(start)})
    assert page.status_code == 422 and "made on amz" in page.get_data(as_text=True).lower()


def test_the_public_page_is_rate_limited(app, client_for, monkeypatch):
    from app import returns_public

    returns_public.LIMIT.clear()
    monkeypatch.setitem(app.config, "OMS_RETURNS_PUBLIC_LIMIT", 3)
    web = client_for(None)
    assert [web.get("/returns/start").status_code for _ in range(4)] == [200, 200, 200, 429]
    returns_public.LIMIT.clear()


def test_the_return_parcels_tracking_moves_it_in_transit(session, shipped, policy_set, label_carrier, actor):
    from datetime import timedelta

    from connectors.carriers.base import TrackingEvent, TrackingUpdate
    from app.models import CarrierAccount
    from app.models.base import utcnow
    from app.services.fulfilment import return_labels, tracking

    policy_set(return_label_paid_by="us")
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "changed_mind", actor("support"))
    returns.authorize(session, ret.id, actor("support"))
    ret = return_labels.buy(session, ret.id, actor("support"))
    account_id = session.scalar(select(CarrierAccount.id).where(CarrierAccount.code == "ups-main"))
    at = utcnow()
    tracking.record(session, account_id, TrackingUpdate(ret.label_tracking, "pre_transit", events=[
        TrackingEvent(at - timedelta(hours=1), "pre_transit", "MP", "Label created")]), source="webhook")
    session.commit()
    assert session.get(Return, ret.id).status == "authorized"
    tracking.record(session, account_id, TrackingUpdate(ret.label_tracking, "in_transit", events=[
        TrackingEvent(at, "in_transit", "I", "Picked up")]), source="webhook")
    session.commit()
    assert session.get(Return, ret.id).status == "in_transit"
