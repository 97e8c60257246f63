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

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connectors import carriers as carrier_connectors
from connectors.carriers.base import CarrierError, TrackingUpdate, merge

from app.models import CarrierAccount, Order, Return, Shipment, ShipmentPackage, TrackingEvent
from app.models.base import utcnow
from app.models.fulfillment import SHIPMENT_CLOSED
from app.services.core import batch_writes, domain_events, events, settings
from app.services.core.actor import Actor
from app.services.core.transaction import transactional
from app.services.fulfilment import carriers, exceptions
from app.services.orders import actions as orders_actions

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


# --- recording --------------------------------------------------------------------------------
# A batch of carrier answers (a poll's, or one webhook's) is recorded set by set, not shipment by
# shipment: the shipments read and locked in one query, every new event in one insert, the
# latest event of each in one query, the shipments written in one UPDATE, the order events in
# one insert, the mails and webhooks in one outbox insert. Statements per batch, not per update.

SHIPMENT_COLUMNS = frozenset({"tracked_at", "next_track_at", "status", "last_event_at", "delivered_at",
                              "promised_delivery"})
ORDER_COLUMNS = frozenset({"status", "fulfillment_status"})
NOT_FOLLOWED = ("voided", "label_uncertain")  # their events are kept, their status is ours
EVENT_KEY = ("carrier", "tracking_number", "occurred_at", "carrier_code")  # an event is stored once


@dataclass
class _Parcel:
    """A shipment of the batch, the updates that name it (a multi-piece shipment: one per
    package number) and what this batch stored for it."""
    shipment: Shipment
    updates: list[TrackingUpdate]
    before: str
    new: list = field(default_factory=list)  # rows of the events stored now, by id
    latest: object = None  # its latest carrier event after them (a row)

    @property
    def followed(self) -> bool:
        return self.before not in NOT_FOLLOWED


@transactional
def record(session: Session, account_id: int, update: TrackingUpdate, *, source: str,
           actor: Actor = ACTOR) -> int:
    """Store one carrier update for the shipment it names; returns how many events were new
    (0 for a number we do not ship, or an update already stored)."""
    return _record(session, session.get(CarrierAccount, account_id), [update], source, actor)


@transactional
def record_batch(session: Session, account_id: int, updates: list[TrackingUpdate], *, source: str,
                 actor: Actor = ACTOR) -> int:
    """Several updates of one account in one transaction (a poll's batch). Same effects as
    ``record`` on each, except that a shipment named twice changes status once, to where
    its events lead."""
    return _record(session, session.get(CarrierAccount, account_id), updates, source, actor)


def _record(session: Session, account: CarrierAccount, updates: list[TrackingUpdate], source: str,
            actor: Actor) -> int:
    parcels = _parcels(session, account, updates, actor)
    if not parcels:
        return 0
    with events.batched(session, []):
        stored = _insert_events(session, account.kind, parcels, source)
        followed = [p for p in parcels if p.followed]
        _read_latest(session, [p for p in followed if p.new])
        now = utcnow()
        _move_shipments(session, parcels, followed, now)
        moved = [p for p in followed if p.latest is not None and p.shipment.status != p.before]
        _open_exceptions(session, followed, now)
        _tell(session, moved, actor)
    return stored


def _parcels(session: Session, account: CarrierAccount, updates: list[TrackingUpdate],
             actor: Actor) -> list[_Parcel]:
    """The batch's shipments, locked, each with its updates (a number twice: merged); a
    number that names no shipment may be a return's (``_return_parcel``)."""
    merged: dict[str, TrackingUpdate] = {}
    for update in updates:
        merge(merged, update)
    found = _shipments_for(session, account, list(merged))
    parcels: dict[int, _Parcel] = {}
    for number, update in merged.items():
        shipment = found.get(number)
        if shipment is None:
            _return_parcel(session, account, update, actor)
            continue
        parcel = parcels.setdefault(shipment.id, _Parcel(shipment, [], shipment.status))
        parcel.updates.append(update)
    return list(parcels.values())


def _shipments_for(session: Session, account: CarrierAccount, numbers: list[str]) -> dict[str, Shipment]:
    """{number: shipment} locked, in id order (two workers lock in one order); a number not on
    a shipment may be a package's of a multi-piece shipment."""
    found = {s.tracking_number: s for s in session.scalars(
        select(Shipment).where(Shipment.carrier_account_id == account.id, Shipment.tracking_number.in_(numbers))
        .order_by(Shipment.id).with_for_update())}
    missing = [n for n in numbers if n not in found]
    if missing:
        for number, shipment in session.execute(
                select(ShipmentPackage.tracking_number, Shipment).join(ShipmentPackage.shipment)
                .where(Shipment.carrier_account_id == account.id, ShipmentPackage.tracking_number.in_(missing))
                .order_by(Shipment.id).with_for_update(of=Shipment)):
            found.setdefault(number, shipment)
    return found


