"""Order actions (Saleor's order/actions.py): the transition table, holds, cancellation,
notes and address edits. Each public function is one transaction and writes events."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.models import Allocation, Order, OrderHold
from app.models.base import utcnow
from app.models.orders import HOLD_REASONS
from app.services.core import domain_events, events
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import InvalidTransition, NotFound, StaleVersion, ValidationFailed
from app.services.core.transaction import transactional
from app.services.inventory import stock as inventory
from app.services.orders import addresses

# DESIGN.md "Order lifecycle": the only moves an order's status may make.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"allocated", "partially_allocated", "backordered", "shipped", "cancelled"}),
    "allocated": frozenset({"picking", "new", "cancelled"}),
    "partially_allocated": frozenset({"allocated", "picking", "new", "cancelled"}),
    "backordered": frozenset({"allocated", "partially_allocated", "new", "cancelled"}),
    # back to allocation: the pick list cancelled, or a short pick (DESIGN.md)
    "picking": frozenset({"packed", "cancelled", "allocated", "partially_allocated", "backordered"}),
    "packed": frozenset({"partially_shipped", "shipped", "cancelled"}),
    "partially_shipped": frozenset({"shipped"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}
# Before picking starts an order can still be edited, re-routed and de-allocated.
EDITABLE_STATUSES = frozenset({"new", "allocated", "partially_allocated", "backordered"})
SHIPPED_STATUSES = frozenset({"partially_shipped", "shipped", "delivered"})
HOLDABLE_STATUSES = frozenset(TRANSITIONS) - SHIPPED_STATUSES - {"cancelled"}
FULFILLMENT_BY_STATUS = {"partially_shipped": "partial", "shipped": "fulfilled",
                         "delivered": "fulfilled"}


def get_order(session: Session, order_id: int, *, for_update: bool = False) -> Order:
    """The order with its lines, holds and channel, in one query (locked: the order's row)."""
    query = select(Order).where(Order.id == order_id).options(
        joinedload(Order.lines), joinedload(Order.holds), joinedload(Order.channel))
    if for_update:
        query = query.with_for_update(of=Order)
    order = session.execute(query).unique().scalar_one_or_none()
    if order is None:
        raise NotFound(f"Order {order_id} not found")
    return order


def can_transition(order: Order, to: str) -> bool:
    return to in TRANSITIONS.get(order.status, ())


def transition(session: Session, order: Order, to: str, actor: Actor,
               reason: str | None = None) -> None:
    """Move an order to another status or raise InvalidTransition. No commit."""
    if order.status == to:
        return
    if not can_transition(order, to):
        raise InvalidTransition(
            f"Order {order.order_number} cannot go from {order.status} to {to}",
            errors={"status": [f"{order.status} → {to} is not allowed"]},
        )
    old, order.status = order.status, to
    if to in FULFILLMENT_BY_STATUS:
        order.fulfillment_status = FULFILLMENT_BY_STATUS[to]
    events.status_changed(session, order, actor, old, to, reason)
    domain_events.publish(session, "order.status_changed", {
        "order_id": order.id, "from": old, "to": to, "actor": actor})


def check_version(order: Order, expected_version) -> None:
    if expected_version is None:
        raise ValidationFailed.field("expected_version", "is required")
    expected = validation.quantity(expected_version, "expected_version")
    if expected != order.version:
        message = (f"Someone else changed order {order.order_number} (now version "
                   f"{order.version}, you had {expected}); reload it and try again")
        raise StaleVersion(message, errors={"expected_version": [message]})


# --- holds -----------------------------------------------------------------------------

def place_hold_in_tx(session: Session, order: Order, reason: str, note: str | None,
                     actor: Actor) -> OrderHold:
    """Hold an order (no commit); an open hold with the same reason is reused."""
    if reason not in HOLD_REASONS:
        raise ValidationFailed.field("reason", f"must be one of {', '.join(HOLD_REASONS)}")
    note = validation.text(note, "note", max_length=2000, required=False)
    if order.status not in HOLDABLE_STATUSES:
        raise InvalidTransition(f"Order {order.order_number} is {order.status}: it can no longer be held")
    for hold in order.open_holds:
        if hold.reason == reason:
            return hold
    hold = OrderHold(order=order, reason=reason, note=note, placed_by=actor.label,
                     placed_at=utcnow())
    session.add(hold)
    order.updated_at = hold.placed_at  # a hold changes the order: its version moves on
    events.hold_placed(session, order, actor, reason, note)
    domain_events.publish(session, "order.hold_placed",
                          {"order_id": order.id, "reason": reason, "actor": actor})
    return hold


@transactional
def place_hold(session: Session, order_id: int, reason: str, note: str | None,
               actor: Actor) -> OrderHold:
    order = get_order(session, order_id, for_update=True)
    return place_hold_in_tx(session, order, reason or "manual", note, actor)


@transactional
def release_hold(session: Session, order_id: int, actor: Actor, *, hold_id: int | None = None,
                 reason: str | None = None, note: str | None = None) -> list[OrderHold]:
    """Release one hold (by id or reason) or, with neither, every open hold. Releasing
    the last one continues the pipeline (lifecycle subscribes to ``order.hold_released``)."""
    order = get_order(session, order_id, for_update=True)
    note = validation.text(note, "note", max_length=2000, required=False)
    holds = [h for h in order.open_holds
             if (hold_id is None or h.id == int(hold_id)) and (reason is None or h.reason == reason)]
    if not holds:
        raise NotFound(f"Order {order.order_number} has no open hold matching that")
    now = utcnow()
    for hold in holds:
        hold.released_at, hold.released_by, hold.release_note = now, actor.label, note
        events.hold_released(session, order, actor, hold.reason, note)
    order.updated_at = now
    domain_events.publish(session, "order.hold_released", {
        "order_id": order.id, "reasons": [h.reason for h in holds],
        "last": not order.open_holds, "actor": actor})
    return holds


# --- notes, cancellation, edits ---------------------------------------------------------

@transactional
def add_note(session: Session, order_id: int, text: str, actor: Actor):
    order = get_order(session, order_id)
    text = validation.text(text, "text", max_length=4000)
    return events.note_added(session, order, actor, text)


def release_allocations(session: Session, order: Order, actor: Actor, why: str) -> int:
    allocations = session.scalars(
        select(Allocation).where(Allocation.order_id == order.id, Allocation.status == "open")
        .order_by(Allocation.stock_level_id)  # lock rows in key order: no deadlocks
    ).all()
    for allocation in allocations:
        inventory.release(session, allocation, actor, why)
    if allocations:
        events.reservations_released(session, order, actor, len(allocations), why)
    return len(allocations)


def cancel_in_tx(session: Session, order: Order, reason: str, actor: Actor, *, refund: bool = True,
                 restock: bool = True) -> Order:
    """``refund``/``restock``: what the channel is asked to do with the payment and the units
    (carried in ``order.cancelled`` to the channel write-back)."""
    if order.status == "cancelled":
        raise InvalidTransition(f"Order {order.order_number} is already cancelled")
    if order.status in SHIPPED_STATUSES:
        raise InvalidTransition(
            f"Order {order.order_number} is {order.status.replace('_', ' ')}: what has left the "
            "warehouse cannot be cancelled; start a return instead."
        )
    release_allocations(session, order, actor, f"order cancelled: {reason}")
    for line in order.lines:
        line.quantity_cancelled += line.quantity_open
        line.quantity_backordered = 0
    now = utcnow()
    for hold in order.open_holds:
        hold.released_at, hold.released_by, hold.release_note = now, actor.label, "order cancelled"
    transition(session, order, "cancelled", actor, reason)
    order.cancelled_at, order.cancel_reason = now, reason
    events.cancelled(session, order, actor, reason)
    domain_events.publish(session, "order.cancelled",
                          {"order_id": order.id, "reason": reason, "actor": actor, "refund": refund,
                           "restock": restock})
    return order


@transactional
def cancel_order(session: Session, order_id: int, reason: str, actor: Actor, *, refund: bool = True,
                 restock: bool = True) -> Order:
    reason = validation.text(reason, "reason", max_length=500)
    order = get_order(session, order_id, for_update=True)
    order = cancel_in_tx(session, order, reason, actor, refund=refund, restock=restock)
    mark_local_edit(order, "status", "cancelled", actor)
    return order


def mark_local_edit(order: Order, field: str, value, actor: Actor) -> None:
    """Remember that Waybill changed a field the channel also owns (import reads this)."""
    edits = dict(order.local_edits or {})
    edits[field] = {"at": utcnow().isoformat(), "by": actor.label, "value": value}
    order.local_edits = edits


@transactional
def edit_address(session: Session, order_id: int, kind: str, address: dict,
                 expected_version, actor: Actor) -> Order:
    """Change the shipping or billing address before picking; a new destination country
    re-routes the order."""
    if kind not in ("shipping", "billing"):
        raise ValidationFailed.field("kind", "must be shipping or billing")
    order = get_order(session, order_id, for_update=True)
    check_version(order, expected_version)
    if order.status not in EDITABLE_STATUSES:
        raise InvalidTransition(
            f"Order {order.order_number} is {order.status}: addresses can only change before picking"
        )
    clean = validation.address(address, f"{kind}_address")
    attribute = f"{kind}_address"
    old = getattr(order, attribute)
    if old == clean:
        return order
    setattr(order, attribute, clean)
    mark_local_edit(order, attribute, clean, actor)
    events.address_changed(session, order, actor, kind, old, clean)
    if kind == "shipping":
        addresses.refresh_address_key(order)  # the velocity check counts the new address
        old_country = order.ship_country
        order.ship_country = clean["country"]
        rerouted = old_country != clean["country"] and order.status != "new"
        if rerouted:
            release_allocations(session, order, actor, "shipping country changed")
            for line in order.lines:
                line.quantity_backordered = 0
            transition(session, order, "new", actor, "re-route to the new address")
        # lifecycle routes a re-routed order again (it subscribes; orders cannot import it)
        domain_events.publish(session, "order.address_changed",
                              {"order_id": order.id, "rerouted": rerouted, "actor": actor})
    return order
