"""batch_writes.update_rows: many rows in one statement (PostgreSQL: UPDATE ... FROM
unnest of array literals), with the version check the unit of work does."""
import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.models import Order
from app.services.core.batch_writes import update_rows


@pytest.fixture
def two_orders(session, make):
    wh = make.warehouse("W1", "US")
    make.product("A-1", stock={wh: 10})
    channel = make.channel("web")
    orders = [make.order(channel, [("A-1", 1, 5)], external_id=f"BW-{n}") for n in range(2)]
    session.commit()
    return [(o.id, o.version) for o in orders]


def _read(session, order_id):
    session.expire_all()
    return session.execute(select(Order.customer_name, Order.version, Order.updated_at)
                           .where(Order.id == order_id)).one()


def test_update_rows_writes_each_row_its_values_and_bumps_the_version(session, two_orders):
    (first, v1), (second, v2) = two_orders
    before = _read(session, first).updated_at
    tricky = 'O"Brien \\ {x,y} NULL'  # what an array literal must quote
    update_rows(session, Order.__table__, [
        {"id": first, "version": v1, "customer_name": tricky},
        {"id": second, "version": v2, "customer_name": None}])
    session.commit()
    name, version, updated_at = _read(session, first)
    assert (name, version) == (tricky, v1 + 1)
    assert updated_at > before  # onupdate columns are stamped
    assert _read(session, second)[:2] == (None, v2 + 1)


def test_update_rows_refuses_a_row_changed_since_it_was_read(session, two_orders):
    (first, v1), (second, v2) = two_orders
    with pytest.raises(StaleDataError, match="1 row"):
        update_rows(session, Order.__table__, [
            {"id": first, "version": v1, "customer_name": "Fresh"},
            {"id": second, "version": v2 - 1, "customer_name": "Stale"}])
    session.rollback()  # the caller's transaction: nothing of the batch stays
    assert _read(session, first)[:2] != ("Fresh", v1 + 1)
    assert _read(session, first)[1] == v1 and _read(session, second)[1] == v2