def _insert_events(session: Session, carrier: str, parcels: list[_Parcel], source: str) -> int:
    """Insert the batch's events not stored yet, in one statement; each parcel gets the rows
    of its new ones (a repeat inserts nothing). Returns how many were new."""
    now, rows = utcnow(), {}
    for parcel in parcels:
        for update in parcel.updates:
            for event in update.events:  # the same event twice: once
                code = event.carrier_code[:32]
                rows.setdefault((update.tracking_number, event.occurred_at, code), dict(
                    shipment_id=parcel.shipment.id, occurred_at=event.occurred_at, status=event.status,
                    description=event.description[:2000] or None, location=(event.location or "")[:255] or None,
                    carrier=carrier, tracking_number=update.tracking_number, carrier_code=code,
                    problem=event.problem, source=source, received_at=now))
    if not rows:
        return 0
    by_id = {parcel.shipment.id: parcel for parcel in parcels}
    new = sorted(batch_writes.insert_many(
        session, TrackingEvent.__table__, list(rows.values()), conflict=EVENT_KEY,
        returning=("id", "shipment_id", "occurred_at", "status", "carrier_code", "description", "problem")),
        key=lambda row: row.id)
    for row in new:
        by_id[row.shipment_id].new.append(row)
    return len(new)


def _read_latest(session: Session, parcels: list[_Parcel]) -> None:
    """Each parcel's latest carrier event by time (ties: the later stored), in one query."""
    if not parcels:
        return
    rank = func.row_number().over(partition_by=TrackingEvent.shipment_id,
                                  order_by=(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc()))
    ranked = (select(TrackingEvent.shipment_id, TrackingEvent.status, TrackingEvent.occurred_at,
                     TrackingEvent.description, rank.label("rank"))
              .where(TrackingEvent.shipment_id.in_([p.shipment.id for p in parcels]),
                     TrackingEvent.carrier.is_not(None)).subquery())
    latest = {row.shipment_id: row for row in session.execute(select(ranked).where(ranked.c.rank == 1))}
    for parcel in parcels:
        parcel.latest = latest.get(parcel.shipment.id)


def _move_shipments(session: Session, parcels: list[_Parcel], followed: list[_Parcel], now: datetime) -> None:
    """Status from the latest event (an ``unknown`` one changes nothing), the first estimate
    as the promise, the next look; written in one statement."""
    minutes = settings.get(session, "tracking_poll_minutes") if followed else 0
    for parcel in parcels:
        parcel.shipment.tracked_at = now
    for parcel in followed:
        shipment, latest = parcel.shipment, parcel.latest
        if shipment.promised_delivery is None:  # the first estimate is the promise
            shipment.promised_delivery = next((u.estimated_delivery for u in parcel.updates
                                               if u.estimated_delivery is not None), None)
        if latest is not None and latest.status != "unknown":
            shipment.status, shipment.last_event_at = latest.status, latest.occurred_at
            if latest.status == "delivered":
                shipment.delivered_at = latest.occurred_at
        shipment.next_track_at = None if shipment.status in NOT_TRACKED else next_look(
            now, shipment.last_event_at, minutes)
    batch_writes.write_column_changes(session, [p.shipment for p in parcels], SHIPMENT_COLUMNS)


def _open_exceptions(session: Session, followed: list[_Parcel], now: datetime) -> None:
    """A parcel late past its promise, and each new event with a problem: the queue."""
    wanted = []
    for parcel in followed:
        shipment = parcel.shipment
        if shipment.status not in NOT_TRACKED and (late := exceptions.late(shipment, now)):
            wanted.append(late)
        wanted += [(shipment, e.problem, e.carrier_code, e.description, e.occurred_at)
                   for e in parcel.new if e.problem]
    exceptions.open_many(session, wanted)


def _tell(session: Session, moved: list[_Parcel], actor: Actor) -> None:
    """Each status change on its order's timeline and published (mails, webhooks); what a
    delivery settles: its open exceptions, and the order once all its parcels arrived."""
    if not moved:
        return
    for parcel in moved:
        shipment = parcel.shipment
        events.tracking_update(session, shipment.order_id, actor, shipment, shipment.status,
                               parcel.latest.description)
    domain_events.publish_many(session, "shipment.tracking_updated", [
        {"shipment_id": p.shipment.id, "order_id": p.shipment.order_id, "status": p.shipment.status, "actor": actor}
        for p in moved])
    delivered = [p.shipment for p in moved if p.shipment.status == "delivered"]
    if delivered:
        exceptions.resolve_delivered(session, [s.id for s in delivered])
        _orders_delivered(session, {s.order_id for s in delivered}, actor)


