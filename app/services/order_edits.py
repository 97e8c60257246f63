"""Order edits that change several things at once, all or nothing (one transaction, one
version check): addresses and contact details; and re-allocation."""
from __future__ import annotations

from sqlalchemy.orm import Session

from . import customers, events, orders, validation
from .actor import Actor
from .errors import InvalidTransition, ValidationFailed
from .transaction import transactional


@transactional
def edit_order(session: Session, order_id: int, actor: Actor, *, expected_version,
               shipping_address: dict | None = None, billing_address: dict | None = None,
               email: str | None = None, phone: str | None = None):
    """Change an order's shipping and/or billing address (before picking) and/or its
    contact e-mail and phone (until it is cancelled), all or nothing. ``expected_version``
    is the version the editor read (StaleVersion if the order changed since). Every invalid
    field is reported at once. A new e-mail moves the order to that e-mail's customer."""
    addresses = {kind: address for kind, address in
                 (("shipping", shipping_address), ("billing", billing_address))
                 if address is not None}
    order = orders.get_order(session, order_id, for_update=True)
    orders.check_version(order, expected_version)
    if not addresses and email is None and phone is None:
        message = "give shipping_address, billing_address, email and/or phone"
        raise ValidationFailed(f"Nothing to change: {message}", errors={"body": [message]})
    errors = validation.Errors()

    def check(fn):
        try:
            return fn()
        except ValidationFailed as err:
            for field, messages in err.errors.items():
                for message in messages:
                    errors.add(field, message)
            return None

    for kind, address in addresses.items():
        check(lambda: validation.address(address, f"{kind}_address"))
    new_email = check(lambda: validation.email(email, "email", required=True)) \
        if email is not None else None
    new_phone = check(lambda: validation.text(phone, "phone", max_length=64, required=False)) \
        if phone is not None else None
    errors.raise_if_any("The changes are not valid")
    if (email is not None or phone is not None) and order.status == "cancelled":
        raise InvalidTransition(f"Order {order.order_number} is cancelled")
    for kind, address in addresses.items():
        session.flush()  # the first edit bumps the version; the check above already held
        orders.edit_address(session, order.id, kind, address, order.version, actor)
    contact = {}
    if email is not None and new_email != order.email:
        contact["email"] = {"old": order.email, "new": new_email}
        order.email = new_email
        order.customer = customers.find_or_create(session, new_email, order.customer_name,
                                                  order.phone)
    if phone is not None and new_phone != order.phone:
        contact["phone"] = {"old": order.phone, "new": new_phone}
        order.phone = new_phone
    for field, change in contact.items():
        orders.mark_local_edit(order, field, change["new"], actor)
    if contact:
        events.order_event(session, order, actor, "contact_changed",
                           "Contact changed: " + ", ".join(sorted(contact)), {"changes": contact})
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
