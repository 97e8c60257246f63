"""The delivery exceptions queue (Support): a failed attempt, an address problem, damage, a
delay or a return to sender opens one item per shipment and problem, with the carrier's code
and words; Support notes that the customer was contacted, corrects the address (no carrier
here offers a redirect through its API yet: the correction is noted for the carrier's
call), and resolves it. A delivery resolves what is still open on that shipment. Items that
wait too long raise an alert (notify.alerts ``check``)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from app.models import DeliveryException, Shipment
from app.models.base import utcnow
from app.services.core import audit, events, validation
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, NotFound
from app.services.core.transaction import transactional

ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "region", "postcode", "country", "phone")


def open_item(session: Session, shipment: Shipment, problem: str, carrier_code: str | None,
              description: str | None, occurred_at) -> DeliveryException | None:
    opened = open_many(session, [(shipment, problem, carrier_code, description, occurred_at)])
    return opened[0] if opened else None


def open_many(session: Session, wanted: list[tuple]) -> list[DeliveryException]:
    """Open the items ``wanted`` = [(shipment, problem, carrier code, description, occurred
    at)], in that order, each unless one is open for its shipment and problem already (read
    in one query for all of them). No commit."""
    if not wanted:
        return []
    shipment_ids = {shipment.id for shipment, *_ in wanted}
    already = set(session.execute(select(DeliveryException.shipment_id, DeliveryException.problem).where(
        DeliveryException.shipment_id.in_(shipment_ids), DeliveryException.status == "open")))
    opened, now = [], utcnow()
    for shipment, problem, carrier_code, description, occurred_at in wanted:
        if (shipment.id, problem) in already:
            continue
        already.add((shipment.id, problem))
        item = DeliveryException(shipment_id=shipment.id, order_id=shipment.order_id, problem=problem,
                                 status="open", carrier_code=carrier_code, description=description,
                                 occurred_at=occurred_at, opened_at=now, notes=[])
        session.add(item)
        events.order_event(session, shipment.order_id, Actor.job("poll_tracking"), "delivery_exception",
                           f"Delivery exception ({problem}): {description or carrier_code}"[:1000],
                           {"shipment_id": shipment.id, "carrier_code": carrier_code})
        opened.append(item)
    return opened


LATE_AFTER = timedelta(hours=24)  # past the promised day's end, a parcel is late


def late(shipment: Shipment, now) -> tuple | None:
    """The item ``open_many`` opens for a parcel late past its promise, or None."""
    if shipment.promised_delivery is None or now <= shipment.promised_delivery + LATE_AFTER:
        return None
    return (shipment, "delay", None,
            f"Not delivered by {shipment.promised_delivery:%Y-%m-%d}, the carrier's first estimate", now)


def resolve_delivered(session: Session, shipment_ids) -> None:
    """What is still open on these delivered shipments is resolved (one statement)."""
    ids = sorted(shipment_ids)
    if ids:
        session.execute(update(DeliveryException).where(
            DeliveryException.shipment_id.in_(ids), DeliveryException.status == "open").values(
            status="resolved", resolved_at=utcnow(), resolved_by="job:poll_tracking", resolution="delivered"))


def queue(session: Session, *, status: str | None = "open", limit: int = 200) -> list[DeliveryException]:
    query = select(DeliveryException).options(joinedload(DeliveryException.order),
                                              joinedload(DeliveryException.shipment))
    if status:
        query = query.where(DeliveryException.status == status)
    return list(session.scalars(query.order_by(DeliveryException.opened_at).limit(limit)))


def _get(session: Session, pk, *, open_only: bool = True) -> DeliveryException:
    try:
        item = session.get(DeliveryException, int(pk), with_for_update=True)
    except (TypeError, ValueError):
        item = None
    if item is None:
        raise NotFound(f"Delivery exception {pk} not found")
    if open_only and item.status != "open":
        raise Conflict(f"Delivery exception #{item.id} was resolved by {item.resolved_by}")
    return item


def _note(item: DeliveryException, actor: Actor, kind: str, text: str) -> None:
    item.notes = [*(item.notes or []), {"at": utcnow().isoformat(), "by": actor.label, "kind": kind, "text": text}]


@transactional
def contacted(session: Session, pk, actor: Actor, note: str | None = None) -> DeliveryException:
    item = _get(session, pk)
    text = validation.text(note, "note", max_length=2000, required=False) or "Customer contacted"
    item.contacted_at, item.contacted_by = utcnow(), actor.label
    _note(item, actor, "contacted", text)
    events.order_event(session, item.order, actor, "delivery_exception_contacted", text,
                       {"delivery_exception_id": item.id})
    return item


@transactional
def correct_address(session: Session, pk, actor: Actor, address: dict) -> DeliveryException:
    """Note the corrected address for the carrier (no redirect API here yet)."""
    item = _get(session, pk)
    if not isinstance(address, dict) or not any(address.get(k) for k in ADDRESS_FIELDS):
        from app.services.core.errors import ValidationFailed

        raise ValidationFailed.field("address", "give the corrected address (line1, city, postcode, country)")
    shown = ", ".join(str(validation.text(address.get(k), k, max_length=255, required=False) or "")
                      for k in ADDRESS_FIELDS if address.get(k))
    _note(item, actor, "address", f"Corrected address for the carrier: {shown}")
    events.order_event(session, item.order, actor, "delivery_address_corrected",
                       f"Corrected delivery address noted for the carrier (no redirect API): {shown}"[:1000],
                       {"delivery_exception_id": item.id, "address": {k: address.get(k) for k in ADDRESS_FIELDS}})
    audit.record(session, actor, "delivery_exception", item.id, "correct_address", {"address": shown})
    return item


@transactional
def resolve(session: Session, pk, actor: Actor, resolution: str | None = None) -> DeliveryException:
    item = _get(session, pk)
    item.status, item.resolved_at, item.resolved_by = "resolved", utcnow(), actor.label
    item.resolution = validation.text(resolution, "resolution", max_length=2000, required=False) or "resolved"
    events.order_event(session, item.order, actor, "delivery_exception_resolved",
                       f"Delivery exception ({item.problem}) resolved: {item.resolution}",
                       {"delivery_exception_id": item.id})
    return item


def waiting_longer_than(session: Session, hours: int) -> list[DeliveryException]:
    since = utcnow() - timedelta(hours=hours)
    return list(session.scalars(select(DeliveryException).where(
        DeliveryException.status == "open", DeliveryException.opened_at <= since)))
