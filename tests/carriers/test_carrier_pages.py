"""The carrier pages: carrier accounts (Operations write, others read; secrets never shown),
the delivery exceptions queue (Support acts), the shipment page with its tracking timeline
(carrier's code and words beside ours) and label download."""
from __future__ import annotations

from app.models import CarrierAccount, DeliveryException, ShipmentLabel, TrackingEvent
from app.models.base import utcnow
from app.services.fulfilment import carriers, shipments


def test_carrier_accounts_page(client_for, session, actor):
    operations = client_for("operations")
    response = operations.post("/carrier-accounts/save", data={
        "csrf_token": operations.csrf_token, "code": "ups", "name": "UPS", "kind": "ups",
        "base_url": "https://onlinetools.ups.com", "label_format": "ZPL", "enabled": "on",
        "cred_client_id": "id-123", "cred_client_secret": "very-secret-value", "webhook_secret": "hook-secret"})
    assert response.status_code == 302
    account = session.query(CarrierAccount).one()
    assert account.label_format == "ZPL" and carriers.connector_account(account).credentials["client_id"] == "id-123"
    page = client_for("viewer").get("/carrier-accounts/list/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "ups" in text and "very-secret-value" not in text and "hook-secret" not in text
    support = client_for("support")
    refused = support.post("/carrier-accounts/save", data={"csrf_token": support.csrf_token, "code": "x2",
                                                           "name": "X", "kind": "manual"})
    assert refused.status_code in (302, 403)
    assert session.query(CarrierAccount).count() == 1


def test_exception_queue_and_shipment_page(client_for, session, make, actor):
    channel, warehouse = make.channel(), make.warehouse()
    make.product("CAP", stock={warehouse: 2})
    order = make.order(channel, [("CAP", 1, "9.00")])
    shipments.start_picking(session, order.id, actor())
    shipments.mark_packed(session, order.id, actor())
    shipment = shipments.ship(session, order.id, actor(), carrier="UPS", tracking_number="1ZPAGE")
    session.add(TrackingEvent(shipment_id=shipment.id, occurred_at=utcnow(), status="failed_attempt",
                              description="Receiver not available", carrier="ups", carrier_code="48",
                              problem="failed_attempt", source="poll"))
    session.add(ShipmentLabel(shipment_id=shipment.id, carrier="ups", tracking_number="1ZPAGE", format="PDF",
                              data=b"%PDF-1.4 label", created_at=utcnow()))
    item = DeliveryException(shipment_id=shipment.id, order_id=order.id, problem="failed_attempt", status="open",
                             carrier_code="48", description="Receiver not available", occurred_at=utcnow(),
                             opened_at=utcnow(), notes=[])
    session.add(item)
    session.commit()
    support = client_for("support")
    queue = support.get("/delivery-exceptions/list/").get_data(as_text=True)
    assert "Receiver not available" in queue and order.order_number in queue
    support.post(f"/delivery-exceptions/{item.id}/resolve", data={"csrf_token": support.csrf_token,
                                                                   "text": "Redelivered"})
    session.expire_all()
    assert session.get(DeliveryException, item.id).status == "resolved"
    warehouse_client = client_for("warehouse")
    page = warehouse_client.get(f"/shipment-labels/{shipment.id}").get_data(as_text=True)
    assert "<code>48</code>" in page and "Receiver not available" in page and "Download / reprint" in page
    label = warehouse_client.post(f"/shipment-labels/{shipment.id}/label",
                                  data={"csrf_token": warehouse_client.csrf_token})
    assert label.status_code == 200 and label.data.startswith(b"%PDF")
    viewer_page = client_for("viewer").get(f"/shipment-labels/{shipment.id}").get_data(as_text=True)
    assert "Download / reprint" not in viewer_page
