"""Carrier tests. ``carrier_sandbox``: a sandbox served on 127.0.0.1 for the session, its
carrier half reset before each test (``carrier_sandbox.root``, ``.hub``, ``.control(action, **body)``);
``ups_account`` / ``easypost_account``: connector accounts on it. Parcels move when a test
advances the carriers' clock (``control("advance", hours=...)``), never by sleeping."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
import requests

from connectors.carriers.base import Account, Address, Package, ShipmentRequest
from connectors.sandbox import CARRIER_CREDENTIALS, carrier_base_urls, create_sandbox_app, start_sandbox


@dataclass
class CarrierSandbox:
    root: str
    hub: object

    def control(self, action: str, **body):
        response = requests.post(f"{self.root}/_sandbox/carriers/{action}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def _carrier_server():
    app = create_sandbox_app(seed=0, time_scale=0.001)
    server, thread, root = start_sandbox(app)
    yield app, root
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def carrier_sandbox(_carrier_server) -> CarrierSandbox:
    app, root = _carrier_server
    app.carriers.state.reset(seed=0)
    app.carriers.state.exception_rate = 0.0  # outcomes are scripted where a test wants one
    return CarrierSandbox(root, app.carriers)


def account(kind: str, root: str, code: str | None = None) -> Account:
    creds = dict(CARRIER_CREDENTIALS[kind])
    number = creds.pop("account_number", None)
    return Account(code=code or kind, kind=kind, base_url=carrier_base_urls(root)[kind], credentials=creds,
                   account_number=number, time_scale=0.001, timeout=(2.0, 5.0))


@pytest.fixture
def ups_account(carrier_sandbox) -> Account:
    return account("ups", carrier_sandbox.root)


@pytest.fixture
def easypost_account(carrier_sandbox) -> Account:
    return account("easypost", carrier_sandbox.root)


HOME = Address("Waybill Warehouse", "1 Peachtree St", "Atlanta", "30301", "US", region="GA", phone="+1 404 555 0100")
AWAY = Address("Chloë O'Brien", "969 Market St", "San Francisco", "94103", "US", region="CA")
NEAR = Address("Bob Norman", "2 Ponce de Leon Ave", "Atlanta", "30308", "US", region="GA")


def request(*, to: Address = AWAY, kg: str = "1.5", dims=("30", "20", "10"), reference: str = "ref-1",
            label_format: str = "PDF", pieces: int = 1) -> ShipmentRequest:
    package = Package(Decimal(kg), *(Decimal(d) for d in dims))
    return ShipmentRequest(HOME, to, (package,) * pieces, reference, label_format)


@pytest.fixture
def exception_item(session, make, actor):
    """A shipped order whose parcel met a failed attempt: the event recorded through the
    tracking service opens the delivery exception. Returns (order, shipment, item)."""
    from datetime import timedelta

    from connectors.carriers.base import TrackingEvent, TrackingUpdate

    from app.models import DeliveryException
    from app.models.base import utcnow
    from app.services.fulfilment import carriers, shipments, tracking

    channel, warehouse = make.channel(), make.warehouse()
    make.product("CAP", stock={warehouse: 2})
    order = make.order(channel, [("CAP", 1, "9.00")])
    shipments.start_picking(session, order.id, actor())
    shipments.mark_packed(session, order.id, actor())
    shipment = shipments.ship(session, order.id, actor(), carrier="manual", tracking_number="1ZEXCEPTION")
    account = carriers.save_account(session, {"code": "by-hand", "name": "By hand", "kind": "manual"}, actor())
    shipment.carrier_account_id = account.id  # a shipment typed by hand, followed as the carrier's
    session.commit()
    at = utcnow().replace(microsecond=0)
    tracking.record(session, account.id, TrackingUpdate("1ZEXCEPTION", "unknown", events=[
        TrackingEvent(at - timedelta(hours=3), "out_for_delivery", "OT", "Out For Delivery Today"),
        TrackingEvent(at, "failed_attempt", "48", "Receiver not available", problem="failed_attempt")]),
        source="poll")
    item = session.query(DeliveryException).one()
    return order, shipment, item


@pytest.fixture
def fedex_account(carrier_sandbox) -> Account:
    return account("fedex", carrier_sandbox.root)


@pytest.fixture
def usps_account(carrier_sandbox) -> Account:
    return account("usps", carrier_sandbox.root)


@pytest.fixture
def dhl_account(carrier_sandbox) -> Account:
    return account("dhl", carrier_sandbox.root)


ABROAD = Address("Lena Vogel", "Unter den Linden 5", "Berlin", "10117", "DE")


def customs_lines(hs_code: str = "6109.10") -> tuple:
    from connectors.carriers.base import CustomsLine

    return (CustomsLine("Cotton T-shirt", 2, Decimal("40.00"), "USD", Decimal("0.6"), hs_code, "PT", "TEE"),)


# one box as the label APIs take it
PACKAGE = [{"weight_kg": "1.2", "length_cm": "30", "width_cm": "20", "height_cm": "10"}]


@pytest.fixture
def fast(app, monkeypatch):
    monkeypatch.setitem(app.config, "OMS_CONNECTOR_OPTIONS", {"time_scale": 0.001})


@pytest.fixture
def accounts(session, actor, carrier_sandbox, fast):
    """UPS (PDF, Track Alert credential) and EasyPost (ZPL) accounts on the sandbox, in the database."""
    from app.services.fulfilment import carriers

    urls = carrier_base_urls(carrier_sandbox.root)
    ups_creds = dict(CARRIER_CREDENTIALS["ups"])
    number = ups_creds.pop("account_number")
    ups = carriers.save_account(session, {"code": "ups-main", "name": "UPS", "kind": "ups", "base_url": urls["ups"],
                                          "account_number": number}, actor(), credentials=ups_creds,
                                webhook_secret="ups-track-alert-credential")
    easy = carriers.save_account(session, {"code": "ep", "name": "EasyPost", "kind": "easypost",
                                           "base_url": urls["easypost"], "label_format": "ZPL"}, actor(),
                                 credentials=dict(CARRIER_CREDENTIALS["easypost"]), webhook_secret="ep-hmac")
    return {"ups": ups.code, "easypost": easy.code}


@pytest.fixture
def packed(session, make, actor):
    """``packed()`` imports and packs an order of one TEE-1; returns its id."""
    from app.services.fulfilment import shipments

    channel, warehouse = make.channel(), make.warehouse()
    make.product("TEE-1", stock={warehouse: 10})

    def one():
        order = make.order(channel, [("TEE-1", 1, "20.00")])
        shipments.start_picking(session, order.id, actor("warehouse"))
        shipments.mark_packed(session, order.id, actor("warehouse"))
        return order.id
    return one


def deliver_outbox():
    """One send pass of the outbox, as the job runs it."""
    from app.extensions import db
    from app.services.core import outbox_sender

    return outbox_sender.send_pass(db.engine)
