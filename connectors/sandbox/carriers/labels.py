"""Label documents the carrier sandbox answers: a PDF 4x6 (reportlab), a ZPL II document and
a GIF image (what UPS sends), each with the tracking number as a Code 128 barcode."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas


def pdf(tracking_number: str, lines: list[str]) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(4 * inch, 6 * inch))
    page.setFont("Helvetica-Bold", 14)
    page.drawString(0.25 * inch, 5.6 * inch, lines[0] if lines else "")
    page.setFont("Helvetica", 10)
    for n, line in enumerate(lines[1:], start=1):
        page.drawString(0.25 * inch, (5.6 - 0.22 * n) * inch, line)
    barcode = Code128(tracking_number, barHeight=0.9 * inch, barWidth=1.1)
    barcode.drawOn(page, 0.2 * inch, 1.2 * inch)
    page.setFont("Helvetica-Bold", 12)
    page.drawString(0.3 * inch, 0.9 * inch, f"TRACKING #: {tracking_number}")
    page.showPage()
    page.save()
    return out.getvalue()


def zpl(tracking_number: str, lines: list[str]) -> bytes:
    text = "".join(f"^FO50,{50 + 40 * n}^A0N,30,30^FD{line}^FS" for n, line in enumerate(lines))
    return (f"^XA^CI28{text}^FO50,700^BY3^BCN,200,Y,N,N^FD{tracking_number}^FS"
            f"^FO50,960^A0N,40,40^FDTRACKING #: {tracking_number}^FS^XZ").encode()


def _bars(value: str) -> str:
    code = Code128(value)
    code.validate()
    code.encode()
    code.decompose()
    return code.decomposed


def gif(tracking_number: str, lines: list[str]) -> bytes:
    """A 1200x800 landscape label image (UPS draws its GIF labels sideways)."""
    image = Image.new("1", (1200, 800), 1)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((40, 30 + 28 * n), line, fill=0)
    x, module = 60, 3
    for symbol in _bars(tracking_number):
        width = (ord(symbol.lower()) - ord("a") + 1) * module
        if symbol.isupper():
            draw.rectangle([x, 450, x + width - 1, 700], fill=0)
        x += width
    draw.text((60, 720), f"TRACKING #: {tracking_number}", fill=0)
    out = io.BytesIO()
    image.save(out, format="GIF")
    return out.getvalue()


def pdf_pages(tracking_numbers: list[str], lines: list[str]) -> bytes:
    """One 4x6 page per piece in one PDF (a carrier's merged label document)."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(4 * inch, 6 * inch))
    for number in tracking_numbers:
        page.setFont("Helvetica-Bold", 12)
        for n, line in enumerate(lines):
            page.drawString(0.25 * inch, (5.6 - 0.22 * n) * inch, line)
        Code128(number, barHeight=0.9 * inch, barWidth=1.1).drawOn(page, 0.2 * inch, 1.2 * inch)
        page.drawString(0.3 * inch, 0.9 * inch, f"TRACKING #: {number}")
        page.showPage()
    page.save()
    return out.getvalue()
