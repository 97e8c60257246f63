"""From the delivery exceptions queue: reship (a replacement order, stock reserved) and, for a
parcel returned to sender, receive back (a return received now, no refund)."""
from __future__ import annotations

from sqlalchemy import select

from app.models import DeliveryException, Order, Refund, Return, Shipment
from app.models.base import utcnow
from app.services.fulfilment import exceptions


def open_exception(session, order_id, problem):
    shipment = session.scalar(select(Shipment).where(Shipment.order_id == order_id))
    item = exceptions.open_item(session, shipment, problem, "RS", "Returned to shipper", utcnow())
    session.commit()
    return item


def test_reship_and_receive_back_from_the_queue(session, shipped, make, client_for):
    support = client_for("support")
    item = open_exception(session, shipped.order_id, "returned")
    page = support.get("/delivery-exceptions/list/").get_data(as_text=True)
    assert "Reship" in page and "Receive back" in page
    assert client_for("warehouse").post(f"/delivery-exceptions/{item.id}/receive-back",
                                        data={"csrf_token": "x"}).status_code in (400, 403)
    page = support.post(f"/delivery-exceptions/{item.id}/receive-back", data={"csrf_token": support.csrf_token},
                        follow_redirects=True).get_data(as_text=True)
    assert "received back" in page
    session.expire_all()
    ret = session.scalar(select(Return).where(Return.order_id == shipped.order_id))
    assert ret.status == "received" and sorted(rl.quantity_received for rl in ret.lines) == [1, 2]
    assert session.get(DeliveryException, item.id).status == "resolved"
    assert session.scalar(select(Refund.id)) is None  # no refund unless chosen

    other = open_exception(session, shipped.order_id, "damage")
    support.post(f"/delivery-exceptions/{other.id}/reship", data={"csrf_token": support.csrf_token})
    session.expire_all()
    # everything came back already: nothing is left shipped to send again
    assert session.get(DeliveryException, other.id).status == "open"


def test_reship_reserves_stock_for_a_linked_replacement(session, shipped, make, client_for):
    from app.services.inventory import stock
    from app.services.core.actor import Actor

    for product in (shipped.pa, shipped.pb):
        stock.receive(session, shipped.wh.id, product.id, 5, Actor.system(), reference="more")
    session.commit()
    item = open_exception(session, shipped.order_id, "damage")
    support = client_for("support")
    page = support.post(f"/delivery-exceptions/{item.id}/reship", data={"csrf_token": support.csrf_token},
                        follow_redirects=True).get_data(as_text=True)
    assert "Replacement order" in page
    session.expire_all()
    new = session.scalar(select(Order).where(Order.order_number == f"{shipped.order.order_number}-R{item.id}"))
    assert new.status == "allocated" and new.total == 0
    assert sorted((l.sku, l.quantity) for l in new.lines) == [("SKU-A", 2), ("SKU-B", 1)]
    support.post(f"/delivery-exceptions/{item.id}/reship", data={"csrf_token": support.csrf_token})
    assert len(session.scalars(select(Order).where(Order.order_number.like("%-R%"))).all()) == 1
