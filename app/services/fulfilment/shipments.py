"""Fulfillment actions: picking, packing, shipping what is reserved, tracking updates."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Allocation, Shipment, ShipmentLine, TrackingEvent
from app.models.base import utcnow
from app.models.fulfillment import SHIPMENT_STATUSES
from app.services.core import domain_events, events
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional


def _not_held(order) -> None:
    if order.is_held:
        reasons = ", ".join(h.reason for h in order.open_holds)
        raise InvalidTransition(f"Order {order.order_number} is on hold ({reasons})")


@transactional
def start_picking(session: Session, order_id: int, actor: Actor):
    order = orders.get_order(session, order_id, for_update=True)
    _not_held(order)
    orders.transition(session, order, "picking", actor)
    return order


@transactional
def mark_packed(session: Session, order_id: int, actor: Actor):
    order = orders.get_order(session, order_id, for_update=True)
    _not_held(order)
    orders.transition(session, order, "packed", actor)
    return order


def packed_order(session: Session, order_id: int):
    """The order, locked, when it may ship: packed and not held."""
    order = orders.get_order(session, order_id, for_update=True)
    _not_held(order)
    if order.status != "packed":
        raise InvalidTransition(f"Order {order.order_number} is {order.status}: pack it before shipping")
    return order


def open_allocations(session: Session, order, warehouse_id: int | None = None) -> list[Allocation]:
    query = select(Allocation).where(Allocation.order_id == order.id, Allocation.status == "open")
    if warehouse_id is not None:
        query = query.where(Allocation.warehouse_id == warehouse_id)
    allocations = session.scalars(query.order_by(Allocation.stock_level_id)).all()
    if not allocations:
        raise ValidationFailed.field("warehouse_id", "nothing reserved to ship from there")
    return allocations


def confirm(session: Session, order, shipment: Shipment, allocations: list[Allocation], actor: Actor) -> None:
    """Ship confirm: the reserved units leave stock on this shipment (the ledger's moves of all
    its lines at once), the order moves on, ``shipment.created`` is published (channel
    write-back and mails react to it). The shipment is flushed (its id is the ledger's
    reference); give it ``lines=[]`` when new, so its lines are not read back.

    The order's events go in one INSERT, and nothing is flushed before the commit but what a
    subscriber flushes itself: the order's row is written once, its lines and allocations
    each in one executemany."""
    with events.batched(session, [order]), session.no_autoflush:
        shipment.shipped_at = shipment.shipped_at or utcnow()  # gone now (a label may wait for it)
        inventory.ship(session, [(a, a.quantity) for a in allocations], actor, reference=f"shipment {shipment.id}")
        for allocation in allocations:
            shipment.lines.append(ShipmentLine(order_line_id=allocation.order_line_id, quantity=allocation.quantity))
        remaining = sum(line.quantity_open for line in order.lines)
        if order.shipped_on_time is None:  # the SLA clock: the first shipment counts (KPIs)
            order.shipped_on_time = order.ship_by is None or utcnow() <= order.ship_by
            order.sla_state = None
        orders.transition(session, order, "partially_shipped" if remaining else "shipped", actor)
        events.shipped(session, order, actor, shipment)
        domain_events.publish(session, "shipment.created",
                              {"shipment_id": shipment.id, "order_id": order.id, "actor": actor})


@transactional
def ship(session: Session, order_id: int, actor: Actor, *, carrier: str | None = None,
         service: str | None = None, tracking_number: str | None = None,
         warehouse_id: int | None = None, shipped_at: datetime | None = None) -> Shipment:
    """Ship every open reservation of a packed order (optionally from one warehouse)."""
    order = packed_order(session, order_id)
    carrier = validation.text(carrier, "carrier", max_length=32, required=False)
    tracking_number = validation.text(tracking_number, "tracking_number", max_length=64,
                                      required=False)
    allocations = open_allocations(session, order, warehouse_id)
    shipment = Shipment(
        order=order, warehouse_id=warehouse_id or allocations[0].warehouse_id, carrier=carrier,
        service=service, tracking_number=tracking_number, status="in_transit",
        created_by=actor.label, created_at=utcnow(), shipped_at=shipped_at or utcnow(), lines=[],
    )
    session.add(shipment)
    session.flush()
    confirm(session, order, shipment, allocations, actor)
    return shipment


@transactional
def add_tracking_event(session: Session, shipment_id: int, status: str, actor: Actor, *,
                       occurred_at: datetime | None = None, description: str | None = None,
                       location: str | None = None) -> TrackingEvent:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found")
    if status not in SHIPMENT_STATUSES:
        raise ValidationFailed.field("status", f"must be one of {', '.join(SHIPMENT_STATUSES)}")
    occurred_at = occurred_at or utcnow()
    event = TrackingEvent(shipment=shipment, occurred_at=occurred_at, status=status,
                          description=description, location=location)
    session.add(event)
    shipment.status = status
    order = shipment.order
    events.tracking_update(session, order, actor, shipment, status, description)
    domain_events.publish(session, "shipment.tracking_updated",
                          {"shipment_id": shipment.id, "order_id": order.id, "status": status,
                           "actor": actor})
    if status == "delivered":
        shipment.delivered_at = occurred_at
        session.flush()
        if order.status == "shipped" and all(s.status == "delivered" for s in order.shipments):
            orders.transition(session, order, "delivered", actor)
    return event
