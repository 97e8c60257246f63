"""Label documents: UPS answers images (GIF) or ZPL, never PDF; a PDF 4x6 label is the
image placed on a 4x6 inch page (reportlab)."""
from __future__ import annotations

import io

from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

PAGE_4X6 = (4 * inch, 6 * inch)


def images_to_pdf(images: list[bytes]) -> bytes:
    """One 4x6 page per image (a label per package)."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=PAGE_4X6)
    for image in images:
        _draw(page, image)
    page.save()
    return out.getvalue()


def _draw(page: canvas.Canvas, image: bytes) -> None:
    reader = ImageReader(io.BytesIO(image))
    width, height = reader.getSize()
    # UPS draws its 4x6 labels landscape (the image is wider than tall): turn it to fit
    if width > height:
        page.translate(PAGE_4X6[0], 0)
        page.rotate(90)
        page.drawImage(reader, 0, 0, PAGE_4X6[1], PAGE_4X6[0], preserveAspectRatio=True)
    else:
        page.drawImage(reader, 0, 0, *PAGE_4X6, preserveAspectRatio=True)
    page.showPage()
