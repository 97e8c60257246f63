"""The return policy: reason codes, what may come back, the return's life, receiving by scan,
inspection and disposition, and the refund the policy calculates (the worked example of
DESIGN.md's closing note)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import Order, OrderEvent, Refund, ReturnReason, StockLevel, StockMovement
from app.services.core.errors import InvalidTransition, ValidationFailed
from app.services.returns import actions as returns, approvals, policy


def on_hand(session, product, warehouse) -> int:
    session.expire_all()
    return session.scalar(select(StockLevel.on_hand).where(StockLevel.product_id == product.id,
                                                           StockLevel.warehouse_id == warehouse.id))


def test_refund_breakdown_worked_example(session, shipped, policy_set, actor):
    """1 of 2 SKU-A (30.00 each) back as "too small", with a 10% restocking fee: items 30.00,
    less 3.00 of the order's 10.00 discount (SKU-A is 60 of the 100 of goods, half of it
    back), plus 3.00 tax, no shipping (not our fault), less a fee of 10% of 27.00 = 2.70:
    27.30. SKU-B back as "damaged": 40.00 - 4.00 + 4.00 + 8.00 shipping, no fee = 48.00."""
    policy_set(return_restocking_fee_percent="10")
    small = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_small", actor("support"))
    calc = policy.breakdown(session, small)
    assert (calc.items, calc.discount, calc.tax, calc.shipping, calc.restocking_fee, calc.total) == (
        Decimal("30.00"), Decimal("3.00"), Decimal("3.00"), Decimal("0"), Decimal("2.70"), Decimal("27.30"))
    damaged = returns.create_return(session, shipped.order_id, {shipped.b.id: {"quantity": 1, "reason": "damaged"}},
                                    None, actor("support"))
    calc = policy.breakdown(session, damaged)
    assert (calc.items, calc.discount, calc.tax, calc.shipping, calc.restocking_fee, calc.total) == (
        Decimal("40.00"), Decimal("4.00"), Decimal("4.00"), Decimal("8.00"), Decimal("0"), Decimal("48.00"))


def test_what_the_customer_may_return_and_why_not(session, shipped, policy_set, actor):
    offers = {o.line.sku: o for o in policy.offers(session, shipped.order)}
    assert (offers["SKU-A"].left, offers["SKU-B"].left) == (2, 1)
    returns.create_return(session, shipped.order_id, {shipped.a.id: 2}, "changed_mind", actor("support"),
                          source="customer")
    policy_set(return_nonreturnable_skus="sku-b")
    offers = {o.line.sku: o for o in policy.offers(session, shipped.order)}
    assert offers["SKU-A"].left == 0 and offers["SKU-A"].why_not == "already returned"
    assert offers["SKU-B"].why_not == "this item cannot be returned"
    with pytest.raises(ValidationFailed) as err:
        returns.create_return(session, shipped.order_id, {shipped.b.id: 1}, "changed_mind", actor("support"),
                              source="customer")
    assert f"lines.{shipped.b.id}" in err.value.errors
    policy_set(return_window_by_channel="shop=0")
    assert {o.why_not for o in policy.offers(session, shipped.order)} == {"the 0-day return window has passed"}
    # Support may still make an exception (up to what was shipped and is not back or on its way)
    assert returns.create_return(session, shipped.order_id, {shipped.b.id: 1}, "damaged", actor("support")).id


def test_reason_codes_are_checked_and_kept_by_admins(session, shipped, actor):
    with pytest.raises(ValidationFailed) as err:
        returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too big", actor("support"))
    assert f"lines.{shipped.a.id}.reason" in err.value.errors
    with pytest.raises(ValidationFailed) as err:  # "other" needs a note
        returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "other", actor("support"))
    assert f"lines.{shipped.a.id}.note" in err.value.errors
    row = policy.save_reason(session, {"code": "gift", "label": "Unwanted gift", "our_fault": "0"}, actor("admin"))
    session.commit()
    assert "gift" in [r.code for r in policy.reasons(session)]
    with pytest.raises(ValidationFailed):
        policy.save_reason(session, {"code": "Bad Code", "label": "x"}, actor("admin"))
    policy.save_reason(session, {"active": "0"}, actor("admin"), reason_id=row.id)
    assert "gift" not in [r.code for r in policy.reasons(session)]
    assert session.scalar(select(ReturnReason.active).where(ReturnReason.code == "gift")) is False


def test_life_reject_and_auto_authorize(session, shipped, policy_set, actor):
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_large", actor("support"))
    assert ret.status == "requested"
    returns.reject(session, ret.id, "Worn: we cannot take it back", actor("support"))
    assert (ret.status, ret.rejection_reason) == ("rejected", "Worn: we cannot take it back")
    with pytest.raises(InvalidTransition):
        returns.authorize(session, ret.id, actor("support"))
    with pytest.raises(InvalidTransition):
        returns.receive_return(session, ret.id, actor("warehouse"))
    policy_set(return_auto_authorize_below="50")
    cheap = returns.create_return(session, shipped.order_id, {shipped.a.id: 1}, "too_large", actor("support"))
    assert cheap.status == "authorized" and cheap.authorized_at is not None
    assert returns.label_due(session, cheap.id) is False  # not our fault: the customer pays (policy default)
    policy_set(return_label_paid_by="us")
    assert returns.label_due(session, cheap.id) is True
    returns.in_transit(session, cheap.id, actor("support"))
    types = session.scalars(select(OrderEvent.type).where(OrderEvent.order_id == shipped.order_id)).all()
    assert {"return_rejected", "return_authorized", "return_in_transit"} <= set(types)


def test_scan_in_inspect_and_dispose(session, shipped, make, actor):
    """Scanning counts units (an item not on the return is refused and kept as an extra);
    only a restocked line adds stock (a `return` movement), and a waiting order gets it."""
    waiting = make.order(shipped.channel, [("SKU-A", 1, "30.00")], email="other@example.com")
    assert waiting.status == "backordered"
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 2, shipped.b.id: 1}, "changed_mind",
                                actor("support"))
    returns.authorize(session, ret.id, actor("support"))
    assert returns.find(session, ret.rma_number.lower()).id == ret.id
    assert returns.find(session, shipped.order.order_number).id == ret.id
    ok, text = returns.scan_item(session, ret.id, "SKU-ZZZ", actor("warehouse"))
    assert not ok and "not on this return" in text and ret.status == "authorized"
    assert returns.scan_item(session, ret.id, "sku-a", actor("warehouse"))[0]
    assert ret.status == "received"
    assert returns.scan_item(session, ret.id, "SKU-B", actor("warehouse"))[0]
    ok, text = returns.scan_item(session, ret.id, "SKU-B", actor("warehouse"))
    assert not ok and "more than the return says" in text
    assert [e["sku"] for e in ret.extras] == ["SKU-ZZZ", "SKU-B"]
    a_line, b_line = sorted(ret.lines, key=lambda rl: rl.order_line_id)
    with pytest.raises(ValidationFailed) as err:
        returns.inspect(session, ret.id, {a_line.id: {"grade": "Z"}}, actor("warehouse"))
    assert f"lines.{a_line.id}.grade" in err.value.errors
    before_b = on_hand(session, shipped.pb, shipped.wh)
    returns.inspect(session, ret.id, {a_line.id: {"grade": "A", "disposition": "restock",
                                                  "warehouse_id": shipped.wh.id},
                                      b_line.id: {"grade": "D", "disposition": "scrap", "note": "crushed box"}},
                    actor("warehouse"))
    assert ret.status == "inspected" and (a_line.quantity_received, b_line.quantity_received) == (1, 1)
    assert (b_line.disposition, b_line.note) == ("scrap", "crushed box")
    assert on_hand(session, shipped.pb, shipped.wh) == before_b  # scrapped: no stock
    moves = session.scalars(select(StockMovement).where(StockMovement.reason == "return")).all()
    assert [(m.on_hand_delta, m.actor) for m in moves] == [(1, "user:warehouse")]
    assert session.get(Order, waiting.id).status == "allocated"  # the restocked unit went to it


def test_refund_return_by_policy_closes_it_and_support_limit(session, shipped, policy_set, actor):
    ret = returns.create_return(session, shipped.order_id, {shipped.a.id: 2}, "too_small", actor("support"))
    returns.authorize(session, ret.id, actor("support"))
    returns.scan_item(session, ret.id, "SKU-A", actor("warehouse"))  # one of two came back
    returns.inspect(session, ret.id, {}, actor("warehouse"))
    assert policy.breakdown(session, ret).total == Decimal("30.00")  # 30 - 3 + 3, no fee set
    above = returns.refund_return(session, ret.id, actor("support"), limit=Decimal("20"))  # waits for an Admin
    assert above.status == "pending_approval" and ret.status == "inspected"
    approvals.reject(session, above.id, "adjust it", actor("admin"))  # (test_refund_approval.py: the rest)
    made = returns.refund_return(session, ret.id, actor("support"), amount="25.00", limit=Decimal("100"))
    assert (made.amount, made.status, made.return_id, ret.status) == (Decimal("25.00"), "succeeded", ret.id, "closed")
    assert made.lines == [{"line_id": shipped.a.id, "quantity": 1}]
    assert session.get(Order, shipped.order_id).financial_status == "partially_refunded"
    with pytest.raises(ValidationFailed):  # never above what was paid less refunded
        returns.refund(session, shipped.order_id, "83.01", "goodwill", actor("admin"))
    assert len(session.scalars(select(Refund).where(Refund.status != "rejected")).all()) == 1
