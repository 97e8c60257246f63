"""Manifests: the labels of one carrier account and warehouse handed over at the end of the
day. USPS gets a SCAN form and FedEx Ground an end-of-day close through their APIs; every
other carrier (and FedEx's non-Ground services) a PDF manifest of ours. A shipment is on one
manifest at most.

A carrier's close is an effect on the outside world, so it goes through the outbox (topic
``carrier.manifest``, like ``carrier.void``): ``close`` records the manifest pending, its
shipments taken (a second close does not hand them over again), and the send pass asks the
carrier; its answer closes it with the reference and the document. What "once" means here:
- FedEx's Ground close is repeatable (it closes every Ground label still open on the
  account): a close whose answer was lost is simply sent again; the Ground shipments of the
  manifest are closed by one attempt or the other, the manifest keeps the confirmation of
  the attempt that answered.
- USPS has no lookup of a SCAN form: the form is asked once (no session retry), and one whose
  outcome is unknown is never repeated by itself (``unknown_outcome="hold"``): the message is
  uncertain, a person checks USPS and retries or discards it.
- A close the carrier refuses (the message dead) makes the manifest ``refused`` and releases
  its shipments: they wait for the next close.
"""
from __future__ import annotations

import io
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import carriers as carrier_connectors
from connectors.carriers.base import CarrierError, CarrierOutcomeUnknown

from app.models import CarrierAccount, Manifest, OutboxMessage, Shipment, Warehouse
from app.models.base import utcnow
from app.services.core import domain_events, events, outbox
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.outbox import Message, OutcomeUnknown, PermanentError, RetryableError, Sent
from app.services.core.transaction import transactional, write_intent
from app.services.fulfilment import carriers
from app.services.fulfilment.labels import _ship_from

TOPIC = "carrier.manifest"
SENDER = Actor.job("send_outbox")

# a label bought and not yet moving far: what a manifest hands over
OPEN = ("label_created", "pre_transit", "in_transit", "unknown")


def _unmanifested(session: Session, account_id: int, warehouse_id: int) -> list[Shipment]:
    return list(session.scalars(select(Shipment).where(
        Shipment.carrier_account_id == account_id, Shipment.warehouse_id == warehouse_id,
        Shipment.manifest_id.is_(None), Shipment.tracking_number.is_not(None), Shipment.status.in_(OPEN))
        .order_by(Shipment.id).with_for_update()))  # two closes at once: one takes them


def local_pdf(account: CarrierAccount, warehouse: Warehouse, rows: list[Shipment], when: datetime) -> bytes:
    """Our manifest: one line per shipment (tracking number, order, service, packages, weight)."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    top = A4[1] - 20 * mm

    def header():
        page.setFont("Helvetica-Bold", 13)
        page.drawString(15 * mm, top, f"Manifest — {account.name} ({account.code}) — {warehouse.name}")
        page.setFont("Helvetica", 9)
        page.drawString(15 * mm, top - 6 * mm, f"{when:%Y-%m-%d %H:%M} UTC · {len(rows)} shipment(s)")

    header()
    y = top - 16 * mm
    for shipment in rows:
        if y < 20 * mm:
            page.showPage()
            header()
            y = top - 16 * mm
        weight = sum((p.weight_kg for p in shipment.packages), 0)
        page.drawString(15 * mm, y, f"{shipment.tracking_number}   order {shipment.order.order_number}   "
                                    f"{shipment.service or ''}   {len(shipment.packages)} pkg   {weight} kg")
        y -= 5 * mm
    page.showPage()
    page.save()
    return out.getvalue()


@transactional
def close(session: Session, account_code: str, warehouse_id: int, actor: Actor) -> Manifest:
    """Close the day for one carrier account and warehouse: our own manifest at once, or the
    carrier's asked through the outbox (the manifest pending until it answers)."""
    account = carriers.get_account(session, account_code)
    warehouse = session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise ValidationFailed.field("warehouse_id", f"warehouse {warehouse_id} not found")
    rows = _unmanifested(session, account.id, warehouse_id)
    if not rows:
        raise ValidationFailed.field("carrier", f"no shipment of {account.code} from {warehouse.name} waits for a manifest")
    ground = carrier_connectors.module("fedex").GROUND
    if account.kind == "usps":
        kind = "scan_form"
    elif account.kind == "fedex" and any(s.service in ground for s in rows):
        kind, rows = "ground_close", [s for s in rows if s.service in ground]  # the rest: our own, later
    else:
        return _record(session, account, warehouse, "local", rows, actor)
    manifest = _record(session, account, warehouse, kind, rows, actor, pending=True)
    # no group: one manifest's close waiting for a person holds no other back
    outbox.enqueue(session, TOPIC, account.code, {"manifest_id": manifest.id}, dedupe_key=f"{TOPIC}:{manifest.id}")
    return manifest


