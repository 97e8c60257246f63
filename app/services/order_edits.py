"""Editing an order's addresses in one step: the shipping and the billing address change
together or not at all (one transaction, one version check)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from . import orders, validation
from .actor import Actor
from .errors import InvalidTransition, ValidationFailed
from .transaction import transactional


@transactional
def edit_order(session: Session, order_id: int, actor: Actor, *, expected_version,
               shipping_address: dict | None = None, billing_address: dict | None = None):
    """Change the shipping and/or billing address of an order that has not started
    picking. ``expected_version`` is the version the editor read (StaleVersion if the order
    changed since). Every invalid field of both addresses is reported at once."""
    changes = {kind: address for kind, address in
               (("shipping", shipping_address), ("billing", billing_address))
               if address is not None}
    order = orders.get_order(session, order_id, for_update=True)
    orders.check_version(order, expected_version)
    if not changes:
        message = "give shipping_address and/or billing_address"
        raise ValidationFailed(f"Nothing to change: {message}",
                               errors={"shipping_address": [message],
                                       "billing_address": [message]})
    errors = validation.Errors()
    for kind, address in changes.items():
        try:
            validation.address(address, f"{kind}_address")
        except ValidationFailed as err:
            for field, messages in err.errors.items():
                for message in messages:
                    errors.add(field, message)
    errors.raise_if_any("The address is not valid")
    for kind, address in changes.items():
        session.flush()  # the first edit bumps the version; the check above already held
        orders.edit_address(session, order.id, kind, address, order.version, actor)
    return order


REALLOCATABLE_STATUSES = frozenset({"new", "allocated", "partially_allocated", "backordered"})


@transactional
def reallocate(session: Session, order_id: int, actor: Actor):
    """Give back an order's reservations and allocate it afresh (after stock moved, a
    warehouse changed, or to consolidate a split). Only before picking, never while held."""
    from . import pipeline

    order = orders.get_order(session, order_id, for_update=True)
    if order.status not in REALLOCATABLE_STATUSES:
        raise InvalidTransition(
            f"Order {order.order_number} is {order.status}: only orders not yet picking can "
            "be re-allocated")
    if order.is_held:
        reasons = ", ".join(h.reason for h in order.open_holds)
        raise InvalidTransition(f"Order {order.order_number} is on hold ({reasons})")
    orders.release_allocations(session, order, actor, "re-allocation")
    for line in order.lines:
        line.quantity_backordered = 0
    orders.transition(session, order, "new", actor, "re-allocation")
    session.flush()
    pipeline.process(session, order, actor)
    return order
