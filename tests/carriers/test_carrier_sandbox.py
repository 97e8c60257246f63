"""The carrier connectors over real HTTP against the carrier sandbox: rates, labels as PDF and
ZPL, voids, a purchase whose answer is lost and its recovery, tokens that expire, parcels
moving on the sandbox clock, and the official EasyPost SDK talking to the sandbox."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import easypost as easypost_sdk
import pytest

from connectors.carriers import easypost, ups
from connectors.carriers.base import CarrierOutcomeUnknown, CarrierPermanent
from connectors.sandbox import CARRIER_CREDENTIALS

from .conftest import NEAR, request


@pytest.fixture(autouse=True)
def _app_context():
    yield  # connectors never touch the database


def test_ups_rates_depend_on_weight_dimensions_zone_and_service(ups_account):
    client = ups.connect(ups_account)
    far = {r.service: r for r in client.rates(request())}
    assert {"03", "02", "01"} <= set(far) and far["01"].amount > far["02"].amount > far["03"].amount
    heavier = {r.service: r.amount for r in client.rates(request(kg="6"))}
    bulkier = {r.service: r.amount for r in client.rates(request(dims=("60", "50", "40")))}
    near = {r.service: r for r in client.rates(request(to=NEAR))}
    assert heavier["03"] > far["03"].amount and bulkier["03"] > far["03"].amount > near["03"].amount
    assert far["03"].days > near["03"].days


def test_ups_label_pdf_and_zpl_then_void_and_a_moved_parcel_cannot_be_voided(ups_account, carrier_sandbox):
    client = ups.connect(ups_account)
    rate = client.rates(request())[0]
    pdf = client.buy_label(request(), rate)
    assert pdf.data.startswith(b"%PDF") and pdf.tracking_number.startswith("1Z") and pdf.cost == rate.amount
    zpl = client.buy_label(request(label_format="ZPL", reference="ref-2", pieces=2), rate)
    assert zpl.data.startswith(b"^XA") and b"^BC" in zpl.data and zpl.tracking_number.encode() in zpl.data
    assert len(zpl.package_tracking_numbers) == 2
    client.void(pdf)
    [voided] = client.track([pdf.tracking_number])
    assert voided.status == "cancelled"
    carrier_sandbox.control("advance", hours=8)  # picked up
    with pytest.raises(CarrierPermanent):
        client.void(zpl)


def test_ups_lost_answer_is_outcome_unknown_and_the_label_is_recovered_once(ups_account, carrier_sandbox):
    client = ups.connect(ups_account)
    rate = client.rates(request())[0]
    assert client.recover_label("ref-lost") is None
    carrier_sandbox.control("faults", carrier="ups", script=["lost"], handler="ship")
    with pytest.raises(CarrierOutcomeUnknown):
        client.buy_label(request(reference="ref-lost"), rate)
    found = client.recover_label("ref-lost")
    assert found is not None and found.data.startswith(b"%PDF")
    parcels = [p for p in carrier_sandbox.control("state")["parcels"] if p["carrier"] == "ups"]
    assert len(parcels) == 1 and parcels[0]["tracking_number"] == found.tracking_number
    carrier_sandbox.control("faults", carrier="ups", script=["500"], handler="ship")
    with pytest.raises(CarrierOutcomeUnknown):  # a 5xx on a purchase: it may have been bought
        client.buy_label(request(reference="ref-500"), rate)
    assert client.recover_label("ref-500") is None  # ... and here it was not


def _token_requests(carrier_sandbox) -> int:
    return sum(1 for _ in carrier_sandbox.hub.state.tokens)


def test_ups_token_is_cached_until_it_expires_then_fetched_again(ups_account, carrier_sandbox):
    client = ups.connect(ups_account)
    ups._tokens.forget(client._token_key)  # an earlier test's token
    client.rates(request())
    client.rates(request())
    assert _token_requests(carrier_sandbox) == 1  # cached
    with carrier_sandbox.hub.state.lock:  # every token the sandbox issued has expired
        for token in carrier_sandbox.hub.state.tokens:
            carrier_sandbox.hub.state.tokens[token] = time.monotonic() - 1
    assert client.rates(request())  # refused once, fetched again, answered
    assert _token_requests(carrier_sandbox) == 2
    wrong = ups.connect(type(ups_account)(**{**ups_account.__dict__, "code": "x",
                                              "credentials": {"client_id": "nope", "client_secret": "no"}}))
    with pytest.raises(CarrierPermanent):
        wrong.rates(request())


def test_parcels_move_along_the_timeline_with_scripted_exceptions(ups_account, easypost_account, carrier_sandbox):
    carrier_sandbox.control("outcomes", outcomes=["delivered", "failed_attempt", "returned"])
    client = ups.connect(ups_account)
    rate = client.rates(request())[0]
    labels = [client.buy_label(request(reference=f"r{n}"), rate) for n in range(3)]
    carrier_sandbox.control("advance", hours=24 * 8)
    done, attempted, returned = client.track([label.tracking_number for label in labels])
    assert done.status == "delivered" and done.delivered_at is not None
    assert [e.carrier_code for e in done.events][:2] == ["MP", "PU"]
    assert any(e.problem == "failed_attempt" for e in attempted.events) and attempted.status == "delivered"
    assert returned.status == "returned_to_sender" and returned.latest().problem == "returned"
    assert client.track(["1Z0000000000000000"])[0].status == "unknown"


class _Receiver:
    def __init__(self):
        self.bodies: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_the_official_easypost_sdk_against_the_sandbox(carrier_sandbox):
    api_key = CARRIER_CREDENTIALS["easypost"]["api_key"]
    client = easypost_sdk.EasyPostClient(api_key, api_base=f"{carrier_sandbox.root}/easypost/v2")
    shipment = client.shipment.create(
        from_address={"name": "W", "street1": "1 Peachtree St", "city": "Atlanta", "state": "GA", "zip": "30301",
                      "country": "US"},
        to_address={"name": "C", "street1": "969 Market St", "city": "San Francisco", "state": "CA", "zip": "94103",
                    "country": "US"},
        parcel={"length": 10, "width": 8, "height": 4, "weight": 24}, reference="sdk-1")
    assert shipment.id.startswith("shp_") and len(shipment.rates) == 3
    receiver = _Receiver()
    client.webhook.create(url=receiver.url, webhook_secret="whsec-sandbox")
    bought = client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    assert bought.tracking_code and bought.postage_label.label_url.endswith(".pdf")
    tracker = client.tracker.create(tracking_code=bought.tracking_code)
    assert tracker.status == "pre_transit" and tracker.tracking_details[0].carrier_code == "MA"
    assert client.shipment.retrieve(shipment.id).tracking_code == bought.tracking_code
    carrier_sandbox.control("advance", hours=10)
    headers, body = receiver.bodies[-1]
    event = easypost_sdk.util.validate_webhook(body, headers, "whsec-sandbox")  # the SDK checks the HMAC
    assert event["description"] == "tracker.updated" and event["result"]["status"] == "in_transit"
    [update] = easypost.parse_tracking(json.loads(body))
    assert update.tracking_number == bought.tracking_code and update.status == "in_transit"
    refunded = client.shipment.refund(shipment.id)
    assert refunded.refund_status == "rejected"  # it has moved: too late
    with pytest.raises(easypost_sdk.errors.UnauthorizedError):
        easypost_sdk.EasyPostClient("wrong", api_base=f"{carrier_sandbox.root}/easypost/v2").tracker.create(
            tracking_code="x")


def test_easypost_connector_lost_purchase_is_recovered_from_the_stored_shipment_id(easypost_account,
                                                                                   carrier_sandbox):
    client = easypost.connect(easypost_account)
    rate = client.rates(request())[0]
    assert client.recover_label(rate.carrier_shipment_id) is None  # not bought yet
    carrier_sandbox.control("faults", carrier="easypost", script=["lost"], handler="buy")
    with pytest.raises(CarrierOutcomeUnknown):
        client.buy_label(request(), rate)
    label = client.recover_label(rate.carrier_shipment_id)
    assert label is not None and label.data.startswith(b"%PDF") and label.cost == rate.amount
    client.void(label)
    [update] = client.track([label.tracking_number])
    assert update.status == "cancelled"


def test_a_cold_start_fetches_one_token_for_many_workers(ups_account, carrier_sandbox):
    ups._tokens.forget(ups.connect(ups_account)._token_key)
    with carrier_sandbox.hub.state.lock:
        carrier_sandbox.hub.state.tokens.clear()
    errors = []

    def work():
        try:
            ups.connect(ups_account).rates(request())
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and _token_requests(carrier_sandbox) == 1


def test_rate_limits_and_faults_on_demand_are_retried_with_retry_after(ups_account, carrier_sandbox):
    client = ups.connect(ups_account)
    carrier_sandbox.control("faults", carrier="ups", script=["429", "503"], handler="track")
    started = time.monotonic()
    assert client.track(["1Z0000000000000000"])[0].status == "unknown"  # answered after two retries
    assert time.monotonic() - started < 2  # Retry-After: 1 nominal second at time scale 0.001
    assert carrier_sandbox.control("state")["requests"]["ups"] >= 3
