"""Several stock changes at once (``stock.move_many``, what a ship confirm uses): each is a ledger
row with who made it, the levels change by their summed deltas, and a level without the units
refuses the whole set, named in the error."""
import pytest
from sqlalchemy import select

from app.models import StockMovement
from app.services.core.errors import InsufficientStock
from app.services.inventory import stock as inventory


def _levels(session, make):
    warehouse = make.warehouse("W1")
    mug, tee = make.product("MUG", stock={warehouse: 5}), make.product("TEE", stock={warehouse: 1})
    return (inventory.get_level(session, warehouse.id, mug.id), inventory.get_level(session, warehouse.id, tee.id))


def _move(level, on_hand_delta, note):
    return inventory.Move(level.id, level.warehouse_id, level.product_id, on_hand_delta, 0, "adjustment", note=note)


def test_moves_are_ledger_rows_with_the_actor_and_levels_change_by_their_sum(session, make, actor):
    mug, tee = _levels(session, make)
    before = session.scalar(select(StockMovement.id).order_by(StockMovement.id.desc()).limit(1))
    who = actor("warehouse")
    inventory.move_many(session, [_move(mug, -2, "a"), _move(tee, 3, "b"), _move(mug, -1, "c")], who)
    session.commit()
    session.expire_all()
    assert (mug.on_hand, tee.on_hand) == (2, 4)
    rows = session.scalars(select(StockMovement).where(StockMovement.id > before).order_by(StockMovement.id)).all()
    assert [(r.stock_level_id, r.on_hand_delta, r.note, r.actor, r.user_id) for r in rows] == [
        (mug.id, -2, "a", who.label, who.user_id), (tee.id, 3, "b", who.label, who.user_id),
        (mug.id, -1, "c", who.label, who.user_id)]


def test_a_level_without_the_units_refuses_them_all_and_is_named(session, make, actor):
    mug, tee = _levels(session, make)
    count = len(session.scalars(select(StockMovement.id)).all())
    with pytest.raises(InsufficientStock, match=f"product {tee.product_id} .*on hand 1"):
        inventory.move_many(session, [_move(mug, -2, "a"), _move(tee, -2, "b")], actor("warehouse"))
    session.rollback()
    session.expire_all()
    assert (mug.on_hand, tee.on_hand) == (5, 1)
    assert len(session.scalars(select(StockMovement.id)).all()) == count
