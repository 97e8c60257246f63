"""Manifests: the labels of one carrier account and warehouse handed over at the end of the
day. USPS gets a SCAN form and FedEx Ground an end-of-day close through their APIs; every
other carrier (and FedEx's non-Ground services) a PDF manifest of ours. A shipment is on one
manifest at most.

Like a label purchase, the carrier call happens between two transactions (no lock is held
while it answers) and a person waits for its document; closing twice finds nothing new.
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
from connectors.carriers.base import CarrierError

from app.models import CarrierAccount, Manifest, Shipment, Warehouse
from app.models.base import utcnow
from app.services.core import events
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.fulfilment import carriers
from app.services.fulfilment.labels import CarrierUnavailable, _ship_from

# a label bought and not yet moving far: what a manifest hands over
OPEN = ("label_created", "pre_transit", "in_transit", "unknown")


def _unmanifested(session: Session, account_id: int, warehouse_id: int) -> list[Shipment]:
    return list(session.scalars(select(Shipment).where(
        Shipment.carrier_account_id == account_id, Shipment.warehouse_id == warehouse_id,
        Shipment.manifest_id.is_(None), Shipment.tracking_number.is_not(None), Shipment.status.in_(OPEN))
        .order_by(Shipment.id)))


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


def close(session: Session, account_code: str, warehouse_id: int, actor: Actor) -> Manifest:
    """Close the day for one carrier account and warehouse (spans transactions: never inside one)."""
    account = carriers.get_account(session, account_code)
    warehouse = session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise ValidationFailed.field("warehouse_id", f"warehouse {warehouse_id} not found")
    rows = _unmanifested(session, account.id, warehouse_id)
    if not rows:
        raise ValidationFailed.field("carrier", f"no shipment of {account.code} from {warehouse.name} waits for a manifest")
    numbers = [s.tracking_number for s in rows]
    kind, reference, document, closed = "local", None, None, numbers
    ground = carrier_connectors.module("fedex").GROUND
    if account.kind == "usps" or (account.kind == "fedex" and any(s.service in ground for s in rows)):
        client, ship_from, today = carriers.client(account), _ship_from(warehouse), utcnow().date().isoformat()
        session.rollback()
        try:
            answer = (client.scan_form(numbers, ship_from, today) if account.kind == "usps"
                      else client.close_ground(today))
        except CarrierError as exc:
            if exc.retryable:
                raise CarrierUnavailable(f"{exc.message} — nothing was closed; try again") from None
            raise ValidationFailed.field("carrier", exc.message) from None
        kind = "scan_form" if account.kind == "usps" else "ground_close"
        reference, document = answer["reference"], (answer["documents"] or [None])[0]
        if account.kind == "fedex":  # the close covers Ground only: the rest stay for our own manifest
            closed = [n for n in numbers if n in set(answer["numbers"])]
    return _record(session, account.id, warehouse_id, kind, reference, document, closed, actor)


@transactional
def _record(session: Session, account_id: int, warehouse_id: int, kind: str, reference, document, numbers: list[str],
            actor: Actor) -> Manifest:
    account, warehouse = session.get(CarrierAccount, account_id), session.get(Warehouse, warehouse_id)
    rows = [s for s in _unmanifested(session, account_id, warehouse_id) if s.tracking_number in set(numbers)]
    now = utcnow()
    if document is None:
        document = local_pdf(account, warehouse, rows, now)
    manifest = Manifest(carrier_account_id=account_id, warehouse_id=warehouse_id, kind=kind, reference=reference,
                        tracking_numbers=[s.tracking_number for s in rows], shipment_count=len(rows),
                        document=document, created_by=actor.label, created_at=now)
    session.add(manifest)
    session.flush()
    for shipment in rows:
        shipment.manifest_id = manifest.id
        events.order_event(session, shipment.order, actor, "manifested",
                           f"Shipment {shipment.tracking_number} handed over on {account.code} manifest "
                           f"{reference or manifest.id} ({kind.replace('_', ' ')})", {"shipment_id": shipment.id,
                                                                                     "manifest_id": manifest.id})
    return manifest


def get(session: Session, manifest_id: int) -> Manifest:
    manifest = session.get(Manifest, manifest_id)
    if manifest is None:
        raise NotFound(f"Manifest {manifest_id} not found")
    return manifest
