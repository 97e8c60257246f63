"""Stock adjustment and receiving through services/inventory; the ledger; errors store nothing."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import StockLevel, StockMovement
from tests.views.conftest import post


def level_of(shop, product):
    return db.session.scalar(select(StockLevel).where(
        StockLevel.warehouse_id == shop.warehouse.id, StockLevel.product_id == product.id))


def movements(reason):
    return db.session.scalars(select(StockMovement).where(StockMovement.reason == reason)).all()


def test_adjust_writes_a_movement(client_for, shop):
    client = client_for("warehouse")
    response = post(client, "/stock/adjust", {"warehouse_id": shop.warehouse.id, "sku": "sku-2",
                                              "quantity": "-2", "note": "2 damaged"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Adjusted -2 × SKU-2 in WH1" in page and "2 damaged" in page
    assert level_of(shop, shop.p2).on_hand == 3
    movement = movements("adjustment")[0]
    assert movement.on_hand_delta == -2 and movement.actor == "user:warehouse"


def test_receive_writes_a_movement(client_for, shop):
    client = client_for("admin")
    response = post(client, "/stock/receive", {"warehouse_id": shop.warehouse.id, "sku": "SKU-2",
                                               "quantity": "7", "note": "PO-1"})
    assert response.status_code == 302
    assert level_of(shop, shop.p2).on_hand == 12
    assert [m.reference for m in movements("receipt") if m.product_id == shop.p2.id] == [
        "initial stock", "PO-1"]


def test_bad_stock_input_is_refused_and_nothing_stored(client_for, shop):
    client = client_for("warehouse")
    before = db.session.scalar(select(StockMovement.id).order_by(StockMovement.id.desc()).limit(1))
    cases = [
        ({"sku": "NOPE", "quantity": "1", "note": "x"}, "adjust", "No product with SKU NOPE"),
        ({"sku": "SKU-2", "quantity": "abc", "note": "x"}, "adjust", "must be a whole number"),
        ({"sku": "SKU-2", "quantity": "-50", "note": "x"}, "adjust", "That would leave"),
        ({"sku": "SKU-2", "quantity": "1", "note": ""}, "adjust", "Enter a reason"),
        ({"sku": "SKU-2", "quantity": "-3", "note": ""}, "receive", "must not be negative"),
        ({"sku": "SKU-2", "quantity": "0", "note": ""}, "receive", "must not be zero"),
        ({"sku": "", "quantity": "1", "note": "x"}, "receive", "Enter a SKU"),
    ]
    for data, mode, message in cases:
        response = post(client, f"/stock/{mode}", {"warehouse_id": shop.warehouse.id, **data})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (mode, data, response.status_code)
        assert message in html, (mode, data)
        assert f'value="{data["sku"]}"' in html  # the form keeps what was typed
    response = post(client, "/stock/adjust", {"warehouse_id": "", "sku": "SKU-2", "quantity": "1",
                                              "note": "x"})
    assert "choose a warehouse" in response.get_data(as_text=True)
    after = db.session.scalar(select(StockMovement.id).order_by(StockMovement.id.desc()).limit(1))
    assert after == before
    assert level_of(shop, shop.p2).on_hand == 5


def test_stock_pages_filter_and_show_available(client_for, shop):
    client = client_for("viewer")
    html = client.get("/stock/list/?_flt_0_product=SKU-2").get_data(as_text=True)
    assert "SKU-2" in html and "Product SKU-1" not in html
    assert "Receive stock" not in html  # viewer cannot adjust
    html = client.get("/stock/list/?_flt_0_product=sku*").get_data(as_text=True)
    assert "SKU-1" in html and "SKU-2" in html
    html = client.get(f"/stock/list/?_flt_0_warehouse={shop.warehouse.id}").get_data(as_text=True)
    assert "<strong>2</strong> records" in html
    assert "Receive stock" in client_for("warehouse").get("/stock/list/").get_data(as_text=True)
    ledger = client.get("/stock-movements/list/").get_data(as_text=True)
    assert "initial stock" in ledger and "reservation" in ledger
    assert client.get("/stock-movements/add").status_code == 404  # the ledger is read-only


def test_adjust_refused_for_roles_without_adjust(client_for, shop):
    for role in ("support", "operations", "viewer"):
        response = post(client_for(role), "/stock/adjust", {
            "warehouse_id": shop.warehouse.id, "sku": "SKU-2", "quantity": "1", "note": "x"})
        assert response.status_code == 403
    assert level_of(shop, shop.p2).on_hand == 5
