"""Parallel pick list creation, proven on PostgreSQL: four workers make waves of the same
warehouse at once; every order lands in exactly one list (SKIP LOCKED: disjoint waves, no wait)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Order, PickListLine
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.fulfilment import picking
from tests.conftest import is_postgres

pytestmark = pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")


def test_parallel_waves_never_share_an_order(app, floor, actor):
    from app.services.core import settings
    from app.services.inventory import stock as inventory

    settings.set_value(floor.session, "risk_check_velocity", False, actor("admin"))  # 24 orders of one buyer
    inventory.receive(floor.session, floor.warehouse.id, floor.products["MUG"].id, 20, actor("admin"))
    ids = [floor.order([("MUG", 1)]).id for _ in range(24)]
    floor.session.commit()
    assert {floor.session.get(Order, i).status for i in ids} == {"allocated"}
    start, errors, made = threading.Barrier(4), [], []

    def worker():
        with app.app_context():
            try:
                start.wait()
                for _ in range(3):
                    try:
                        made.append(picking.create(db.session, floor.warehouse.id, {"max_orders": 4},
                                                   Actor.job("bench")).id)
                    except ValidationFailed:
                        break  # nothing left to take
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    session = floor.session
    session.expire_all()
    per_order = dict(session.execute(select(PickListLine.order_id, func.count(func.distinct(PickListLine.pick_list_id)))
                                     .group_by(PickListLine.order_id)).all())
    assert sorted(per_order) == sorted(ids) and set(per_order.values()) == {1}
    assert len(made) == 6
    assert session.scalar(select(func.count()).select_from(Order).where(Order.status == "picking")) == 24
