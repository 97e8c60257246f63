"""The return label's parcel, against the carrier sandbox over real HTTP: it weighs what the
returned units' products weigh (in a box preset that holds them), and the tracking pass that
polls outgoing shipments follows it too — in transit, then delivered to the warehouse — until
it is delivered; the return is received when the warehouse scans it."""
from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app.models import OrderEvent, Return
from app.models.base import utcnow
from app.services.fulfilment import boxes, return_labels, tracking
from app.services.returns import actions as returns


def _authorized_with_label(session, shipped, actor, policy_set, lines):
    policy_set(return_label_paid_by="us")
    ret = returns.create_return(session, shipped.order_id, lines, "changed_mind", actor("support"))
    returns.authorize(session, ret.id, actor("support"))
    return return_labels.buy(session, ret.id, actor("support"))


def _shipped_weights(label_carrier) -> list[str]:
    """The package weights of the UPS ship requests the sandbox received."""
    weights = []
    for method, path, _headers, body in label_carrier.control("requests")["requests"]:
        if method == "POST" and "/shipments/" in path:
            shipment = json.loads(base64.b64decode(body))["ShipmentRequest"]["Shipment"]
            packages = shipment["Package"] if isinstance(shipment["Package"], list) else [shipment["Package"]]
            weights += [p["PackageWeight"]["Weight"] for p in packages]
    return weights


def test_the_label_weighs_the_returned_products_in_a_box_that_holds_them(session, shipped, policy_set,
                                                                          label_carrier, actor):
    shipped.pa.weight_kg = Decimal("0.4")  # SKU-A weighed; SKU-B not: 1 kg a unit
    session.commit()
    label_carrier.control("log", enabled=True)
    ret = _authorized_with_label(session, shipped, actor, policy_set, {shipped.a.id: 2})
    assert ret.label_tracking and ret.label_error is None
    ret2 = _authorized_with_label(session, shipped, actor, policy_set, {shipped.b.id: 1})
    assert ret2.label_tracking
    assert [Decimal(w) for w in _shipped_weights(label_carrier)] == [Decimal("0.8"), Decimal("1.0")]
    # with dimensions and a box preset that holds them: the box's size, its tare added
    for product in (shipped.pa,):
        product.length_cm, product.width_cm, product.height_cm = Decimal("20"), Decimal("15"), Decimal("5")
    boxes.save_box(session, shipped.wh.id, {"name": "Mailer", "length_cm": "25", "width_cm": "20", "height_cm": "12",
                                            "tare_kg": "0.15", "max_weight_kg": "5"}, actor("admin"))
    session.commit()
    package = return_labels.parcel(session, session.get(Return, ret.id), shipped.wh)
    assert (package.weight_kg, package.length_cm, package.width_cm, package.height_cm) == (
        Decimal("0.950"), Decimal("25"), Decimal("20"), Decimal("12"))


def test_the_tracking_pass_follows_the_return_parcel_to_the_warehouse(session, shipped, policy_set,
                                                                       label_carrier, actor):
    ret = _authorized_with_label(session, shipped, actor, policy_set, {shipped.a.id: 1})
    ret_id, number = ret.id, ret.label_tracking
    summary = tracking.poll(session)  # only the label so far
    assert summary.asked == 1 and not summary.errors
    ret = session.get(Return, ret_id)
    assert (ret.status, ret.parcel_status) == ("authorized", "pre_transit") and ret.next_track_at is not None
    assert tracking.poll(session).asked == 0  # not due again before its next look
    label_carrier.control("advance", hours=5)  # picked up
    tracking.poll(session, now=utcnow() + timedelta(hours=1))
    session.expire_all()
    ret = session.get(Return, ret_id)
    assert (ret.status, ret.parcel_status) == ("in_transit", "in_transit")
    label_carrier.control("advance", hours=24 * 10)
    tracking.poll(session, now=utcnow() + timedelta(hours=2))
    session.expire_all()
    ret = session.get(Return, ret_id)
    assert (ret.status, ret.parcel_status, ret.next_track_at) == ("in_transit", "delivered", None)
    messages = session.scalars(select(OrderEvent.message).where(OrderEvent.order_id == shipped.order_id,
                                                                OrderEvent.type == "return_parcel")
                               .order_by(OrderEvent.id)).all()
    assert messages[-1] == f"Return {ret.rma_number} parcel: delivered to the warehouse"
    assert any("in transit" in m for m in messages)
    assert tracking.poll(session, now=utcnow() + timedelta(days=3)).asked == 0  # never asked again
    assert returns.find(session, number).id == ret_id  # the receiving station scans the label
    returns.receive_return(session, ret_id, actor("warehouse"))
    assert session.get(Return, ret_id).status == "received"


def test_the_return_page_and_api_show_the_parcel(session, shipped, policy_set, label_carrier, actor,
                                                 client_for, api):
    ret = _authorized_with_label(session, shipped, actor, policy_set, {shipped.a.id: 1})
    label_carrier.control("advance", hours=5)
    tracking.poll(session)
    page = client_for("viewer").get(f"/returns/show/{ret.id}").get_data(as_text=True)
    assert "Return parcel" in page and "in transit" in page
    detail = api.get(f"/api/v1/return/{ret.id}", as_="viewer").get_json()["result"]
    assert detail["parcel_status"] == "in_transit" and detail["parcel_event_at"]
