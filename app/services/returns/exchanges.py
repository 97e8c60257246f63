"""Exchanges (DESIGN.md "Returns, refunds, exchanges"): instead of (or in part of) a refund the
customer gets other items — a new order on the same channel, linked to the return and to the
original, created when the return is authorized so its stock is reserved then (advance
exchange: it may ship before the return arrives). No channel API charges a price difference:
a dearer exchange is held with a ``payment`` hold until staff mark the difference paid; a
cheaper one leaves the difference to refund (``policy.breakdown`` takes the exchange's value
off the return's refund). The new order is ours only: never written back to the channel."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Order, OrderLine
from app.models.base import utcnow
from app.services.core import events, validation
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, InvalidTransition, ValidationFailed
from app.services.core.transaction import transactional
from app.services.inventory import catalog
from app.services.lifecycle import pipeline
from app.services.orders import actions as orders
from app.services.orders.queries import LOCAL_ORDER_TAG
from app.services.returns import actions as returns, policy


def _lines(session: Session, items) -> list[OrderLine]:
    if not isinstance(items, dict) or not items:
        raise ValidationFailed.field("items", "give the SKUs and units the customer gets instead")
    lines = []
    for sku, units in items.items():
        units = validation.quantity(units, f"items.{sku}")
        try:
            product = catalog.product_by_sku(session, str(sku))
        except Exception:  # noqa: BLE001 - NotFound: a clear field error instead
            raise ValidationFailed.field(f"items.{sku}", "no product with this SKU") from None
        if product.price is None:
            raise ValidationFailed.field(f"items.{sku}", "this product has no price")
        lines.append(OrderLine(sku=product.sku, product_id=product.id, title=product.name, quantity=units,
                               unit_price=product.price, subtotal=product.price * units))
    return lines


def local_order(session: Session, original: Order, lines: list[OrderLine], total: Decimal, suffix: str) -> Order:
    """A new order of ours (an exchange, a reship) on the original's channel, to the same
    customer and address; paid; screened (staff made it); never written back."""
    number = f"{original.order_number}-{suffix}"[:64]
    external_id = f"{original.external_id}-{suffix}"[:64]
    if session.scalar(select(Order.id).where(Order.channel_id == original.channel_id,
                                              Order.external_id == external_id)) is not None:
        raise Conflict(f"Order {number} exists already")
    now = utcnow()
    new = Order(channel_id=original.channel_id, external_id=external_id, order_number=number,
                customer_id=original.customer_id, email=original.email, email_domain=original.email_domain,
                customer_name=original.customer_name, phone=original.phone,
                shipping_address=original.shipping_address, billing_address=original.billing_address,
                ship_country=original.ship_country, ship_address_key=original.ship_address_key,
                currency=original.currency, subtotal=total, total=total, financial_status="paid", placed_at=now,
                screened_at=now, tags=[LOCAL_ORDER_TAG], status="new", lines=lines)
    session.add(new)
    session.flush()
    return new


@transactional
def create_exchange(session: Session, return_id, items, actor: Actor) -> Order:
    """Authorize the return (if it is not yet) and open its exchange order, stock reserved."""
    ret = returns.get_return(session, return_id, for_update=True)
    if ret.exchange_order_id:
        raise Conflict(f"Return {ret.rma_number} has an exchange already")
    if ret.status == "requested":
        returns.authorize(session, ret.id, actor)
    elif ret.status not in ("authorized", "in_transit"):
        raise InvalidTransition(f"Return {ret.rma_number} is {ret.status}: too late for an exchange")
    original = ret.order
    lines = _lines(session, items)
    total = sum((line.subtotal for line in lines), Decimal("0"))
    new = local_order(session, original, lines, total, f"X{ret.id}")
    ret.exchange_order_id = new.id
    events.order_event(session, new, actor, "exchange_created",
                       f"Exchange for return {ret.rma_number} of order {original.order_number}",
                       {"return_id": ret.id, "original_order_id": original.id})
    events.order_event(session, original, actor, "exchange_created",
                       f"Exchange order {new.order_number} for return {ret.rma_number}",
                       {"return_id": ret.id, "exchange_order_id": new.id})
    pipeline.process(session, new, actor)  # allocation reserves its stock now
    difference = total - policy.breakdown(session, ret, with_exchange=False).total
    if difference > 0:
        orders.place_hold_in_tx(session, new, "payment",
                                f"the exchange costs {difference} {new.currency} more than the return: "
                                "mark the difference paid", actor)
    returns._changed(session, ret, ret.status, actor)
    return new


@transactional
def mark_paid(session: Session, return_id, actor: Actor) -> Order:
    """The customer paid the difference: the exchange order's payment hold is released."""
    ret = returns.get_return(session, return_id)
    if not ret.exchange_order_id:
        raise InvalidTransition(f"Return {ret.rma_number} has no exchange")
    orders.release_hold(session, ret.exchange_order_id, actor, reason="payment", note="difference paid")
    return session.get(Order, ret.exchange_order_id)
