"""The carrier pages: carrier accounts (Operations write, others read; secrets never shown),
the delivery exceptions queue (Support acts), the shipment page with its tracking timeline
(carrier's code and words beside ours) and label download."""
from __future__ import annotations

from app.models import CarrierAccount, DeliveryException, ShipmentLabel
from app.models.base import utcnow
from app.services.fulfilment import carriers


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


def test_exception_queue_and_shipment_page(client_for, session, exception_item):
    order, shipment, item = exception_item
    # a label as a carrier gave it (labels are bought against the sandbox in test_fulfilment_carriers.py)
    session.add(ShipmentLabel(shipment_id=shipment.id, carrier="ups", tracking_number="1ZEXCEPTION", format="PDF",
                              data=b"%PDF-1.4 label", created_at=utcnow()))
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


def test_an_uncertain_purchase_is_settled_from_the_shipment_page(client_for, session, actor, exception_item):
    from app.models import Shipment, ShipmentPackage
    from app.models.base import utcnow as now

    order, shipment, _ = exception_item
    account = carriers.get_account(session, "by-hand")
    uncertain = Shipment(order_id=order.id, carrier="ups", carrier_account_id=account.id, status="label_uncertain",
                         label_reference="wb-test-ref", created_by="user:warehouse", created_at=now(),
                         label_error="no answer from the carrier",
                         packages=[ShipmentPackage(weight_kg=1, length_cm=1, width_cm=1, height_cm=1)])
    session.add(uncertain)
    session.commit()
    uncertain_id, order_id = uncertain.id, order.id
    client = client_for("warehouse")
    page = client.get(f"/shipment-labels/{uncertain_id}").get_data(as_text=True)
    assert "Nothing was bought" in page and "no answer from the carrier" in page
    response = client.post(f"/shipment-labels/{uncertain_id}/nothing-bought",
                           data={"csrf_token": client.csrf_token, "note": "checked"})
    assert response.status_code == 302 and f"/orders/show/{order_id}" in response.location
    session.expunge_all()
    assert session.get(Shipment, uncertain_id) is None


def test_a_label_bought_from_the_order_page(app, client_for, session, make, actor, carrier_sandbox, monkeypatch):
    from connectors.sandbox import CARRIER_CREDENTIALS, carrier_base_urls

    from app.services.fulfilment import shipments

    monkeypatch.setitem(app.config, "OMS_CONNECTOR_OPTIONS", {"time_scale": 0.001})
    carriers.save_account(session, {"code": "ep", "name": "EasyPost", "kind": "easypost",
                                    "base_url": carrier_base_urls(carrier_sandbox.root)["easypost"]}, actor(),
                          credentials=dict(CARRIER_CREDENTIALS["easypost"]))
    channel, warehouse = make.channel(), make.warehouse()
    make.product("MUG", stock={warehouse: 3})
    order = make.order(channel, [("MUG", 1, "12.50")])
    shipments.start_picking(session, order.id, actor())
    shipments.mark_packed(session, order.id, actor())
    order_id = order.id
    session.commit()
    client = client_for("warehouse")
    assert "Buy label &amp; ship" in client.get(f"/orders/show/{order_id}").get_data(as_text=True)
    response = client.post(f"/shipment-labels/order/{order_id}/buy", data={
        "csrf_token": client.csrf_token, "carrier": "ep", "weight_kg": "0.8", "length_cm": "20",
        "width_cm": "15", "height_cm": "10"})
    assert response.status_code == 302 and "/shipment-labels/" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "Download / reprint" in page and "<code>MA</code>" not in page  # not polled yet
