"""The one entry point after an order is stored: every path (poll, webhook, CSV, manual,
release of a hold) calls ``process``.

First pass of a new order: the ``on_import`` rules, then the risk checks (both may hold
it); the order is then marked screened, so that releasing a hold later goes straight on
to allocation instead of holding it again for the same reasons.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Order
from app.models.base import utcnow
from app.services.lifecycle import allocation
from app.services.orders import actions as orders
from app.services.lifecycle import risk
from app.services.lifecycle import rules
from app.services.core.actor import Actor


def process(session: Session, order: Order, actor: Actor) -> Order:
    """Move an order as far as it can go on its own. No commit (runs in the caller's
    transaction)."""
    process_many(session, [order], actor)
    return order


def process_many(session: Session, batch: list[Order], actor: Actor) -> None:
    """``process`` for several orders (a page of an import): each is screened on its own,
    then those that may take stock are allocated together, in the order given, as one
    allocation batch. No commit."""
    # Screening only reads what is stored (the orders themselves are, with their address
    # keys): the checks' queries need not flush each order's changes before the next one.
    unscreened = [order for order in batch if order.screened_at is None
                  and order.status == "new" and not order.fulfilled_by_channel]
    if unscreened:
        context = screening_context(session)
        with session.no_autoflush:
            for order in unscreened:
                screen(session, order, actor, context)
    to_allocate = []
    for order in batch:
        if order.status == "cancelled":
            continue
        if order.is_held:
            continue
        if order.fulfilled_by_channel:
            # the channel ships it (FBA): shipped once the channel says so, until then it
            # waits as new and takes no stock (importing follows the channel's status)
            if order.status == "new" and order.fulfillment_status == "fulfilled":
                orders.transition(session, order, "shipped", actor, "fulfilled by the channel")
            continue
        if order.status in allocation.ALLOCATABLE_STATUSES:
            to_allocate.append(order)
    allocation.allocate_batch(session, to_allocate, actor)


def screening_context(session: Session) -> dict:
    """The rules and risk settings screening reads: once for a batch of orders."""
    return {"rules": rules.enabled_rules(session, "on_import"),
            "risk": risk.load_context(session)}


def screen(session: Session, order: Order, actor: Actor, context: dict | None = None) -> None:
    """Rules (on_import), then risk checks; once per order."""
    context = context or screening_context(session)
    rules.evaluate(session, order, "on_import", actor, context["rules"])
    risk.check(session, order, actor, context["risk"])
    order.screened_at = utcnow()
