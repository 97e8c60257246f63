"""Domain events: how a lower domain sets off a higher one without importing it.

A service publishes an event in its own transaction (``publish(session, "stock.available",
{...})``); the packages above subscribe at app start (``subscribe``). Subscribers run at once,
in the publisher's transaction, in the order they registered: one that writes our database
writes in the same transaction, and an exception in it propagates to the publisher, whose
transaction is then rolled back whole (no half-done change). A subscriber that touches the
outside world writes an outbox message instead of calling out.

``core.events`` is something else: the order timeline.

A batch that causes many events of one name (a tracking pass: a few hundred shipments
moved) publishes them together (``publish_many``): a subscriber that registered a ``many``
form gets them in one call and writes them in one statement; the others get them one by one.

Event names (also the outbound webhook types, DESIGN.md "Interfaces added in round 2"):
``order.created``, ``order.status_changed``, ``order.hold_placed``, ``order.hold_released``,
``order.cancelled``, ``shipment.created``, ``shipment.tracking_updated``, ``return.changed``,
``refund.changed``, ``stock.changed``. Internal ones, which no webhook carries:
``stock.available`` (units became available to waiting orders), ``order.lines_changed``
(lines edited: reserve again), ``order.address_changed`` (shipping address edited), ``outbox.dead`` (an outbox message
failed for good: alerts).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from sqlalchemy.orm import Session

Subscriber = Callable[[Session, dict], Any]
ManySubscriber = Callable[[Session, list], Any]  # (session, [payload, ...])

PUBLIC_EVENTS = (
    "order.created", "order.status_changed", "order.hold_placed", "order.hold_released",
    "order.cancelled", "shipment.created", "shipment.tracking_updated", "return.changed",
    "refund.changed", "stock.changed",
)
INTERNAL_EVENTS = ("stock.available", "order.lines_changed", "order.address_changed",
                   "outbox.dead", "order.sla_changed", "return.label_ready",
                   "return.parcel_tracked")
KNOWN_EVENTS = frozenset(PUBLIC_EVENTS + INTERNAL_EVENTS)

_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
_many: dict[Subscriber, ManySubscriber] = {}


def subscribe(name: str, subscriber: Subscriber, *, many: ManySubscriber | None = None) -> None:
    """Register ``subscriber(session, payload)`` for an event, and optionally its ``many``
    form ``many(session, payloads)`` (same effects as calling it on each payload, in fewer
    statements). Registering the same function twice (an app created twice in one
    process) keeps one registration."""
    if name not in KNOWN_EVENTS:
        raise ValueError(f"unknown domain event {name!r}")
    if subscriber not in _subscribers[name]:
        _subscribers[name].append(subscriber)
    if many is not None:
        _many[subscriber] = many


def unsubscribe(name: str, subscriber: Subscriber) -> None:
    if subscriber in _subscribers.get(name, ()):
        _subscribers[name].remove(subscriber)


def publish(session: Session, name: str, payload: dict) -> None:
    """Run every subscriber of ``name`` now, in this transaction, in registration order."""
    if name not in KNOWN_EVENTS:
        raise ValueError(f"unknown domain event {name!r}")
    for subscriber in tuple(_subscribers.get(name, ())):
        subscriber(session, payload)


def publish_many(session: Session, name: str, payloads: list[dict]) -> None:
    """Publish several events of one name: each subscriber in registration order gets all of
    them (its ``many`` form at once, else one by one, in the order given)."""
    if name not in KNOWN_EVENTS:
        raise ValueError(f"unknown domain event {name!r}")
    if not payloads:
        return
    for subscriber in tuple(_subscribers.get(name, ())):
        many = _many.get(subscriber)
        if many is not None:
            many(session, payloads)
            continue
        for payload in payloads:
            subscriber(session, payload)


def subscribers(name: str) -> tuple[Subscriber, ...]:
    return tuple(_subscribers.get(name, ()))
