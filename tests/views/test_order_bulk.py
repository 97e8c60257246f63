"""Bulk actions on the order list (hold, release, re-allocate, cancel; each for its roles,
each order its own transaction, a summary of what did not work and why) and the line
forms of the order page (cancel units, edit lines)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Order, OrderHold, OrderLine
from app.services.fulfilment import shipments as fulfillment
from app.services.orders import actions as orders
from tests.views.conftest import post


def reload(order_id) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def follow(client, response):
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.fixture
def three(make, shop, actor):
    """shop.order (allocated), a second allocated order, and a shipped one."""
    second = make.order(shop.channel, [("SKU-2", 1, "5")])
    shipped = make.order(shop.channel, [("SKU-1", 1, "5")])
    admin = actor()
    fulfillment.start_picking(db.session, shipped.id, admin)
    fulfillment.mark_packed(db.session, shipped.id, admin)
    fulfillment.ship(db.session, shipped.id, admin, carrier="UPS", tracking_number="1Z9")
    return [shop.order.id, second.id, shipped.id]


def action(client, name, ids):
    return post(client, "/orders/action_post", {"action": name, "rowid": [str(i) for i in ids]})


def test_list_offers_only_the_actions_of_the_role(client_for, shop):
    expected = {"admin": {"hold", "release", "cancel", "reallocate"},
                "support": {"hold", "release", "cancel"},
                "operations": {"hold", "release", "reallocate"},
                "warehouse": set(), "viewer": set()}
    for role, names in expected.items():
        page = client_for(role).get("/orders/list/").get_data(as_text=True)
        offered = {name for name in ("hold", "release", "cancel", "reallocate")
                   if f"{name}_menu_item" in page}
        assert offered == names, role


def test_bulk_cancel_asks_a_reason_then_reports_each_order(client_for, three):
    client = client_for("support")
    page = action(client, "cancel", three)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Reason for cancelling" in html and html.count('name="ids"') == 3
    summary = follow(client, post(client, "/orders/bulk/cancel",
                                  {"ids": [str(i) for i in three], "reason": "fraud ring"}))
    assert "Cancelled 2 of 3 order(s)" in summary
    assert "cannot be cancelled; start a return instead" in summary
    assert [reload(i).status for i in three] == ["cancelled", "cancelled", "shipped"]
    assert reload(three[0]).cancel_reason == "fraud ring"


def test_bulk_cancel_without_reason_stores_nothing(client_for, three):
    client = client_for("support")
    page = follow(client, post(client, "/orders/bulk/cancel", {"ids": [str(three[0])]}))
    assert "Enter a reason" in page
    assert reload(three[0]).status == "allocated"


def test_bulk_hold_then_release(client_for, three):
    client = client_for("operations")
    html = action(client, "hold", three).get_data(as_text=True)
    assert "Hold reason" in html
    summary = follow(client, post(client, "/orders/bulk/hold", {
        "ids": [str(i) for i in three], "hold_reason": "review", "reason": "check batch"}))
    assert "Held 2 of 3 order(s)" in summary and "can no longer be held" in summary
    holds = db.session.scalars(select(OrderHold).where(OrderHold.released_at.is_(None))).all()
    assert sorted(h.order_id for h in holds) == sorted(three[:2])
    assert {h.reason for h in holds} == {"review"} and holds[0].note == "check batch"
    summary = follow(client, action(client, "release", three))
    assert "Released 2 of 3 order(s)" in summary and "no open hold" in summary
    assert not reload(three[0]).is_held


def test_bulk_reallocate(client_for, three):
    client = client_for("operations")
    summary = follow(client, action(client, "reallocate", three))
    assert "Re-allocated 2 of 3 order(s)" in summary and "only orders not yet picking" in summary
    assert reload(three[0]).status == "allocated"


@pytest.mark.parametrize("role, name", [("support", "reallocate"), ("operations", "cancel"),
                                        ("warehouse", "hold"), ("viewer", "release")])
def test_bulk_actions_refused_outside_the_matrix(client_for, three, role, name):
    client = client_for(role)
    response = action(client, name, three[:1])
    assert response.status_code == 302  # FAB refuses with a flash and a redirect
    page = client.get("/orders/list/").get_data(as_text=True)
    assert "Access is Denied" in page
    order = reload(three[0])
    assert order.status == "allocated" and not order.is_held


@pytest.mark.parametrize("role, url", [("operations", "/orders/bulk/cancel"),
                                       ("warehouse", "/orders/bulk/hold"),
                                       ("viewer", "/orders/bulk/cancel")])
def test_bulk_endpoints_refused_outside_the_matrix(client_for, three, role, url):
    client = client_for(role)
    response = post(client, url, {"ids": [str(three[0])], "reason": "x"})
    assert response.status_code == 403
    assert reload(three[0]).status == "allocated"


# --- the order page's line forms ---------------------------------------------------------

def test_line_forms_only_for_amend_roles_before_picking(client_for, shop, actor):
    oid = shop.order.id
    assert "Edit lines" in client_for("support").get(f"/orders/show/{oid}").get_data(as_text=True)
    for role in ("operations", "warehouse", "viewer"):
        page = client_for(role).get(f"/orders/show/{oid}").get_data(as_text=True)
        assert "Edit lines" not in page and "Cancel lines" not in page, role
    fulfillment.start_picking(db.session, oid, actor())
    page = client_for("support").get(f"/orders/show/{oid}").get_data(as_text=True)
    assert "Edit lines" not in page and "Cancel lines" in page


def test_cancel_units_from_the_order_page(client_for, shop):
    client, order = client_for("support"), reload(shop.order.id)
    line = order.lines[0]
    page = follow(client, post(client, f"/orders/{order.id}/cancel_lines", {
        f"cancel_{line.id}": "1", "reason": "customer asked", "version": order.version}))
    assert "Lines cancelled" in page
    line = db.session.get(OrderLine, line.id)
    assert (line.quantity_cancelled, line.quantity_allocated) == (1, 1)


def test_edit_lines_from_the_order_page(client_for, shop):
    client, order = client_for("support"), reload(shop.order.id)
    line = order.lines[0]
    page = follow(client, post(client, f"/orders/{order.id}/lines", {
        f"qty_{line.id}": "3", "add_sku": "sku-2", "add_quantity": "2", "add_price": "4.50",
        "version": order.version}))
    assert "Lines changed" in page
    order = reload(order.id)
    assert {l.sku: l.quantity_allocated for l in order.lines} == {"sku-1": 3, "SKU-2": 2}


def test_stale_line_edit_is_flashed_and_stores_nothing(client_for, shop, actor):
    client, order = client_for("support"), reload(shop.order.id)
    stale = order.version
    orders.add_note(db.session, order.id, "x", actor())
    orders.place_hold(db.session, order.id, "manual", None, actor())
    orders.release_hold(db.session, order.id, actor(), note="ok")
    page = follow(client, post(client, f"/orders/{order.id}/lines", {
        f"qty_{order.lines[0].id}": "5", "version": stale}))
    assert "Someone else changed" in page
    assert reload(order.id).lines[0].quantity == 2


def test_bad_line_edit_names_the_field(client_for, shop):
    client, order = client_for("support"), reload(shop.order.id)
    page = follow(client, post(client, f"/orders/{order.id}/lines", {
        "add_sku": "NOPE", "add_quantity": "1", "version": order.version}))
    assert "unknown SKU" in page
    assert len(reload(order.id).lines) == 1
