"""Editing an order's addresses in one step: the shipping and the billing address change
together or not at all (one transaction, one version check)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from . import orders, validation
from .actor import Actor
from .errors import ValidationFailed
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
