"""A label bought and not moving yet is voided through the outbox when its order is cancelled
or its address changes (the address change also asks for a new label)."""
from __future__ import annotations

from sqlalchemy import select

from app.models import OrderEvent, OutboxMessage, Shipment, ShipmentLabel
from app.models.base import utcnow
from app.services.fulfilment import carriers
from app.services.orders import actions as orders


def _live_label(session, order, actor):
    account = carriers.save_account(session, {"code": "hand", "name": "By hand", "kind": "manual"}, actor)
    shipment = Shipment(order_id=order.id, carrier="manual", carrier_account_id=account.id, status="label_created",
                        tracking_number="T-1", created_by="test", created_at=utcnow())
    shipment.labels.append(ShipmentLabel(carrier="manual", tracking_number="T-1", format="PDF", data=b"%PDF",
                                         created_at=utcnow()))
    session.add(shipment)
    session.commit()
    return shipment


def _voids(session):
    return session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "carrier.void")).all()


def test_cancel_voids_a_live_label(floor, actor):
    order = floor.order([("MUG", 1)])
    shipment = _live_label(floor.session, order, actor("admin"))
    orders.cancel_order(floor.session, order.id, "customer changed their mind", actor("support"))
    assert [m.payload["shipment_id"] for m in _voids(floor.session)] == [shipment.id]


def test_a_new_address_voids_the_label_and_asks_for_another(floor, actor):
    order = floor.order([("MUG", 1)])
    shipment = _live_label(floor.session, order, actor("admin"))
    address = dict(order.shipping_address, line1="2 Other Street")
    orders.edit_address(floor.session, order.id, "shipping", address, order.version, actor("support"))
    assert [m.payload["shipment_id"] for m in _voids(floor.session)] == [shipment.id]
    assert floor.session.scalar(select(OrderEvent.message).where(OrderEvent.type == "label_needed")).startswith(
        "The address changed")
