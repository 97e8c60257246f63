"""ZPL labels to the warehouse's network printer (#18 point 3): bought labels print by
themselves, a person can send one again, a printer that is off is tried again through the
outbox. The printer is a real TCP listener on 127.0.0.1 that keeps every job it receives."""
from __future__ import annotations

import socket
import threading

import pytest
from sqlalchemy import select

from app.models import Order, OutboxMessage, Warehouse
from app.services.core import outbox
from app.services.core.errors import Conflict, ValidationFailed
from app.services.fulfilment import labels, printing
from app.services.inventory import reference
from .conftest import PACKAGE, deliver_outbox


class Printer:
    """A raw-TCP (port 9100 style) printer: each connection is one job, kept whole."""

    def __init__(self, port: int = 0):
        self.jobs: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                self.jobs.append(b"".join(chunks))

    def close(self):
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.server.close()
        self.thread.join(timeout=5)


@pytest.fixture
def printer():
    running = Printer()
    yield running
    running.close()


def _warehouse_printer(session, actor, address):
    warehouse = session.scalars(select(Warehouse)).one()
    reference.save(session, "warehouse", {"printer_address": address}, actor("admin"), pk=warehouse.id)
    return warehouse


def _messages(session):
    session.rollback()  # a fresh look: what the send pass committed
    return session.scalars(select(OutboxMessage).where(OutboxMessage.topic == printing.TOPIC)
                           .order_by(OutboxMessage.id)).all()


def test_a_zpl_label_bought_prints_on_the_warehouse_printer_and_again_on_demand(session, actor, accounts, packed,
                                                                                printer):
    order_id = packed()
    _warehouse_printer(session, actor, f"127.0.0.1:{printer.port}")
    shipment = labels.buy_label(session, order_id, actor("warehouse"), carrier="ep", packages=PACKAGE)
    label = labels.current_label(session, shipment.id)
    assert label.format == "ZPL" and label.data.startswith(b"^XA")
    [job] = _messages(session)
    assert job.target == f"127.0.0.1:{printer.port}" and job.order_id == order_id
    deliver_outbox()
    assert printer.jobs == [bytes(label.data)]  # the label's own bytes, whole
    assert _messages(session)[0].status == "sent"
    # printed again by hand: a second job, on the order's timeline with who asked
    printing.send_to_printer(session, shipment.id, actor("warehouse"))
    deliver_outbox()
    assert printer.jobs == [bytes(label.data)] * 2
    order = session.get(Order, order_id)
    assert [e.actor for e in order.events if e.type == "label_reprinted" and "sent to the printer" in e.message] \
        == [actor("warehouse").label]


def test_a_printer_that_is_off_is_tried_again_and_nothing_is_lost(session, actor, accounts, packed):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there: the printer is off
    order_id = packed()
    _warehouse_printer(session, actor, f"127.0.0.1:{port}")
    shipment = labels.buy_label(session, order_id, actor("warehouse"), carrier="ep", packages=PACKAGE)
    deliver_outbox()
    [job] = _messages(session)
    assert job.status == "pending" and job.attempts == 1 and f"printer 127.0.0.1:{port}" in job.last_error
    printer = Printer(port)  # switched on
    try:
        outbox.retry(session, job.id, actor("warehouse"))
        deliver_outbox()
        assert printer.jobs == [bytes(labels.current_label(session, shipment.id).data)]
        assert _messages(session)[0].status == "sent"
    finally:
        printer.close()


def test_pdf_labels_and_warehouses_without_a_printer_are_refused_with_a_reason(session, actor, accounts, packed,
                                                                               printer):
    order_id = packed()
    pdf = labels.buy_label(session, order_id, actor("warehouse"), carrier="ups-main", packages=PACKAGE)
    assert _messages(session) == []  # a PDF label is downloaded, not sent
    with pytest.raises(Conflict, match="print it from the browser"):
        printing.send_to_printer(session, pdf.id, actor("warehouse"))
    session.rollback()
    zpl = labels.buy_label(session, packed(), actor("warehouse"), carrier="ep", packages=PACKAGE)
    assert _messages(session) == []  # no printer configured: nothing queued
    with pytest.raises(Conflict, match="no label printer"):
        printing.send_to_printer(session, zpl.id, actor("warehouse"))
    session.rollback()
    for bad in ("printer one", "10.0.0.5:0", "10.0.0.5:70000", "[::1]:9100", "host:"):
        with pytest.raises(ValidationFailed) as err:
            _warehouse_printer(session, actor, bad)
        assert "printer_address" in err.value.errors
        session.rollback()
    assert _warehouse_printer(session, actor, "zebra-1.local").printer_address == "zebra-1.local:9100"


def test_the_print_endpoint_is_for_who_may_buy_labels(app, api_headers, session, actor, accounts, packed, printer):
    order_id = packed()
    _warehouse_printer(session, actor, f"127.0.0.1:{printer.port}")
    shipment = labels.buy_label(session, order_id, actor("warehouse"), carrier="ep", packages=PACKAGE)
    shipment_id, warehouse_id = shipment.id, shipment.warehouse_id
    session.rollback()
    client = app.test_client()
    url = f"/api/v1/shipment/{shipment_id}/print"
    assert client.post(url, json={}, headers=api_headers("support")).status_code == 403
    response = client.post(url, json={}, headers=api_headers("warehouse"))
    assert response.status_code == 202, response.json
    assert len(_messages(session)) == 2  # on purchase, and this one
    response = client.put(f"/api/v1/warehouse/{warehouse_id}", json={"printer_address": "bad address"},
                          headers=api_headers("admin"))
    assert response.status_code == 422 and "printer_address" in str(response.json)
