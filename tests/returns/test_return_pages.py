"""The returns list filters, the customer's return rate and the reason codes page."""
from __future__ import annotations

from datetime import timedelta

from app.models import Return
from app.services.returns import actions as returns


def test_filters_rate_and_reason_page(session, shipped, make, client_for, actor):
    small = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_small", actor("support"))
    broken = returns.create_return(session, shipped.order_id, {shipped.b.id: 1}, "damaged", actor("support"))
    returns.authorize(session, broken.id, actor("support"))
    session.get(Return, broken.id).authorized_at -= timedelta(days=30)  # expected long ago
    session.commit()
    viewer = client_for("viewer")
    page = viewer.get("/returns/queue/?reason=too_small").get_data(as_text=True)
    assert small.rma_number in page and broken.rma_number not in page
    page = viewer.get("/returns/queue/?age=overdue").get_data(as_text=True)
    assert broken.rma_number in page and small.rma_number not in page
    page = viewer.get(f"/returns/queue/?status=requested&channel_id={shipped.channel.id}").get_data(as_text=True)
    assert small.rma_number in page and broken.rma_number not in page
    returns.receive_return(session, broken.id, actor("warehouse"))
    page = viewer.get(f"/customers/show/{shipped.order.customer_id}").get_data(as_text=True)
    assert "33.3%" in page and small.rma_number in page  # 1 of 3 units shipped came back
    admin, support = client_for("admin"), client_for("support")
    assert support.get("/return-reasons/").status_code == 403
    page = admin.get("/return-reasons/").get_data(as_text=True)
    assert "Wrong item sent" in page
    saved = admin.post("/return-reasons/save", data={"code": "gift", "label": "Unwanted gift", "active": "on",
                                                    "csrf_token": admin.csrf_token}, follow_redirects=True)
    assert "Reason gift saved" in saved.get_data(as_text=True)
