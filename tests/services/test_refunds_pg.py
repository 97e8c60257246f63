"""Never more than paid less refunded, also when agents refund one order at the same time
(PostgreSQL, parallel workers): the refund locks the order row first, so the second agent
waits for the first and then sees its refund."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Refund
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.returns import actions as returns
from tests.conftest import is_postgres

pytestmark = pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")

WORKERS = 8


def test_parallel_refunds_never_exceed_the_order_total(app, make, session):
    warehouse = make.warehouse("WH1")
    make.product("SKU-1", stock={warehouse: 10})
    order = make.order(make.channel("shop"), [("SKU-1", 1, "100.00")])
    order_id = order.id
    session.commit()
    barrier = threading.Barrier(WORKERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def agent(n: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                returns.refund(db.session, order_id, "30.00", f"agent {n}", Actor(f"user:agent{n}"))
                outcome = "refunded"
            except ValidationFailed as exc:
                assert "left to refund" in exc.message or "left to refund" in str(exc.errors)
                outcome = "refused"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    session.rollback()
    amounts = session.scalars(select(Refund.amount).where(Refund.order_id == order_id)).all()
    assert sorted(outcomes) == ["refunded"] * 3 + ["refused"] * (WORKERS - 3)
    assert sum(amounts, Decimal("0")) == Decimal("90.00")


def test_two_admins_approving_one_refund_at_once_send_it_once(app, make, session, user):
    """The refund waiting for approval is decided once: the order row, then the refund, are
    locked; the second Admin finds it decided (and the amount it held was never counted twice)."""
    from app.models import OrderEvent
    from app.services.core.errors import InvalidTransition
    from app.services.returns import approvals

    warehouse = make.warehouse("WH1")
    make.product("SKU-1", stock={warehouse: 10})
    order = make.order(make.channel("shop"), [("SKU-1", 1, "100.00")])
    asked = returns.refund(session, order.id, "80.00", "lost parcel", Actor.for_user(user("support")),
                           limit=Decimal("20"))
    session.commit()
    refund_id, order_id = asked.id, order.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def admin(n: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                approvals.approve(db.session, refund_id, Actor(f"user:admin{n}"))
                outcome = "approved"
            except InvalidTransition:
                outcome = "already decided"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=admin, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    session.rollback()
    assert sorted(outcomes) == ["already decided", "approved"]
    assert session.get(Refund, refund_id).status == "succeeded"  # (no channel to tell)
    assert len(session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id,
                                                        OrderEvent.type == "refund_approved")).all()) == 1
