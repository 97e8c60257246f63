"""Bulk labels for a pick list from the carrier sandbox over real HTTP: every picked order gets
its label and ship confirm; all the list's labels print as one PDF, in slot order."""
from __future__ import annotations

import io

from pypdf import PdfReader

from app.models import Order
from app.services.fulfilment import documents, packing, picking
from .conftest import PACKAGE


def test_bulk_labels_from_the_sandbox_print_as_one_pdf(session, make, actor, accounts):  # noqa: F811
    warehouse, channel = make.warehouse(), make.channel()
    make.product("TEE-1", stock={warehouse: 10})
    ids = [make.order(channel, [("TEE-1", 1, "20.00")]).id for _ in range(2)]
    picker = actor("warehouse")
    pick_list = picking.create(session, warehouse.id, {}, picker)
    picking.scan_item(session, pick_list.id, None, "TEE-1", picker, 2)
    result = packing.bulk_labels(session, pick_list.id, PACKAGE, picker, carrier=accounts["ups"])
    assert [s["order_id"] for s in result["shipped"]] == ids and not result["failed"]
    assert all(s["tracking_number"] for s in result["shipped"])
    session.expire_all()
    assert {session.get(Order, i).status for i in ids} == {"shipped"}
    assert len(PdfReader(io.BytesIO(documents.labels_pdf(session, pick_list.id))).pages) == 2
