"""The warehouse home page: open pick lists, orders ready to pick by ship-by, orders packed but
not shipped, today's shipped count, the at-risk tile; the end of day's labels bought and not
shipped, and their ship confirm in one go per warehouse."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, selectinload

from app.models import Order, OrderHold, PickList, Shipment, Warehouse
from app.models.base import utcnow
from app.services.core.actor import Actor
from app.services.core.errors import DomainError
from app.services.fulfilment import labels, picking, sla

READY_LIMIT = 50


def home(session: Session, now: datetime | None = None) -> dict:
    now = now or utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    held = exists().where(OrderHold.order_id == Order.id, OrderHold.released_at.is_(None))
    return {
        "warehouses": list(session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code))),
        "pick_lists": list(session.scalars(select(PickList).where(PickList.status.in_(picking.LIVE))
                                           .options(selectinload(PickList.lines), selectinload(PickList.warehouse))
                                           .order_by(PickList.id))),
        "ready": list(session.scalars(select(Order).where(Order.status == "allocated", ~held)
                                      .order_by(Order.ship_by.is_(None), Order.ship_by, Order.id).limit(READY_LIMIT))),
        "packed": list(session.scalars(select(Order).where(Order.status == "packed").order_by(Order.id).limit(READY_LIMIT))),
        "shipped_today": session.scalar(select(func.count(func.distinct(Shipment.order_id))).where(
            Shipment.shipped_at >= start)) or 0,
        "sla": sla.tile(session, now),
        "unshipped_labels": unshipped_labels(session),
    }


def unshipped_labels(session: Session) -> list[Shipment]:
    """End of day: labels bought whose order was not ship-confirmed (it changed while the label
    was bought, or waits for a person): to ship or to void."""
    return list(session.scalars(select(Shipment).join(Order).where(
        Shipment.status.in_(("label_created", "label_uncertain")), Shipment.shipped_at.is_(None),
        Order.status.not_in(("shipped", "partially_shipped", "delivered"))).order_by(Shipment.id).limit(READY_LIMIT)))


def confirm_labelled(session: Session, warehouse_id: int, actor: Actor) -> dict:
    """End of day, one warehouse: ship confirm every label bought and not shipped whose order is
    packed and free now; the others are listed with why (held, changed): to void or wait."""
    waiting = session.scalars(select(Shipment.id).where(
        Shipment.warehouse_id == warehouse_id, Shipment.status == "label_created",
        Shipment.shipped_at.is_(None)).order_by(Shipment.id)).all()
    session.rollback()
    result: dict = {"shipped": [], "waiting": []}
    for shipment_id in waiting:
        try:
            labels.confirm_label(session, shipment_id, actor)
            result["shipped"].append(shipment_id)
        except DomainError as err:
            session.rollback()
            result["waiting"].append({"shipment_id": shipment_id, "message": err.message})
    return result
