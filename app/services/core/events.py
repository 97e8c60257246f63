"""The order timeline: one small constructor for every kind of event (Saleor's events.py)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from app.models import Order, OrderEvent
from app.models.base import utcnow
from app.services.core.actor import Actor
from app.services.core.batch_writes import insert_rows


_BATCH = "waybill_event_batch"


@contextmanager
def batched(session: Session, orders, now=None):
    """Within this block the events of ``orders`` (already stored, so with ids) are kept
    as rows and written in one INSERT when it ends, instead of an ORM object each: an
    allocation batch writes thousands. They carry one time, the batch's (``now``, as a
    database's now() is the transaction's); their ids keep their order. ``orders`` (ORM
    objects) get ``order.events`` reloaded afterwards."""
    if session.info.get(_BATCH) is not None:  # nested in another batch: that one writes
        yield
        return
    rows: list[dict] = []
    session.info[_BATCH] = (rows, now or utcnow())
    try:
        yield
        insert_rows(session, OrderEvent.__table__, rows)
    finally:
        session.info.pop(_BATCH, None)
    for order in orders:
        session.expire(order, ["events"])


def order_event(session: Session, order: Order | int, actor: Actor, type: str, message: str,
                data: dict[str, Any] | None = None) -> OrderEvent | None:
    """Add an event to the timeline of ``order`` (the order, or the id of one stored: a
    batch that has only the ids need not load the orders). None when it is batched: see
    ``batched``."""
    order_id = order if isinstance(order, int) else order.id
    batch = session.info.get(_BATCH)
    if batch is not None and order_id is not None:
        rows, now = batch
        rows.append(dict(order_id=order_id, created_at=now, actor=actor.label,
                         user_id=actor.user_id, type=type, message=message, data=data))
        return None
    link = {"order_id": order} if isinstance(order, int) else {"order": order}
    event = OrderEvent(
        **link, created_at=utcnow(), actor=actor.label, user_id=actor.user_id,
        type=type, message=message, data=data,
    )
    session.add(event)
    return event


def status_changed(session, order, actor, old: str, new: str, reason: str | None = None):
    message = f"Status {old} → {new}" + (f": {reason}" if reason else "")
    return order_event(session, order, actor, "status_changed", message,
                       {"from": old, "to": new, "reason": reason})


def imported(session, order, actor, channel_code: str):
    return order_event(session, order, actor, "imported",
                       f"Order {order.order_number} imported from {channel_code}")


def updated_from_channel(session, order, actor, changes: dict):
    fields = ", ".join(sorted(changes))
    return order_event(session, order, actor, "channel_update",
                       f"Updated from the channel: {fields}", {"changes": changes})


def hold_placed(session, order, actor, reason: str, note: str | None):
    return order_event(session, order, actor, "hold_placed",
                       f"Held ({reason})" + (f": {note}" if note else ""),
                       {"reason": reason, "note": note})


def hold_released(session, order, actor, reason: str, note: str | None):
    return order_event(session, order, actor, "hold_released",
                       f"Hold released ({reason})" + (f": {note}" if note else ""),
                       {"reason": reason, "note": note})


def note_added(session, order, actor, text: str):
    return order_event(session, order, actor, "note", text)


def cancelled(session, order, actor, reason: str):
    return order_event(session, order, actor, "cancelled", f"Cancelled: {reason}",
                       {"reason": reason})


def address_changed(session, order, actor, kind: str, old: dict | None, new: dict):
    return order_event(session, order, actor, "address_changed",
                       f"{kind.capitalize()} address changed", {"kind": kind, "old": old, "new": new})


def allocated(session, order, actor, plan: list[dict]):
    parts = ", ".join(f"{p['quantity']}× {p['sku']} from {p['warehouse']}" for p in plan)
    return order_event(session, order, actor, "allocated", f"Reserved {parts}", {"plan": plan})


def backordered(session, order, actor, lines: list[dict]):
    parts = ", ".join(f"{l['quantity']}× {l['sku']}" for l in lines)
    return order_event(session, order, actor, "backordered", f"Waiting for stock: {parts}",
                       {"lines": lines})


def reservations_released(session, order, actor, count: int, why: str):
    return order_event(session, order, actor, "released_stock",
                       f"Released {count} reservation(s): {why}", {"count": count})


def shipped(session, order, actor, shipment):
    tracking = f" ({shipment.carrier} {shipment.tracking_number})" if shipment.tracking_number else ""
    return order_event(session, order, actor, "shipped",
                       f"Shipment {shipment.id} shipped{tracking}",
                       {"shipment_id": shipment.id, "tracking_number": shipment.tracking_number})


def tracking_update(session, order, actor, shipment, status: str, description: str | None):
    return order_event(session, order, actor, "tracking",
                       f"Shipment {shipment.id}: {status}" + (f" — {description}" if description else ""),
                       {"shipment_id": shipment.id, "status": status})


def return_created(session, order, actor, ret):
    return order_event(session, order, actor, "return_created",
                       f"Return {ret.rma_number} created", {"return_id": ret.id})


def return_received(session, order, actor, ret):
    return order_event(session, order, actor, "return_received",
                       f"Return {ret.rma_number} received", {"return_id": ret.id})


def refunded(session, order, actor, refund):
    """A refund made here (its channel confirms it later: refund_* events) or read from the channel."""
    return order_event(session, order, actor, "refunded",
                       f"Refund of {refund.amount} {refund.currency} requested" if refund.status == "pending"
                       else f"Refunded {refund.amount} {refund.currency}",
                       {"refund_id": refund.id, "amount": str(refund.amount)})


def outbox_event_row(order_id: int, actor, type: str, message: str, data: dict) -> dict:
    """An outbox message of the order was sent, went dead, was retried or discarded, as
    a row (the sender has the order's id only, and writes it with plain SQL)."""
    return dict(order_id=order_id, created_at=utcnow(), actor=actor.label,
                user_id=actor.user_id, type=type, message=message, data=data)


def outbox_message(session, order_id: int, actor, type: str, message: str, data: dict):
    event = OrderEvent(**outbox_event_row(order_id, actor, type, message, data))
    session.add(event)
    return event
