"""Parcels that came back or never arrived, from the delivery exceptions queue: "reship" (a
replacement order of the same units, linked to the original, stock reserved) and, for a
parcel returned to sender, "receive back" (a return received at once, inspected and disposed
of like any other; no refund unless one is chosen)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from app.models import Order, OrderLine, Return
from app.services.core import events
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.core.transaction import transactional
from app.services.lifecycle import pipeline
from app.services.orders import actions as orders
from app.services.returns import actions as returns
from app.services.returns.exchanges import local_order


def _shipped_units(order: Order) -> dict[OrderLine, int]:
    units = {line: line.quantity_shipped - line.quantity_returned for line in order.lines}
    units = {line: n for line, n in units.items() if n > 0}
    if not units:
        raise ValidationFailed.field("order_id", f"order {order.order_number} has nothing shipped to send again")
    return units


@transactional
def reship(session: Session, order_id, actor: Actor, *, reference: str) -> Order:
    """A replacement of what was shipped (at no charge), linked to the original; ``reference``
    (the delivery exception) makes it once."""
    original = orders.get_order(session, order_id, for_update=True)
    lines = [OrderLine(sku=line.sku, product_id=line.product_id, title=line.title, quantity=units,
                       unit_price=Decimal("0"), subtotal=Decimal("0"))
             for line, units in _shipped_units(original).items()]
    new = local_order(session, original, lines, Decimal("0"), f"R{reference}")
    events.order_event(session, new, actor, "reship_created", f"Replacement for order {original.order_number}",
                       {"original_order_id": original.id})
    events.order_event(session, original, actor, "reship_created",
                       f"Replacement order {new.order_number} sent again", {"reship_order_id": new.id})
    pipeline.process(session, new, actor)
    return new


@transactional
def receive_back(session: Session, order_id, actor: Actor) -> Return:
    """The carrier brought the parcel back: a return of every shipped unit, received now, to
    inspect and dispose of at the receiving station."""
    order = orders.get_order(session, order_id, for_update=True)
    lines = {line.id: {"quantity": units, "reason": "other", "note": "returned to sender by the carrier"}
             for line, units in _shipped_units(order).items()}
    ret = returns.create_return(session, order.id, lines, None, actor)
    if ret.status == "requested":
        returns.authorize(session, ret.id, actor)
    returns.receive_return(session, ret.id, actor)
    return ret
