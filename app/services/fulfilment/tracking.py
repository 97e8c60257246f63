"""Tracking: carrier updates (polled or pushed by a carrier's webhook, both through the
carrier's ``parse_tracking``) stored once per (carrier, number, time, code); the shipment's
status follows its latest event by time, not by arrival; every shipment of an order
delivered -> the order ``delivered``; each change publishes ``shipment.tracking_updated``.

``poll`` asks each carrier about its open shipments in the batches it allows, less often the
older a parcel's last event, never once it is delivered, returned or voided; the labels of
returns on their way to us (bought by return_labels) are asked in the same pass.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, scoped_session, selectinload

from connectors import carriers as carrier_connectors
from connectors.carriers.base import CarrierError, TrackingUpdate

from app.models import CarrierAccount, Return, Shipment, ShipmentPackage, TrackingEvent
from app.models.base import utcnow
from app.models.fulfillment import SHIPMENT_CLOSED
from app.services.core import domain_events, events, settings
from app.services.core.actor import Actor
from app.services.core.transaction import transactional
from app.services.fulfilment import carriers, exceptions
from app.services.orders import actions as orders

log = logging.getLogger(__name__)
ACTOR = Actor.job("poll_tracking")
NOT_TRACKED = SHIPMENT_CLOSED + ("label_uncertain",)
PARCEL_DONE = ("delivered", "returned_to_sender", "cancelled")  # a return parcel no longer polled
RETURN_TRACKED = ("authorized", "in_transit")  # a return received is in our hands
# (age of the last event, how many poll intervals until the next look)
SLOWER = ((timedelta(days=3), 12), (timedelta(days=1), 3))


def next_look(now: datetime, last_event_at: datetime | None, minutes: int) -> datetime:
    age = now - last_event_at if last_event_at else timedelta(0)
    factor = next((f for older, f in SLOWER if age > older), 1)
    return now + timedelta(minutes=minutes * factor)


def _shipment_for(session: Session, account: CarrierAccount, number: str) -> Shipment | None:
    shipment = session.scalar(select(Shipment).where(Shipment.carrier_account_id == account.id,
                                                     Shipment.tracking_number == number).with_for_update())
    if shipment is None:  # another piece of a multi-piece shipment
        shipment = session.scalar(select(Shipment).join(ShipmentPackage).where(
            Shipment.carrier_account_id == account.id, ShipmentPackage.tracking_number == number)
            .with_for_update())
    return shipment


def _insert_events(session: Session, shipment: Shipment, carrier: str, update: TrackingUpdate,
                   source: str) -> list[int]:
    """Insert the events not stored yet, in one statement; the ids of the new ones (a repeat
    inserts nothing)."""
    if not update.events:
        return []
    table = TrackingEvent.__table__
    dialect = session.get_bind().dialect.name
    make = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect, insert)
    now = utcnow()
    rows = {}
    for event in update.events:  # the same event twice in one answer: once
        key = (event.occurred_at, event.carrier_code[:32])
        rows.setdefault(key, dict(
            shipment_id=shipment.id, occurred_at=event.occurred_at, status=event.status,
            description=event.description[:2000] or None, location=(event.location or "")[:255] or None,
            carrier=carrier, tracking_number=update.tracking_number, carrier_code=event.carrier_code[:32],
            problem=event.problem, source=source, received_at=now))
    statement = make(table)
    if hasattr(statement, "on_conflict_do_nothing"):
        statement = statement.on_conflict_do_nothing(
            index_elements=["carrier", "tracking_number", "occurred_at", "carrier_code"])
    # executemany with RETURNING (SQLAlchemy's insertmanyvalues): one statement, compiled once
    return sorted(session.execute(statement.returning(table.c.id), list(rows.values())).scalars())


def _follow_latest(session: Session, shipment: Shipment) -> TrackingEvent | None:
    """The shipment's status is its latest carrier event's (by time; ties: the later stored)."""
    latest = session.scalar(select(TrackingEvent).where(
        TrackingEvent.shipment_id == shipment.id, TrackingEvent.carrier.is_not(None))
        .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc()).limit(1))
    if latest is None or latest.status == "unknown":
        return latest
    shipment.status, shipment.last_event_at = latest.status, latest.occurred_at
    if latest.status == "delivered":
        shipment.delivered_at = latest.occurred_at
    return latest


def _order_delivered(session: Session, shipment: Shipment, actor: Actor) -> None:
    order = shipment.order
    live = [s for s in order.shipments if s.status not in ("voided", "cancelled")]
    if order.status == "shipped" and live and all(s.status == "delivered" for s in live):
        orders.transition(session, order, "delivered", actor)


@transactional
def record(session: Session, account_id: int, update: TrackingUpdate, *, source: str,
           actor: Actor = ACTOR) -> int:
    """Store one carrier update for the shipment it names; returns how many events were new
    (0 for a number we do not ship, or an update already stored)."""
    return _record_one(session, session.get(CarrierAccount, account_id), update, source, actor)


@transactional
def record_batch(session: Session, account_id: int, updates: list[TrackingUpdate], *, source: str,
                 actor: Actor = ACTOR) -> int:
    """Several updates of one account in one transaction (a poll's batch): one commit, the
    order events in one insert, webhook subscriptions read once. Same effects as ``record``."""
    account = session.get(CarrierAccount, account_id)
    # the batch's shipments (and their orders) locked and read in one query, not one each
    found = {s.tracking_number: s for s in session.scalars(
        select(Shipment).where(Shipment.carrier_account_id == account.id,
                               Shipment.tracking_number.in_({u.tracking_number for u in updates}))
        .options(selectinload(Shipment.order)).with_for_update(of=Shipment))}
    with events.batched(session, []):
        return sum(_record_one(session, account, update, source, actor, found.get(update.tracking_number))
                   for update in updates)


def _poll_minutes(session: Session) -> int:
    """The poll interval, read once per transaction (a batch records many updates)."""
    real = session() if isinstance(session, scoped_session) else session
    transaction = real.get_transaction()
    cached = session.info.get("tracking_poll_minutes")
    if cached is None or cached[0] is not transaction:
        cached = (transaction, settings.get(session, "tracking_poll_minutes"))
        session.info["tracking_poll_minutes"] = cached
    return cached[1]


def _record_one(session: Session, account: CarrierAccount, update: TrackingUpdate, source: str,
                actor: Actor, shipment: Shipment | None = None) -> int:
    shipment = shipment or _shipment_for(session, account, update.tracking_number)
    if shipment is None:
        return _return_parcel(session, account, update, actor)
    now = utcnow()
    shipment.tracked_at = now
    new_ids = _insert_events(session, shipment, account.kind, update, source)
    if shipment.status in ("voided", "label_uncertain"):
        return len(new_ids)
    before = shipment.status
    if shipment.promised_delivery is None and update.estimated_delivery is not None:
        shipment.promised_delivery = update.estimated_delivery  # the first estimate is the promise
    latest = _follow_latest(session, shipment) if new_ids else None
    if shipment.status not in NOT_TRACKED:
        exceptions.open_if_late(session, shipment, now)
    shipment.next_track_at = None if shipment.status in NOT_TRACKED else next_look(
        now, shipment.last_event_at, _poll_minutes(session))
    if not new_ids:
        return 0
    if any(e.problem for e in update.events):  # only then are the new rows read back
        for event in session.scalars(select(TrackingEvent).where(TrackingEvent.id.in_(new_ids))):
            if event.problem:
                exceptions.open_for(session, shipment, event)
    if latest is not None and shipment.status != before:
        events.tracking_update(session, shipment.order, actor, shipment, shipment.status, latest.description)
        domain_events.publish(session, "shipment.tracking_updated",
                              {"shipment_id": shipment.id, "order_id": shipment.order_id,
                               "status": shipment.status, "actor": actor})
        if shipment.status == "delivered":
            exceptions.resolve_delivered(session, shipment)
            _order_delivered(session, shipment, actor)
    return len(new_ids)


def _return_parcel(session: Session, account: CarrierAccount, update: TrackingUpdate, actor: Actor) -> int:
    """An update for a return label we bought: the return keeps its parcel's latest status
    (by time, like a shipment) and when to look again; a new status is published as
    ``return.parcel_tracked`` for the returns package (in transit, delivered to the
    warehouse). Any other number is none of ours."""
    ret = session.scalar(select(Return).where(Return.label_tracking == update.tracking_number)
                         .with_for_update())
    if ret is None:
        log.info("tracking: %s %s is none of our shipments", account.code, update.tracking_number)
        return 0
    now = utcnow()
    latest = update.latest()
    status = latest.status if latest is not None else update.status
    at = latest.occurred_at if latest is not None else None
    before = ret.parcel_status
    newer = at is None or ret.parcel_event_at is None or at >= ret.parcel_event_at
    if status not in (None, "unknown") and newer:
        ret.parcel_status, ret.parcel_event_at = status, at or ret.parcel_event_at
    ret.next_track_at = None if ret.parcel_status in PARCEL_DONE else next_look(
        now, ret.parcel_event_at, _poll_minutes(session))
    if ret.parcel_status != before:
        domain_events.publish(session, "return.parcel_tracked",
                              {"return_id": ret.id, "status": ret.parcel_status, "actor": actor})
    return 0


# --- polling ---------------------------------------------------------------------------------

@dataclass
class PollSummary:
    asked: int = 0
    new_events: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.asked} asked, {self.new_events} new events, {len(self.errors)} errors"


def due(session: Session, *, carrier: str | None = None, now: datetime | None = None,
        limit: int = 1000) -> dict[int, list[str]]:
    """{account id: tracking numbers due a look}."""
    now = now or utcnow()
    query = (select(Shipment.carrier_account_id, Shipment.tracking_number).join(CarrierAccount)
             .where(CarrierAccount.enabled.is_(True), CarrierAccount.kind != "manual",
                    Shipment.tracking_number.is_not(None), Shipment.status.not_in(NOT_TRACKED),
                    or_(Shipment.next_track_at.is_(None), Shipment.next_track_at <= now))
             .order_by(Shipment.next_track_at.asc().nulls_first(), Shipment.id).limit(limit))
    if carrier:
        query = query.where(or_(CarrierAccount.code == carrier, CarrierAccount.kind == carrier))
    found: dict[int, list[str]] = {}
    for account_id, number in [*session.execute(query), *session.execute(_returns_due(carrier, now, limit))]:
        found.setdefault(account_id, []).append(number)
    return found


def _returns_due(carrier: str | None, now: datetime, limit: int):
    """The labels of returns on their way to us, asked like shipments (the return keeps the
    account's code)."""
    query = (select(CarrierAccount.id, Return.label_tracking)
             .join(CarrierAccount, CarrierAccount.code == Return.label_carrier)
             .where(CarrierAccount.enabled.is_(True), CarrierAccount.kind != "manual",
                    Return.label_tracking.is_not(None), Return.status.in_(RETURN_TRACKED),
                    or_(Return.parcel_status.is_(None), Return.parcel_status.not_in(PARCEL_DONE)),
                    or_(Return.next_track_at.is_(None), Return.next_track_at <= now))
             .order_by(Return.next_track_at.asc().nulls_first(), Return.id).limit(limit))
    if carrier:
        query = query.where(or_(CarrierAccount.code == carrier, CarrierAccount.kind == carrier))
    return query


@transactional
def _postpone(session: Session, account_id: int, numbers: list[str], error: str) -> None:
    """A carrier that failed is asked again later (one poll interval), not at every pass."""
    later = utcnow() + timedelta(minutes=settings.get(session, "tracking_poll_minutes"))
    for shipment in session.scalars(select(Shipment).where(Shipment.carrier_account_id == account_id,
                                                           Shipment.tracking_number.in_(numbers))):
        shipment.next_track_at = later
    code = select(CarrierAccount.code).where(CarrierAccount.id == account_id).scalar_subquery()
    for ret in session.scalars(select(Return).where(Return.label_carrier == code,
                                                    Return.label_tracking.in_(numbers))):
        ret.next_track_at = later


RECORD_BATCH = 50  # updates recorded in one transaction by a poll


def _record_all(session: Session, account_id: int, updates: list[TrackingUpdate]) -> int:
    """A batch in one transaction; should it fail, each update on its own (one bad update
    must not lose the others)."""
    try:
        return record_batch(session, account_id, updates, source="poll")
    except Exception:  # noqa: BLE001 — retried one by one below, where the failure shows
        log.exception("tracking: a batch of %d updates failed; recording them one by one", len(updates))
        return sum(record(session, account_id, update, source="poll") for update in updates)


def _fetched(client, numbers: list[str], batch: int):
    """(chunk, updates or the CarrierError) for each chunk, asked in a thread one chunk ahead
    of the caller: the next answers travel while the last ones are recorded."""
    import queue
    import threading

    ahead: queue.Queue = queue.Queue(maxsize=2)
    chunks = [numbers[start:start + batch] for start in range(0, len(numbers), batch)]

    def fetch():
        for chunk in chunks:
            try:
                ahead.put((chunk, client.track(chunk)))
            except CarrierError as exc:
                ahead.put((chunk, exc))
            except BaseException as exc:  # noqa: BLE001 — handed to the caller, who raises it
                ahead.put((chunk, exc))
                return

    threading.Thread(target=fetch, name="tracking-fetch", daemon=True).start()
    for _ in chunks:
        chunk, answer = ahead.get()
        if isinstance(answer, BaseException) and not isinstance(answer, CarrierError):
            raise answer
        yield chunk, answer


def poll(session: Session, *, carrier: str | None = None, now: datetime | None = None) -> PollSummary:
    """One tracking pass (the ``poll_tracking`` job and ``flask oms track``)."""
    summary = PollSummary()
    work = due(session, carrier=carrier, now=now)
    session.rollback()
    for account_id, numbers in work.items():
        account = session.get(CarrierAccount, account_id)
        batch = max(1, carrier_connectors.module(account.kind).TRACK_BATCH)
        client = carriers.client(account)
        session.rollback()
        pending: list[TrackingUpdate] = []
        for chunk, answer in _fetched(client, numbers, batch):
            summary.asked += len(chunk)
            if isinstance(answer, CarrierError):
                summary.errors.append(f"{account.code}: {answer.message}")
                _postpone(session, account_id, chunk, answer.message)
                continue
            pending += answer
            if len(pending) >= RECORD_BATCH:
                summary.new_events += _record_all(session, account_id, pending)
                pending = []
        if pending:
            summary.new_events += _record_all(session, account_id, pending)
    return summary


def timeline(session: Session, shipment_id: int) -> list[TrackingEvent]:
    return list(session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id)
                                .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())))


def open_count(session: Session) -> int:
    return session.scalar(select(func.count(Shipment.id)).where(Shipment.status.not_in(NOT_TRACKED))) or 0
