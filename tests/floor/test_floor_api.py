"""The pick list and pack APIs and the floor pages: Warehouse and Admin work the floor, others
read; bad input is a 422 with its field; a scan refused is a 422 the page shows in red."""
from __future__ import annotations

from tests.api.conftest import Api
from tests.floor.conftest import PACKAGE


def _api(app, api_headers):
    return Api(app, api_headers)


def test_pick_list_api_create_scan_short_pdf_and_pack(app, api_headers, floor):
    api = _api(app, api_headers)
    order = floor.order([("MUG", 2), ("TEE", 1)])
    body = {"warehouse_id": floor.warehouse.id, "filters": {"max_orders": 10}}
    assert api.open("POST", "/api/v1/pick_list/", as_="support", json=body).status_code == 403
    bad = api.open("POST", "/api/v1/pick_list/", as_="warehouse", json={"warehouse_id": 999, "filters": {}})
    assert bad.status_code == 422 and "warehouse_id" in bad.json["errors"]
    preview = api.open("POST", "/api/v1/pick_list/preview", as_="warehouse", json=body)
    assert preview.status_code == 200 and preview.json["result"]["units"] == 3
    created = api.open("POST", "/api/v1/pick_list/", as_="warehouse", json=body)
    assert created.status_code == 201, created.json
    pk = created.json["id"]
    assert [l["bin"] for l in created.json["result"]["lines"]] == ["A2-10", "A2-9"]
    wrong = api.open("POST", f"/api/v1/pick_list/{pk}/scan", as_="warehouse", json={"bin": "A2-9", "item": "MUG"})
    assert wrong.status_code == 422 and "item" in wrong.json["errors"]
    for bin_code, item, quantity in (("A2-10", "MUG", 2), ("A2-9", "4006381333948", 1)):
        ok = api.open("POST", f"/api/v1/pick_list/{pk}/scan", as_="warehouse",
                      json={"bin": bin_code, "item": item, "quantity": quantity})
        assert ok.status_code == 200, ok.json
    assert ok.json["result"]["status"] == "done"
    pdf = api.open("GET", f"/api/v1/pick_list/{pk}/pdf", as_="viewer")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    station = api.open("GET", f"/api/v1/pack/PL{pk:06d}-1", as_="warehouse")
    assert station.status_code == 200 and station.json["result"]["order_id"] == order.id
    items = {str(l["order_line_id"]): l["picked"] for l in station.json["result"]["lines"]}
    missing_pkg = api.open("POST", f"/api/v1/pack/order/{order.id}", as_="warehouse", json={"items": items, "packages": []})
    assert missing_pkg.status_code == 422 and "packages" in missing_pkg.json["errors"]
    shipped = api.open("POST", f"/api/v1/pack/order/{order.id}", as_="warehouse",
                       json={"items": items, "packages": PACKAGE})
    assert shipped.status_code == 201, shipped.json
    assert shipped.json["result"]["carrier"] == "manual"
    slip = api.open("GET", f"/api/v1/pack/order/{order.id}/slip", as_="warehouse")
    assert slip.status_code == 200 and slip.data.startswith(b"%PDF")


def test_floor_pages_and_the_warehouse_landing(app, client_for, floor, actor):
    from app.services.fulfilment import picking

    floor.order([("CAP", 1)])
    pick_list = picking.create(floor.session, floor.warehouse.id, {}, actor("warehouse"))
    floor.session.commit()
    warehouse = client_for("warehouse")
    landing = warehouse.get("/")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/fulfillment/")
    home = warehouse.get("/fulfillment/")
    assert home.status_code == 200 and pick_list.code in home.get_data(as_text=True)
    page = warehouse.get(f"/fulfillment/pick/{pick_list.id}").get_data(as_text=True)
    assert "B1-1" in page and "oms-scan" in page
    assert warehouse.get("/fulfillment/pack").status_code == 200
    assert client_for("admin").get("/").headers["Location"].endswith("/dashboard/")