def _orders_delivered(session: Session, order_ids: set[int], actor: Actor) -> None:
    """A shipped order whose every live shipment is delivered is delivered (the shipments'
    statuses read in one query, those orders in one, written in one statement)."""
    statuses: dict[int, list[str]] = {}
    for order_id, status in session.execute(select(Shipment.order_id, Shipment.status).where(
            Shipment.order_id.in_(order_ids), Shipment.status.not_in(("voided", "cancelled")))):
        statuses.setdefault(order_id, []).append(status)
    arrived = [order_id for order_id, found in statuses.items() if all(status == "delivered" for status in found)]
    done = list(session.scalars(select(Order).where(Order.id.in_(arrived), Order.status == "shipped")
                                .order_by(Order.id))) if arrived else []
    for order in done:
        orders_actions.transition(session, order, "delivered", actor)
    batch_writes.write_column_changes(session, done, ORDER_COLUMNS)


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
        now, ret.parcel_event_at, settings.get(session, "tracking_poll_minutes"))
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


RECORD_BATCH = 250  # updates recorded in one transaction by a poll
PASS_LIMIT = 50_000  # numbers one pass asks at most (the next pass takes the rest)
AHEAD = 4 * RECORD_BATCH  # numbers asked but not yet taken by the recording, at most
FETCH_WORKERS = 3  # threads asking the carriers (three requests in flight) while the answers are recorded


def _record_all(session: Session, account_id: int, updates: list[TrackingUpdate]) -> int:
    """A batch in one transaction; should it fail, each update on its own (one bad update
    must not lose the others)."""
    try:
        return record_batch(session, account_id, updates, source="poll")
    except Exception:  # noqa: BLE001 — retried one by one below, where the failure shows
        log.exception("tracking: a batch of %d updates failed; recording them one by one", len(updates))
        return sum(record(session, account_id, update, source="poll") for update in updates)


def _fetched(jobs: list[tuple[int, list[str]]], clients: dict[int, list], workers: int):
    """(account id, chunk, updates or the CarrierError) for each job (account id, chunk),
    asked by ``workers`` threads ahead of the caller, worker n with ``clients[account][n]``
    (a client and its HTTP session serve one thread): the answers travel while the last
    ones are recorded, at most ``AHEAD`` numbers ahead of them. When the caller stops early,
    the workers stop at their next chunk."""
    import queue
    import threading

    answers: queue.Queue = queue.Queue()
    todo = iter(jobs)
    lock, stop = threading.Lock(), threading.Event()
    room = threading.Semaphore(AHEAD)  # the answers held in memory stay bounded

    def fetch(n: int):
        while not stop.is_set():
            with lock:
                job = next(todo, None)
            if job is None:
                return
            account_id, chunk = job
            for _ in chunk:
                while not room.acquire(timeout=1):
                    if stop.is_set():
                        return
            try:
                answers.put((account_id, chunk, clients[account_id][n].track(chunk)))
            except BaseException as exc:  # noqa: BLE001 — a CarrierError is the chunk's answer; others are raised
                answers.put((account_id, chunk, exc))

    for n in range(workers):
        threading.Thread(target=fetch, args=(n,), name=f"tracking-fetch-{n}", daemon=True).start()
    try:
        for _ in jobs:
            account_id, chunk, answer = answers.get()
            for _ in chunk:
                room.release()
            if isinstance(answer, BaseException) and not isinstance(answer, CarrierError):
                raise answer
            yield account_id, chunk, answer
    finally:
        stop.set()


def poll(session: Session, *, carrier: str | None = None, now: datetime | None = None) -> PollSummary:
    """One tracking pass (the ``poll_tracking`` job and ``flask oms track``): every carrier
    asked in the chunks it takes, by ``FETCH_WORKERS`` threads, the answers recorded by
    batches of ``RECORD_BATCH`` per account while the next ones are asked."""
    summary = PollSummary()
    jobs, clients, codes = [], {}, {}
    for account_id, numbers in due(session, carrier=carrier, now=now, limit=PASS_LIMIT).items():
        account = session.get(CarrierAccount, account_id)
        batch = max(1, carrier_connectors.module(account.kind).TRACK_BATCH)
        jobs += [(account_id, numbers[start:start + batch]) for start in range(0, len(numbers), batch)]
        clients[account_id] = [carriers.client(account) for _ in range(FETCH_WORKERS)]
        codes[account_id] = account.code
    session.rollback()
    pending: dict[int, list[TrackingUpdate]] = {}
    for account_id, chunk, answer in _fetched(jobs, clients, min(FETCH_WORKERS, len(jobs))):
        summary.asked += len(chunk)
        if isinstance(answer, CarrierError):
            summary.errors.append(f"{codes[account_id]}: {answer.message}")
            _postpone(session, account_id, chunk, answer.message)
            continue
        pending.setdefault(account_id, []).extend(answer)
        if len(pending[account_id]) >= RECORD_BATCH:
            summary.new_events += _record_all(session, account_id, pending.pop(account_id))
    for account_id, updates in pending.items():
        summary.new_events += _record_all(session, account_id, updates)
    return summary


def timeline(session: Session, shipment_id: int) -> list[TrackingEvent]:
    return list(session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id)
                                .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())))


def open_count(session: Session) -> int:
    return session.scalar(select(func.count(Shipment.id)).where(Shipment.status.not_in(NOT_TRACKED))) or 0
