"""/api/v1/stock_level/ (+ adjust, receive) and /api/v1/stock_movement/."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import AuditLog, StockLevel, StockMovement

from .conftest import assert_error

ROLES = ("admin", "support", "warehouse", "operations", "viewer")


def level_of(session, warehouse, product):
    session.expire_all()
    return session.scalar(select(StockLevel).where(StockLevel.warehouse_id == warehouse.id,
                                                   StockLevel.product_id == product.id))


def movements(session, **where):
    session.expire_all()
    query = select(StockMovement)
    for key, value in where.items():
        query = query.where(getattr(StockMovement, key) == value)
    return session.scalars(query.order_by(StockMovement.id)).all()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_stock_and_the_ledger(api, world, role):
    levels = api.get("/api/v1/stock_level/", as_=role)
    assert levels.status_code == 200
    rows = {(r["warehouse"]["code"], r["product"]["sku"]): r for r in levels.get_json()["result"]}
    assert rows[("WH1", "SKU-1")]["on_hand"] == 10
    assert rows[("WH1", "SKU-1")]["reserved"] == 2
    assert rows[("WH1", "SKU-1")]["available"] == 8
    ledger = api.get("/api/v1/stock_movement/", as_=role)
    assert ledger.status_code == 200 and ledger.get_json()["count"] >= 4


def test_stock_lists_have_no_n_plus_1(api, world, count_queries, make):
    for i in range(10):
        make.product(f"X-{i}", stock={world.wh1: 1, world.wh2: 2})
    api.get("/api/v1/stock_level/")
    with count_queries() as levels:
        body = api.get("/api/v1/stock_level/?q=(page_size:100)").get_json()
    assert body["count"] == len(body["result"]) == 23
    assert len(levels.domain()) <= 3, levels.domain()
    with count_queries() as ledger:
        body = api.get("/api/v1/stock_movement/?q=(page_size:100)").get_json()
    assert len(body["result"]) > 20
    assert len(ledger.domain()) <= 3, ledger.domain()


def test_ledger_filters_by_level_and_reason(api, world, session):
    level = level_of(session, world.wh1, world.p1)
    body = api.get(f"/api/v1/stock_movement/?q=(filters:!((col:stock_level,opr:rel_o_m,"
                   f"value:{level.id}),(col:reason,opr:eq,value:receipt)))").get_json()
    assert [r["on_hand_delta"] for r in body["result"]] == [10]
    assert_error(api.get("/api/v1/stock_movement/?q=(filters:!((col:note,opr:ct,value:x)))"),
                 400, "q")


# --- adjust --------------------------------------------------------------------------------

@pytest.mark.parametrize("role,allowed", [("admin", True), ("warehouse", True),
                                          ("support", False), ("operations", False),
                                          ("viewer", False)])
def test_adjust_permissions(api, world, session, role, allowed):
    level = level_of(session, world.wh1, world.p1)
    response = api.post(f"/api/v1/stock_level/{level.id}/adjust",
                        {"delta": -1, "reason": "damaged"}, as_=role)
    if allowed:
        assert response.status_code == 200, response.get_json()
    else:
        assert_error(response, 403)
        assert level_of(session, world.wh1, world.p1).on_hand == 10


def test_adjust_changes_on_hand_and_writes_a_movement(api, world, session):
    level = level_of(session, world.wh1, world.p1)
    response = api.post(f"/api/v1/stock_level/{level.id}/adjust",
                        {"delta": -3, "reason": "water damage"}, as_="warehouse")
    body = response.get_json()
    assert body["result"]["on_hand"] == 7 and body["result"]["available"] == 5
    assert body["movement"]["on_hand_delta"] == -3
    assert body["movement"]["reason"] == "adjustment"
    [movement] = movements(session, stock_level_id=level.id, reason="adjustment")
    assert (movement.note, movement.actor) == ("water damage", "user:warehouse")


def test_adjust_bad_input_is_422_naming_the_field_and_stores_nothing(api, world, session):
    level = level_of(session, world.wh1, world.p1)
    url = f"/api/v1/stock_level/{level.id}/adjust"
    before = len(movements(session))
    assert_error(api.post(url, {"delta": -9, "reason": "lost"}), 422, "delta")  # 2 reserved
    assert_error(api.post(url, {"delta": 0, "reason": "x"}), 422, "delta")
    assert_error(api.post(url, {"delta": 1.5, "reason": "x"}), 422, "delta")
    assert_error(api.post(url, {"delta": "many", "reason": "x"}), 422, "delta")
    assert_error(api.post(url, {"reason": "x"}), 422, "delta")
    assert_error(api.post(url, {"delta": 1}), 422, "reason")
    assert_error(api.post(url, {"delta": 1, "reason": "x" * 501}), 422, "reason")
    assert_error(api.post(url, {"delta": 1, "reason": "x", "warehouse": 3}), 422, "warehouse")
    assert len(movements(session)) == before
    assert level_of(session, world.wh1, world.p1).on_hand == 10


def test_adjust_unknown_level_is_404(api, world):
    assert_error(api.post("/api/v1/stock_level/999999/adjust", {"delta": 1, "reason": "x"}), 404)


# --- receive -------------------------------------------------------------------------------

def test_receive_by_code_and_sku_creates_the_level(api, world, session, make):
    new = make.product("NEW-1")
    response = api.post("/api/v1/stock_level/receive",
                        {"warehouse": "wh2", "sku": " new-1 ", "quantity": 12,
                         "reference": "PO-7"}, as_="warehouse")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["result"]["warehouse_code"] == "WH2" and body["result"]["on_hand"] == 12
    assert body["movement"]["reason"] == "receipt" and body["movement"]["reference"] == "PO-7"
    assert level_of(session, world.wh2, new).on_hand == 12


def test_receive_by_ids_and_forbidden_roles(api, world, session):
    body = {"warehouse_id": world.wh2.id, "product_id": world.p1.id, "quantity": 4}
    assert_error(api.post("/api/v1/stock_level/receive", body, as_="support"), 403)
    assert_error(api.post("/api/v1/stock_level/receive", body, as_="viewer"), 403)
    assert api.post("/api/v1/stock_level/receive", body, as_="admin").status_code == 201
    assert level_of(session, world.wh2, world.p1).on_hand == 4


def test_receive_bad_input_is_422_naming_the_field(api, world, session):
    url = "/api/v1/stock_level/receive"
    before = len(movements(session))
    # a warehouse or product that does not exist: 404, naming the field (UnknownRecord)
    assert_error(api.post(url, {"warehouse": "NOPE", "sku": "SKU-1", "quantity": 1}), 404,
                 "warehouse")
    assert_error(api.post(url, {"warehouse": "WH1", "sku": "NOPE", "quantity": 1}), 404, "sku")
    assert_error(api.post(url, {"warehouse_id": 99999, "product_id": world.p1.id,
                                "quantity": 1}), 404, "warehouse_id")
    assert_error(api.post(url, {"warehouse_id": world.wh1.id, "product_id": 99999,
                                "quantity": 1}), 404, "product_id")
    assert_error(api.post(url, {"warehouse": "WH1", "sku": "SKU-1", "quantity": -5}), 422,
                 "quantity")
    assert_error(api.post(url, {"warehouse": "WH1", "sku": "SKU-1"}), 422, "quantity")
    body = assert_error(api.post(url, {"quantity": 1}), 422)
    assert {"warehouse_id", "product_id"} <= set(body["errors"])
    assert len(movements(session)) == before
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(StockLevel)) == 3


def test_set_bin(api, world, session):
    level = level_of(session, world.wh1, world.p1)
    url = f"/api/v1/stock_level/{level.id}/bin"
    assert_error(api.post(url, {"bin": "A-01"}, as_="support"), 403)
    assert_error(api.post(url, {"bin": "x" * 33}, as_="warehouse"), 422, "bin")
    assert_error(api.post(url, {}, as_="warehouse"), 422, "bin")
    response = api.post(url, {"bin": " A-01 "}, as_="warehouse")
    assert response.status_code == 200 and response.get_json()["result"]["bin"] == "A-01"
    assert_error(api.post("/api/v1/stock_level/999999/bin", {"bin": "B"}), 404)
    session.rollback()
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "stock_level")).all()
    assert [a.changes["bin"]["new"] for a in audit] == ["A-01"]
