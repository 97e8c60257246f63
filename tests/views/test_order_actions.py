"""Order page actions: each calls its service, writes its event, and refuses bad input with
nothing stored."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Order, OrderEvent, OrderHold, Return, Shipment, StockMovement
from tests.views.conftest import post


def events_of(order_id, type_=None):
    db.session.expire_all()
    query = select(OrderEvent).where(OrderEvent.order_id == order_id)
    if type_:
        query = query.where(OrderEvent.type == type_)
    return db.session.scalars(query).all()


def reload(order_id) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def follow(client, response):
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_hold_and_release(client_for, shop):
    client, oid = client_for("support"), shop.order.id
    page = follow(client, post(client, f"/orders/{oid}/hold",
                               {"reason": "address", "note": "street missing"}))
    assert "Order held" in page
    hold = db.session.scalar(select(OrderHold).where(OrderHold.order_id == oid))
    assert hold.reason == "address" and hold.note == "street missing"
    assert hold.placed_by == "user:support"
    assert events_of(oid, "hold_placed")

    page = follow(client, post(client, f"/orders/{oid}/release",
                               {"hold_id": hold.id, "note": "customer confirmed"}))
    assert "Released" in page
    assert reload(oid).open_holds == []
    released = events_of(oid, "hold_released")
    assert released and released[0].actor == "user:support"


def test_hold_with_unknown_reason_is_refused(client_for, shop):
    client, oid = client_for("support"), shop.order.id
    page = follow(client, post(client, f"/orders/{oid}/hold", {"reason": "bogus"}))
    assert "must be one of" in page
    assert not db.session.scalars(select(OrderHold).where(OrderHold.order_id == oid)).all()
    assert not events_of(oid, "hold_placed")


def test_release_needs_a_reason(client_for, shop, session, actor):
    from app.services.orders import actions as orders

    orders.place_hold(session, shop.order.id, "manual", None, actor())
    client = client_for("operations")
    page = follow(client, post(client, f"/orders/{shop.order.id}/release", {"note": " "}))
    assert "say why the hold is released" in page
    assert len(reload(shop.order.id).open_holds) == 1


def test_note(client_for, shop):
    client, oid = client_for("operations"), shop.order.id
    page = follow(client, post(client, f"/orders/{oid}/note", {"text": "Called the customer"}))
    assert "Note added" in page and "Called the customer" in page
    assert events_of(oid, "note")[0].actor == "user:operations"
    page = follow(client, post(client, f"/orders/{oid}/note", {"text": ""}))
    assert "Enter a" in page
    assert len(events_of(oid, "note")) == 1


def test_cancel_releases_stock(client_for, shop):
    client, oid = client_for("support"), shop.order.id
    page = follow(client, post(client, f"/orders/{oid}/cancel", {"reason": ""}))
    assert "Enter a reason" in page
    assert reload(oid).status == "allocated"

    page = follow(client, post(client, f"/orders/{oid}/cancel", {"reason": "customer asked"}))
    assert "Order cancelled" in page
    order = reload(oid)
    assert order.status == "cancelled" and order.cancel_reason == "customer asked"
    assert events_of(oid, "cancelled")
    assert "not synced to channel" in page
    releases = db.session.scalars(select(StockMovement).where(
        StockMovement.order_id == oid, StockMovement.reason == "release")).all()
    assert releases


def test_edit_address(client_for, shop):
    client, oid = client_for("support"), shop.order.id
    form = client.get(f"/orders/{oid}/address").get_data(as_text=True)
    version = reload(oid).version
    assert f'name="version" value="{version}"' in form and "1 Main St" in form
    address = {"name": "Ada Lovelace", "line1": "2 Side St", "city": "Springfield",
               "postcode": "12345", "country": "US", "version": version, "kind": "shipping"}
    page = follow(client, post(client, f"/orders/{oid}/address", address))
    assert "Shipping address changed" in page and "2 Side St" in page
    assert "not synced to channel" in page
    order = reload(oid)
    assert order.shipping_address["line1"] == "2 Side St"
    assert "shipping_address" in order.local_edits
    assert events_of(oid, "address_changed")


def test_edit_address_with_stale_version_is_a_conflict(client_for, shop, session, actor):
    from app.services.orders import actions as orders

    client, oid = client_for("support"), shop.order.id
    stale = reload(oid).version
    other = {"line1": "5 Elm St", "city": "Springfield", "country": "US"}
    orders.edit_address(session, oid, "shipping", other, stale, actor())  # someone else
    address = {"line1": "9 Other Rd", "city": "Springfield", "country": "US", "version": stale}
    response = post(client, f"/orders/{oid}/address", address)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone else changed" in html
    assert "9 Other Rd" in html  # the user's input is kept on the form
    assert reload(oid).shipping_address["line1"] == "5 Elm St"
    assert len(events_of(oid, "address_changed")) == 1


def test_edit_address_invalid(client_for, shop):
    client, oid = client_for("support"), shop.order.id
    response = post(client, f"/orders/{oid}/address",
                    {"line1": "", "city": "X", "country": "USA", "version": reload(oid).version})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a street" in html and "too long" in html
    assert "has-error" in html
    assert reload(oid).shipping_address["line1"] == "1 Main St"


def test_actions_refused_without_permission(client_for, shop):
    oid = shop.order.id
    viewer, warehouse, operations = client_for("viewer"), client_for("warehouse"), client_for("operations")
    assert post(viewer, f"/orders/{oid}/hold", {"reason": "manual"}).status_code == 403
    assert post(warehouse, f"/orders/{oid}/note", {"text": "x"}).status_code == 403
    assert post(operations, f"/orders/{oid}/cancel", {"reason": "x"}).status_code == 403
    assert post(operations, f"/orders/{oid}/address", {"version": 1}).status_code == 403
    assert post(client_for("support"), f"/shipments/order/{oid}/start-picking").status_code == 403
    assert post(warehouse, f"/returns/order/{oid}/create", {}).status_code == 403
    assert reload(oid).status == "allocated" and not events_of(oid, "note")


def test_post_without_csrf_token_is_refused(client_for, shop):
    client, oid = client_for("support"), shop.order.id
    response = client.post(f"/orders/{oid}/hold", data={"reason": "manual"})
    assert response.status_code == 400
    response = client.post(f"/orders/{oid}/cancel", data={"reason": "x"})
    assert response.status_code == 400
    assert reload(oid).status == "allocated" and not reload(oid).open_holds


def test_pick_pack_ship_and_return(client_for, shop):
    oid = shop.order.id
    warehouse, support = client_for("warehouse"), client_for("support")
    assert "Picking started" in follow(warehouse, post(warehouse, f"/shipments/order/{oid}/start-picking"))
    assert reload(oid).status == "picking"
    assert "Marked as packed" in follow(warehouse, post(warehouse, f"/shipments/order/{oid}/packed"))
    page = follow(warehouse, post(warehouse, f"/shipments/order/{oid}/ship",
                                  {"carrier": "UPS", "tracking_number": "1Z999"}))
    assert "Shipped" in page and "1Z999" in page
    assert reload(oid).status == "shipped"
    shipment = db.session.scalar(select(Shipment).where(Shipment.order_id == oid))
    assert shipment.tracking_number == "1Z999"
    assert db.session.scalar(select(func.count()).select_from(StockMovement).where(
        StockMovement.order_id == oid, StockMovement.reason == "shipment")) == 1
    assert warehouse.get(f"/shipments/show/{shipment.id}").status_code == 200

    line = reload(oid).lines[0]
    page = follow(support, post(support, f"/returns/order/{oid}/create",
                                {f"qty_{line.id}": "5", f"reason_{line.id}": "too_large"}))
    assert "shipped unit(s) can be returned" in page
    assert not db.session.scalars(select(Return)).all()
    page = follow(support, post(support, f"/returns/order/{oid}/create", {"reason": "too big"}))
    assert "choose at least one line" in page
    page = follow(support, post(support, f"/returns/order/{oid}/create",
                                {f"qty_{line.id}": "1", f"reason_{line.id}": "too_large"}))
    assert "Return RMA-" in page
    ret = db.session.scalar(select(Return))
    assert events_of(oid, "return_created")
    assert support.get(f"/returns/show/{ret.id}").status_code == 200
    assert post(support, f"/returns/{ret.id}/receive").status_code == 403

    page = follow(warehouse, post(warehouse, f"/returns/{ret.id}/receive",
                                  {"next": f"/orders/show/{oid}"}))
    assert "received" in page
    assert events_of(oid, "return_received")
    db.session.expire_all()
    assert db.session.get(Return, ret.id).status == "received"
    assert reload(oid).lines[0].quantity_returned == 1
    # the receiving station: grade and dispose; then Support refunds the policy's amount
    assert "RMA-" in warehouse.get(f"/returns/receiving/?code={ret.rma_number}", follow_redirects=True).get_data(as_text=True)
    rl = db.session.get(Return, ret.id).lines[0]
    assert post(support, f"/returns/receiving/{ret.id}/inspect").status_code == 403
    follow(warehouse, post(warehouse, f"/returns/receiving/{ret.id}/inspect",
                           {f"grade_{rl.id}": "B", f"disposition_{rl.id}": "refurbish", f"note_{rl.id}": "scuffed"}))
    db.session.expire_all()
    assert db.session.get(Return, ret.id).status == "inspected"
    page = support.get(f"/returns/show/{ret.id}").get_data(as_text=True)
    assert 'id="refund-button"' in page and "scuffed" in page
    assert post(warehouse, f"/returns/{ret.id}/refund").status_code == 403
    page = follow(support, post(support, f"/returns/{ret.id}/refund"))
    db.session.expire_all()
    assert db.session.get(Return, ret.id).status == "closed"
    assert db.session.get(Return, ret.id).refunds[0].status == "succeeded"


def test_fulfillment_refused_while_held(client_for, shop, session, actor):
    from app.services.orders import actions as orders

    orders.place_hold(session, shop.order.id, "review", None, actor())
    client = client_for("warehouse")
    page = follow(client, post(client, f"/shipments/order/{shop.order.id}/start-picking"))
    assert "on hold" in page
    assert reload(shop.order.id).status == "allocated"
