"""Labels sent to the warehouse's network printer (DESIGN.md "Fulfilment": "ZPL sent to a
configured printer address or downloaded"). A ZPL label bought for a warehouse with a
``printer_address`` prints by itself; anyone who may print labels can send one again. Each
print job is an outbox message (``label.print``, the printer's address its target): a
printer that is off or out of reach is tried again with the outbox's backoff, and its
queue shows on the outbox page. At least once: a job whose connection dropped after the
last byte may print twice (a duplicate label is voided by nobody: it is the same label).
PDF labels print from the browser (their download), never here.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from connectors.printer import PrinterUnreachable, send_raw

from app.models import Shipment, ShipmentLabel, Warehouse
from app.services.core import events, outbox
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, NotFound
from app.services.core.outbox import Message, RetryableError, Sent
from app.services.core.transaction import transactional

TOPIC = "label.print"


def printer_of(session: Session, shipment: Shipment) -> str | None:
    warehouse = session.get(Warehouse, shipment.warehouse_id) if shipment.warehouse_id else None
    return warehouse.printer_address if warehouse is not None else None


def _enqueue(session: Session, shipment: Shipment, label: ShipmentLabel, printer: str) -> int:
    return outbox.enqueue(session, TOPIC, printer, {"label_id": label.id, "shipment_id": shipment.id},
                          group_key=f"printer:{printer}", order_id=shipment.order_id)


def on_label_bought(session: Session, shipment: Shipment, label: ShipmentLabel) -> None:
    """In the purchase's transaction: a ZPL label goes to the warehouse's printer, if it has one."""
    printer = printer_of(session, shipment)
    if label.format != "ZPL" or not printer:
        return
    session.flush()  # the label's id, for the job
    _enqueue(session, shipment, label, printer)


@transactional
def send_to_printer(session: Session, shipment_id: int, actor: Actor) -> int:
    """Print the shipment's current label (again) on its warehouse's printer; returns the job's
    outbox id. Refused for a PDF label or a warehouse without a printer."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found")
    label = next((l for l in sorted(shipment.labels, key=lambda l: l.id, reverse=True) if l.voided_at is None), None)
    if label is None:
        raise Conflict(f"Shipment {shipment_id} has no label to print")
    if label.format != "ZPL":
        raise Conflict(f"Label {label.tracking_number} is a {label.format}: download it and print it from the browser")
    printer = printer_of(session, shipment)
    if not printer:
        raise Conflict("This warehouse has no label printer: set its printer address, or download the label")
    job = _enqueue(session, shipment, label, printer)
    events.order_event(session, shipment.order, actor, "label_reprinted",
                       f"Label {label.tracking_number} sent to the printer {printer}",
                       {"shipment_id": shipment.id, "outbox_id": job})
    return job


def _print_handler(message: Message) -> Sent:
    """``label.print``: the label's bytes to the printer named by the message's target."""
    from sqlalchemy.orm import Session as PlainSession

    from app.extensions import db

    with PlainSession(db.engine) as session:
        label = session.get(ShipmentLabel, message.payload["label_id"])
        if label is None or label.voided_at is not None:
            return Sent(note="label voided or gone: not printed")
        document = bytes(label.data)
    try:
        send_raw(message.target, document)
    except PrinterUnreachable as exc:
        raise RetryableError(exc.message) from None
    return Sent(note=f"{len(document)} bytes to {message.target}")


def register() -> None:
    outbox.register(TOPIC, _print_handler)
