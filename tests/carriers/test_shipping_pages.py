"""The Carriers II pages: shipping rules (Operations write, others read) with the method map,
box presets, customs fields on the product form, manifests (Warehouse closes the day; the
document downloads)."""
from __future__ import annotations

from decimal import Decimal

from app.models import BoxPreset, Manifest, Product, ShippingMethodMap, ShippingRule


def test_rules_boxes_and_method_map_pages(client_for, session, make):
    warehouse = make.warehouse()
    operations = client_for("operations")
    saved = operations.post("/shipping-rules/save", data={
        "csrf_token": operations.csrf_token, "name": "Heavy by ground", "priority": "5", "min_weight_kg": "10",
        "strategy": "cheapest", "countries": "US, CA", "enabled": "on", "use_promise": "on"})
    assert saved.status_code == 302
    rule = session.query(ShippingRule).one()
    assert rule.countries == ["US", "CA"] and rule.min_weight_kg == Decimal("10")
    operations.post("/shipping-rules/map-method", data={"csrf_token": operations.csrf_token, "method": "Expedited",
                                                        "service_level": "expedited", "promise_days": "2"})
    assert session.query(ShippingMethodMap).one().promise_days == 2
    operations.post("/box-presets/save", data={"csrf_token": operations.csrf_token, "warehouse_id": warehouse.id,
                                               "name": "Mailer", "length_cm": "30", "width_cm": "22", "height_cm": "6",
                                               "tare_kg": "0.15", "max_weight_kg": "3", "enabled": "on"})
    assert session.query(BoxPreset).one().tare_kg == Decimal("0.150")
    viewer = client_for("viewer")
    page = viewer.get("/shipping-rules/list/").get_data(as_text=True)
    assert "Heavy by ground" in page and "Expedited" in page and "Add a rule" not in page
    assert "Mailer" in viewer.get("/box-presets/list/").get_data(as_text=True)
    dry = viewer.get(f"/shipping-rules/list/?dry_run={rule.id}").get_data(as_text=True)
    assert "No shipment with a bought label yet" in dry
    warehouse_client = client_for("warehouse")
    refused = warehouse_client.post("/shipping-rules/save", data={"csrf_token": warehouse_client.csrf_token,
                                                                  "name": "nope"})
    assert refused.status_code in (302, 403) and session.query(ShippingRule).count() == 1


def test_customs_fields_on_the_product_form(client_for, session, make):
    product = make.product("TEE-9")
    operations = client_for("operations")
    response = operations.post(f"/products/edit/{product.id}", data={
        "csrf_token": operations.csrf_token, "sku": "TEE-9", "name": "Tee", "price": "10", "reorder_point": "0",
        "active": "y", "hs_code": "6109.10", "origin_country": "pt", "length_cm": "25"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    session.expire_all()
    product = session.get(Product, product.id)
    assert (product.hs_code, product.origin_country, product.length_cm) == ("6109.10", "PT", Decimal("25.0"))


def test_manifests_page_closes_the_day_with_our_pdf(client_for, session, make, actor):
    from app.models import Shipment, ShipmentPackage
    from app.models.base import utcnow
    from app.services.fulfilment import carriers

    warehouse = make.warehouse()
    account = carriers.save_account(session, {"code": "local-post", "name": "Local post", "kind": "easypost",
                                              "base_url": "http://127.0.0.1:9"}, actor(), credentials={"api_key": "k"})
    make.product("CAP", stock={warehouse: 1})
    order = make.order(make.channel(), [("CAP", 1, "9.00")])
    session.add(Shipment(order_id=order.id, warehouse_id=warehouse.id, carrier="easypost", service="Priority",
                         carrier_account_id=account.id, tracking_number="EZ123", status="label_created",
                         created_by="test", created_at=utcnow(), packages=[ShipmentPackage(
                             weight_kg=Decimal("1"), length_cm=Decimal("10"), width_cm=Decimal("10"),
                             height_cm=Decimal("10"))]))
    session.commit()
    support = client_for("support")
    support.post("/manifests/close", data={"csrf_token": support.csrf_token, "carrier": "local-post",
                                           "warehouse_id": warehouse.id})
    assert session.query(Manifest).count() == 0  # Support reads fulfilment, does not close
    floor = client_for("warehouse")
    floor.post("/manifests/close", data={"csrf_token": floor.csrf_token, "carrier": "local-post",
                                         "warehouse_id": warehouse.id})
    manifest = session.query(Manifest).one()
    assert manifest.kind == "local" and manifest.tracking_numbers == ["EZ123"]
    listed = client_for("viewer").get("/manifests/list/").get_data(as_text=True)
    assert "local-post" in listed and "Close the day" not in listed
    document = floor.get(f"/manifests/{manifest.id}/document")
    assert document.status_code == 200 and document.data.startswith(b"%PDF")
