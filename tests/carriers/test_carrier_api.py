"""The REST API of carriers: accounts with write-only credentials (a new URL needs them
again), rates, ship with a label, the label document, void; delivery exceptions' actions;
role checks per DESIGN's matrix."""
from __future__ import annotations

from connectors.sandbox import CARRIER_CREDENTIALS, carrier_base_urls

from app.services.fulfilment import shipments

PACKAGE = {"weight_kg": "2", "length_cm": "30", "width_cm": "20", "height_cm": "15"}


def _account(app_client, headers, root):
    creds = dict(CARRIER_CREDENTIALS["ups"])
    number = creds.pop("account_number")
    return app_client.post("/api/v1/carrier_account/", headers=headers, json={
        "code": "ups", "name": "UPS", "kind": "ups", "base_url": carrier_base_urls(root)["ups"],
        "account_number": number, "credentials": creds, "webhook_secret": "track-alert"})


def test_carrier_accounts_keep_credentials_write_only(app, api_headers, carrier_sandbox):
    client = app.test_client()
    assert _account(client, api_headers("support"), carrier_sandbox.root).status_code == 403
    created = _account(client, api_headers("operations"), carrier_sandbox.root)
    assert created.status_code == 201, created.get_data(as_text=True)
    account = created.json["result"]
    assert account["has_credentials"] and "credentials" not in account and "client_secret" not in created.get_data(
        as_text=True)
    listed = client.get("/api/v1/carrier_account/", headers=api_headers("viewer"))
    assert listed.status_code == 200 and "ups-sandbox-client-secret" not in listed.get_data(as_text=True)
    moved = client.put(f"/api/v1/carrier_account/{created.json['id']}", headers=api_headers("operations"),
                       json={"base_url": "https://evil.example.com/ups"})
    assert moved.status_code == 422 and "credentials" in moved.json["errors"]
    missing = client.post("/api/v1/carrier_account/", headers=api_headers("operations"), json={
        "code": "ep", "name": "EasyPost", "kind": "easypost", "base_url": "https://api.easypost.com"})
    assert missing.status_code == 422 and "credentials" in missing.json["errors"]


def test_rates_ship_label_and_void_over_rest(app, session, make, actor, api_headers, carrier_sandbox, fast):
    client = app.test_client()
    assert _account(client, api_headers("admin"), carrier_sandbox.root).status_code == 201
    channel, warehouse = make.channel(), make.warehouse()
    make.product("MUG", stock={warehouse: 3})
    order = make.order(channel, [("MUG", 1, "12.50")])
    shipments.start_picking(session, order.id, actor())
    shipments.mark_packed(session, order.id, actor())
    order_id = order.id
    session.rollback()
    warehouse_headers = api_headers("warehouse")
    rates = client.post("/api/v1/shipment/rates", headers=warehouse_headers,
                        json={"order_id": order_id, "packages": [PACKAGE]})
    assert rates.status_code == 200 and rates.json["result"][0]["carrier"] == "ups"
    bad = client.post(f"/api/v1/shipment/order/{order_id}/ship", headers=warehouse_headers,
                      json={"carrier": "ups", "packages": [{**PACKAGE, "weight_kg": "0"}]})
    assert bad.status_code == 422 and "packages.0.weight_kg" in bad.json["errors"]
    assert client.post(f"/api/v1/shipment/order/{order_id}/ship", headers=api_headers("support"),
                       json={"carrier": "ups", "packages": [PACKAGE]}).status_code == 403
    shipped = client.post(f"/api/v1/shipment/order/{order_id}/ship", headers=warehouse_headers,
                          json={"carrier": "ups", "service": "auto", "packages": [PACKAGE]})
    assert shipped.status_code == 201, shipped.get_data(as_text=True)
    shipment = shipped.json["result"]
    assert shipment["status"] == "label_created" and shipment["tracking_number"].startswith("1Z")
    assert shipment["carrier_account"] == "ups" and shipment["label_format"] == "PDF"
    label = client.get(f"/api/v1/shipment/{shipment['id']}/label", headers=warehouse_headers)
    assert label.status_code == 200 and label.data.startswith(b"%PDF") and label.mimetype == "application/pdf"
    assert client.get(f"/api/v1/shipment/{shipment['id']}/label", headers=api_headers("viewer")).status_code == 403
    voided = client.post(f"/api/v1/shipment/{shipment['id']}/void", headers=warehouse_headers, json={})
    assert voided.status_code == 202


def test_delivery_exception_actions_by_role(app, api_headers, exception_item):
    _, _, item = exception_item
    client = app.test_client()
    listed = client.get("/api/v1/delivery_exception/", headers=api_headers("warehouse"))
    assert listed.status_code == 200 and listed.json["count"] == 1
    assert client.post(f"/api/v1/delivery_exception/{item.id}/resolve", headers=api_headers("warehouse"),
                       json={}).status_code == 403
    contacted = client.post(f"/api/v1/delivery_exception/{item.id}/contacted", headers=api_headers("support"),
                            json={"text": "Left a voicemail"})
    assert contacted.status_code == 200 and contacted.json["result"]["contacted_at"]
    wrong = client.post(f"/api/v1/delivery_exception/{item.id}/correct_address", headers=api_headers("support"),
                        json={"line1": "x"})
    assert wrong.status_code == 422 and "city" in wrong.json["errors"]
    done = client.post(f"/api/v1/delivery_exception/{item.id}/resolve", headers=api_headers("support"),
                       json={"text": "Redelivered"})
    assert done.json["result"]["status"] == "resolved"
    again = client.post(f"/api/v1/delivery_exception/{item.id}/resolve", headers=api_headers("support"), json={})
    assert again.status_code == 409


def test_ship_with_carrier_auto_shows_why_this_carrier(app, session, make, actor, api_headers, carrier_sandbox,
                                                        fast):
    client = app.test_client()
    assert _account(client, api_headers("admin"), carrier_sandbox.root).status_code == 201
    creds = dict(CARRIER_CREDENTIALS["usps"])
    number = creds.pop("account_number")
    usps = client.post("/api/v1/carrier_account/", headers=api_headers("admin"), json={
        "code": "usps", "name": "USPS", "kind": "usps", "base_url": carrier_base_urls(carrier_sandbox.root)["usps"],
        "account_number": number, "credentials": creds})
    assert usps.status_code == 201, usps.get_data(as_text=True)
    channel, warehouse = make.channel(), make.warehouse()
    make.product("MUG", stock={warehouse: 3})
    order = make.order(channel, [("MUG", 1, "12.50")])
    shipments.start_picking(session, order.id, actor())
    shipments.mark_packed(session, order.id, actor())
    order_id = order.id
    session.rollback()
    shipped = client.post(f"/api/v1/shipment/order/{order_id}/ship", headers=api_headers("warehouse"),
                          json={"carrier": "auto", "packages": [PACKAGE]})
    assert shipped.status_code == 201, shipped.get_data(as_text=True)
    result = shipped.json["result"]
    decision = result["rate_decision"]
    assert {r["account"] for r in decision["considered"]} == {"ups", "usps"}
    assert result["carrier_account"] == decision["chosen"]["account"]
    assert result["why_this_carrier"].startswith(f"{decision['chosen']['account']} ")
    assert "cheapest of" in result["why_this_carrier"]
