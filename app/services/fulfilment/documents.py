"""Printed documents of the floor (reportlab): the pick list (its barcode in the header, per stop
the bin, SKU, item barcode, title, quantity and order slots) and the packing slip (lines,
quantities, return instructions, the channel's name). Reads only."""
from __future__ import annotations

import io

from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from sqlalchemy.orm import Session

from app.services.fulfilment import picking
from app.services.orders import actions as orders

RETURN_NOTE = ("Returns: within 30 days, unused, in the original packaging. Start a return with your "
               "order number; we send you a label.")


def _barcode(page: canvas.Canvas, value: str, x: float, y: float, height: float = 10 * mm,
             width: float = 0.33 * mm) -> None:
    code128.Code128(value, barHeight=height, barWidth=width, humanReadable=False).drawOn(page, x, y)


class _Writer:
    """A page that moves down line by line and starts a new page at the bottom."""

    def __init__(self, title: str):
        self.out = io.BytesIO()
        self.page = canvas.Canvas(self.out, pagesize=A4)
        self.page.setTitle(title)
        self.y = A4[1] - 20 * mm

    def need(self, height: float) -> None:
        if self.y - height < 15 * mm:
            self.page.showPage()
            self.y = A4[1] - 20 * mm

    def text(self, x: float, value: str, size: int = 10, bold: bool = False) -> None:
        self.page.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        self.page.drawString(x, self.y, value)

    def done(self) -> bytes:
        self.page.save()
        return self.out.getvalue()


def pick_list_pdf(session: Session, pick_list_id: int) -> bytes:
    pick_list = picking.get(session, pick_list_id)
    doc = _Writer(f"Pick list {pick_list.code}")
    doc.text(15 * mm, f"Pick list {pick_list.code}", 16, bold=True)
    _barcode(doc.page, pick_list.code, 120 * mm, doc.y - 4 * mm, 12 * mm)
    doc.y -= 7 * mm
    doc.text(15 * mm, f"Warehouse {pick_list.warehouse.code} · {pick_list.status} · "
                      f"{len({l.order_id for l in pick_list.lines})} orders · created by {pick_list.created_by}")
    doc.y -= 14 * mm
    for stop in picking.walk(pick_list):
        doc.need(22 * mm)
        doc.text(15 * mm, stop["bin"] or "(no bin)", 13, bold=True)
        doc.text(45 * mm, stop["sku"], 11, bold=True)
        doc.text(175 * mm, f"× {stop['quantity']}", 13, bold=True)
        doc.y -= 5 * mm
        doc.text(45 * mm, stop["title"][:70], 9)
        doc.y -= 5 * mm
        doc.text(45 * mm, "slots: " + ", ".join(f"{s['slot']} (×{s['quantity']})" for s in stop["slots"]), 9)
        if stop["barcode"]:
            _barcode(doc.page, stop["barcode"], 120 * mm, doc.y, 8 * mm, 0.3 * mm)
        doc.y -= 9 * mm
    _slots(doc, pick_list)
    return doc.done()


def _slots(doc: _Writer, pick_list) -> None:
    """Per order its slot (tote) with the slot's barcode: the pack station scans it."""
    from app.models import Order

    slots = sorted({(line.slot, line.order_id) for line in pick_list.lines})
    numbers = {order.id: order.order_number for order in
               [line.order for line in pick_list.lines if isinstance(line.order, Order)]}
    doc.need(12 * mm)
    doc.y -= 4 * mm
    doc.text(15 * mm, "Orders", 12, bold=True)
    doc.y -= 12 * mm
    for slot, order_id in slots:
        doc.need(14 * mm)
        doc.text(15 * mm, f"slot {slot}", 11, bold=True)
        doc.text(40 * mm, numbers.get(order_id, str(order_id)), 11)
        _barcode(doc.page, f"{pick_list.code}-{slot}", 120 * mm, doc.y - 2 * mm, 9 * mm)
        doc.y -= 13 * mm


def labels_pdf(session: Session, pick_list_id: int) -> bytes:
    """Every live PDF label of a pick list's shipments as one document, in slot order."""
    from pypdf import PdfReader, PdfWriter

    from app.models import ShipmentLabel
    from app.services.core.errors import NotFound
    from app.services.fulfilment import packing

    ids = packing.pick_list_label_ids(session, pick_list_id)
    if not ids:
        raise NotFound(f"Pick list {pick_list_id} has no PDF label to print")
    writer = PdfWriter()
    for label_id in ids:
        for page in PdfReader(io.BytesIO(session.get(ShipmentLabel, label_id).data)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def packing_slip_pdf(session: Session, order_id: int) -> bytes:
    order = orders.get_order(session, order_id)
    doc = _Writer(f"Packing slip {order.order_number}")
    doc.text(15 * mm, order.channel.name if order.channel else "", 14, bold=True)
    doc.y -= 8 * mm
    doc.text(15 * mm, f"Packing slip · order {order.order_number}", 12, bold=True)
    _barcode(doc.page, order.order_number, 120 * mm, doc.y - 2 * mm)
    doc.y -= 8 * mm
    address = order.shipping_address or {}
    for part in (address.get("name") or order.customer_name, address.get("line1"), address.get("line2"),
                 " ".join(filter(None, (address.get("postcode"), address.get("city")))), address.get("country")):
        if part:
            doc.text(15 * mm, str(part))
            doc.y -= 5 * mm
    doc.y -= 6 * mm
    doc.text(15 * mm, "SKU", bold=True)
    doc.text(60 * mm, "Item", bold=True)
    doc.text(175 * mm, "Qty", bold=True)
    for line in order.lines:
        if line.quantity - line.quantity_cancelled <= 0:
            continue
        doc.y -= 6 * mm
        doc.need(6 * mm)
        doc.text(15 * mm, line.sku or "")
        doc.text(60 * mm, line.title[:60])
        doc.text(175 * mm, str(line.quantity - line.quantity_cancelled))
    doc.y -= 14 * mm
    doc.need(10 * mm)
    doc.text(15 * mm, RETURN_NOTE, 8)
    return doc.done()