def _record(session: Session, account: CarrierAccount, warehouse: Warehouse, kind: str, rows: list[Shipment],
            actor: Actor, *, pending: bool = False) -> Manifest:
    now = utcnow()
    manifest = Manifest(carrier_account_id=account.id, warehouse_id=warehouse.id, kind=kind,
                        status="pending" if pending else "closed", reference=None,
                        tracking_numbers=[s.tracking_number for s in rows], shipment_count=len(rows),
                        document=None if pending else local_pdf(account, warehouse, rows, now),
                        created_by=actor.label, created_at=now)
    session.add(manifest)
    session.flush()
    for shipment in rows:
        shipment.manifest_id = manifest.id
        if pending:
            events.order_event(session, shipment.order, actor, "manifest_requested",
                               f"Shipment {shipment.tracking_number} put on {account.code} manifest {manifest.id} "
                               f"({kind.replace('_', ' ')}), sent to the carrier",
                               {"shipment_id": shipment.id, "manifest_id": manifest.id})
        else:
            _manifested(session, shipment, account, manifest, actor)
    return manifest


def _manifested(session: Session, shipment: Shipment, account: CarrierAccount, manifest: Manifest,
                actor: Actor) -> None:
    events.order_event(session, shipment.order, actor, "manifested",
                       f"Shipment {shipment.tracking_number} handed over on {account.code} manifest "
                       f"{manifest.reference or manifest.id} ({manifest.kind.replace('_', ' ')})",
                       {"shipment_id": shipment.id, "manifest_id": manifest.id})


# --- the outbox topic ---------------------------------------------------------------------------

def _send(message: Message) -> Sent:
    """``carrier.manifest``: ask the carrier for the pending manifest's close, then record it."""
    from sqlalchemy.orm import Session as PlainSession

    from app.extensions import db

    manifest_id = message.payload["manifest_id"]
    with PlainSession(db.engine) as session:
        manifest = session.get(Manifest, manifest_id)
        if manifest.status != "pending":
            return Sent(remote_id=manifest.reference, note=f"the manifest is {manifest.status} already")
        kind, numbers = manifest.kind, list(manifest.tracking_numbers)
        client, ship_from = carriers.client(manifest.carrier_account), _ship_from(manifest.warehouse)
    today = utcnow().date().isoformat()
    try:
        answer = client.scan_form(numbers, ship_from, today) if kind == "scan_form" else client.close_ground(today)
    except CarrierOutcomeUnknown as exc:
        raise OutcomeUnknown(exc.message) from None
    except CarrierError as exc:
        raise (RetryableError if exc.retryable else PermanentError)(exc.message,
                                                                   retry_after=exc.retry_after) from None
    with write_intent(), PlainSession(db.engine) as session, session.begin():
        _closed(session, manifest_id, answer)
    return Sent(remote_id=answer["reference"])


def _closed(session: Session, manifest_id: int, answer: dict) -> None:
    manifest = session.get(Manifest, manifest_id, with_for_update=True)
    if manifest.status != "pending":
        return
    manifest.status, manifest.reference = "closed", answer["reference"] or None
    manifest.document = (answer["documents"] or [None])[0]
    rows = list(session.scalars(select(Shipment).where(Shipment.manifest_id == manifest.id).order_by(Shipment.id)))
    if manifest.document is None:
        manifest.document = local_pdf(manifest.carrier_account, manifest.warehouse, rows, utcnow())
    for shipment in rows:
        _manifested(session, shipment, manifest.carrier_account, manifest, SENDER)


def _released(session: Session, payload: dict) -> None:
    """``outbox.dead`` for a manifest: the carrier refused the close, so nothing was handed
    over; its shipments wait for the next close."""
    if payload.get("topic") != TOPIC:
        return
    message = session.get(OutboxMessage, payload["outbox_id"])
    manifest = session.get(Manifest, message.payload["manifest_id"], with_for_update=True)
    if manifest.status != "pending":
        return
    manifest.status, manifest.shipment_count = "refused", 0  # tracking_numbers: what was asked
    for shipment in session.scalars(select(Shipment).where(Shipment.manifest_id == manifest.id)):
        shipment.manifest_id = None
        events.order_event(session, shipment.order, SENDER, "manifest_refused",
                           f"{manifest.carrier_account.code} refused manifest {manifest.id}: "
                           f"{payload.get('error')}"[:1000], {"shipment_id": shipment.id, "manifest_id": manifest.id})


def _uncertain(session: Session, message: Message) -> None:
    """A SCAN form whose answer was lost: said on each of its orders, for the person who checks."""
    manifest = session.get(Manifest, message.payload["manifest_id"])
    for shipment in session.scalars(select(Shipment).where(Shipment.manifest_id == manifest.id)):
        events.order_event(session, shipment.order, SENDER, "manifest_uncertain",
                           f"{manifest.carrier_account.code} did not answer manifest {manifest.id}: check the "
                           f"carrier, then retry or discard outbox message #{message.id}",
                           {"shipment_id": shipment.id, "manifest_id": manifest.id})


def register() -> None:
    outbox.register(TOPIC, _send, unknown_outcome="hold", on_uncertain=_uncertain)
    domain_events.subscribe("outbox.dead", _released)


def get(session: Session, manifest_id: int) -> Manifest:
    manifest = session.get(Manifest, manifest_id)
    if manifest is None:
        raise NotFound(f"Manifest {manifest_id} not found")
    return manifest
