"""FedEx, USPS and DHL connectors over real HTTP against the carrier sandbox: rates, labels
(PDF/ZPL, several pieces), voids (DHL: with us only), customs sent with international labels,
tracking in batches, separate FedEx tracking keys, USPS payment authorization, DHL's quota, lost
purchase answers, manifests (SCAN form, Ground close)."""
from __future__ import annotations

import dataclasses

import pytest

from connectors.carriers import dhl, fedex, usps
from connectors.carriers.common import TokenCache
from connectors.carriers.base import CarrierOutcomeUnknown, CarrierPermanent, CarrierRetryable, ShipmentRequest

from .conftest import ABROAD, HOME, NEAR, customs_lines, request


@pytest.fixture(autouse=True)
def _app_context(monkeypatch):
    # connectors never touch the database; tokens of a sandbox reset before each test start afresh
    for module in (fedex, usps):
        monkeypatch.setattr(module, "_tokens", TokenCache())
    yield


def abroad(**kw) -> ShipmentRequest:
    return dataclasses.replace(request(to=ABROAD, **kw), customs=customs_lines())


def test_fedex_rates_label_multi_piece_track_cancel(fedex_account, carrier_sandbox):
    client = fedex.connect(fedex_account)
    rates = {r.service: r for r in client.rates(request())}
    assert rates["PRIORITY_OVERNIGHT"].amount > rates["FEDEX_2_DAY"].amount > rates["FEDEX_GROUND"].amount
    assert rates["FEDEX_2_DAY"].days == 2 and rates["FEDEX_GROUND"].days > rates["FEDEX_2_DAY"].days
    two = {r.service: r for r in client.rates(request(pieces=2))}
    label = client.buy_label(request(pieces=2), two["FEDEX_GROUND"])
    assert label.data.startswith(b"%PDF") and b"/Count 2" in label.data  # the pieces merged: one PDF, 2 pages
    assert len(label.package_tracking_numbers) == 2 and label.cost == two["FEDEX_GROUND"].amount
    zpl = client.buy_label(request(label_format="ZPL", reference="ref-2"), rates["FEDEX_2_DAY"])
    assert zpl.data.startswith(b"^XA") and zpl.tracking_number.encode() in zpl.data
    carrier_sandbox.control("advance", hours=5)
    updates = {u.tracking_number: u for u in client.track([label.tracking_number, *label.package_tracking_numbers[1:],
                                                            zpl.tracking_number, "799999999999"])}
    assert updates[label.tracking_number].status == "in_transit"
    assert updates["799999999999"].status == "unknown" and updates["799999999999"].events == []
    assert [e.carrier_code for e in updates[zpl.tracking_number].events] == ["OC", "PU"]
    with pytest.raises(CarrierPermanent):
        client.void(label)  # picked up: FedEx refuses
    fresh = client.buy_label(request(reference="ref-3"), rates["FEDEX_GROUND"])
    client.void(fresh)
    [cancelled] = client.track([fresh.tracking_number])
    assert cancelled.status == "cancelled"


def test_fedex_tracking_uses_its_own_keys_and_batches_of_30(fedex_account, carrier_sandbox):
    shipping_only = dataclasses.replace(fedex_account, code="fedex-no-track", credentials={
        k: v for k, v in fedex_account.credentials.items() if not k.startswith("track_")})
    with pytest.raises(CarrierPermanent, match="authorize"):
        fedex.connect(shipping_only).track(["790000000100"])  # shipping keys cannot track
    carrier_sandbox.control("log", enabled=True)
    updates = fedex.connect(fedex_account).track([f"7900000{n:05d}" for n in range(31)])
    assert len(updates) == 31
    log = carrier_sandbox.hub.state.request_log
    carrier_sandbox.control("log", enabled=False)
    assert [path for _, path, _, _ in log if "/track/" in path] == ["/fedex/track/v1/trackingnumbers"] * 2


def test_fedex_ground_close(fedex_account, carrier_sandbox):
    client = fedex.connect(fedex_account)
    ground = next(r for r in client.rates(request()) if r.service == "FEDEX_GROUND")
    label = client.buy_label(request(), ground)
    closed = client.close_ground("2026-12-07")
    assert label.tracking_number in closed["numbers"] and closed["reference"].startswith("GC")
    assert label.tracking_number.encode() in closed["documents"][0]
    assert client.close_ground("2026-12-07")["numbers"] == []  # closed once


def test_usps_payment_token_labels_international_customs_and_scan_form(usps_account, carrier_sandbox):
    client = usps.connect(usps_account)
    rates = {r.service: r for r in client.rates(request())}
    assert rates["PRIORITY_MAIL_EXPRESS"].amount > rates["PRIORITY_MAIL"].amount > rates["USPS_GROUND_ADVANTAGE"].amount
    label = client.buy_label(request(), rates["USPS_GROUND_ADVANTAGE"])
    assert label.data.startswith(b"%PDF") and label.tracking_number.startswith("9205")
    no_payer = usps.connect(dataclasses.replace(usps_account, code="usps-no-crid", credentials={
        k: v for k, v in usps_account.credentials.items() if k not in ("crid", "mid")}))
    with pytest.raises(CarrierPermanent, match="CRID"):
        no_payer.buy_label(request(reference="ref-x"), rates["PRIORITY_MAIL"])
    intl_rate = client.rates(abroad())[0]
    with pytest.raises(CarrierPermanent, match="customs"):
        client.buy_label(request(to=ABROAD), intl_rate)  # nothing sent without customs lines
    intl = client.buy_label(abroad(reference="ref-intl"), intl_rate)
    sent = carrier_sandbox.hub.state.parcels[intl.tracking_number].data["customs"]["contents"][0]
    assert (sent["HSTariffNumber"], sent["countryofOrigin"], sent["itemQuantity"]) == ("610910", "PT", 2)
    form = client.scan_form([label.tracking_number], HOME, "2026-12-07")
    assert form["reference"].startswith("9475") and form["documents"][0].startswith(b"%PDF")
    client.void(intl)
    carrier_sandbox.control("advance", hours=5)
    updates = {u.tracking_number: u for u in client.track([label.tracking_number, intl.tracking_number, "9200000"])}
    assert updates[label.tracking_number].status == "in_transit" and updates[intl.tracking_number].status == "cancelled"
    assert updates["9200000"].status == "unknown"


def test_usps_and_dhl_lost_purchase_answers_are_outcome_unknown(usps_account, dhl_account, carrier_sandbox):
    for module, account, handler in ((usps, usps_account, "label"), (dhl, dhl_account, "ship")):
        client = module.connect(account)
        rate = client.rates(request(to=NEAR))[0]
        carrier_sandbox.control("faults", carrier=account.kind, script=["lost"], handler=handler)
        with pytest.raises(CarrierOutcomeUnknown):
            client.buy_label(request(to=NEAR, reference=f"lost-{account.kind}"), rate)
        assert not hasattr(client, "recover_label")  # no lookup: a person settles it


def test_dhl_rates_labels_customs_no_void_and_tracking(dhl_account, carrier_sandbox):
    client = dhl.connect(dhl_account)
    [domestic] = client.rates(request())
    assert domestic.service == "N"
    rates = {r.service: r for r in client.rates(abroad())}
    assert set(rates) == {"P", "T"} and rates["T"].amount > rates["P"].amount
    with pytest.raises(CarrierPermanent, match="customs"):
        client.buy_label(request(to=ABROAD), rates["P"])
    label = client.buy_label(abroad(pieces=2, label_format="ZPL"), rates["P"])
    assert label.data.startswith(b"^XA") and len(label.package_tracking_numbers) == 2
    export = carrier_sandbox.hub.state.parcels[label.tracking_number].data["export"]["lineItems"][0]
    assert export["commodityCodes"][0]["value"] == "6109.10" and export["manufacturerCountry"] == "PT"
    client.void(label)  # nothing at DHL: the parcel is untouched there
    assert not carrier_sandbox.hub.state.parcels[label.tracking_number].voided
    carrier_sandbox.control("advance", hours=11)
    updates = {u.tracking_number: u for u in client.track([label.tracking_number, "1999999999"])}
    assert updates[label.tracking_number].status == "in_transit"
    assert [e.carrier_code for e in updates[label.tracking_number].events][:2] == [
        "SHIPMENT INFORMATION RECEIVED", "SHIPMENT PICKED UP"]
    assert updates["1999999999"].status == "unknown"


def test_dhl_tracking_quota_answers_429(dhl_account, carrier_sandbox, monkeypatch):
    from connectors.sandbox.carriers import dhl as dhl_sandbox

    monkeypatch.setattr(dhl_sandbox, "TRACK_QUOTA_PER_DAY", 1)
    client = dhl.connect(dataclasses.replace(dhl_account, code="dhl-quota"))
    client.track(["1000000001"])
    with pytest.raises(CarrierRetryable, match="rate limited"):
        client.track(["1000000001"])


def test_dhl_tracking_asks_its_own_host_when_one_is_set(dhl_account, carrier_sandbox):
    """MyDHL and the Unified Tracking API live on two hosts: the account's tracking URL is where
    tracking goes (the base URL when none is set)."""
    label = dhl.connect(dhl_account).buy_label(abroad(), dhl.connect(dhl_account).rates(abroad())[0])
    split = dataclasses.replace(dhl_account, base_url=f"{carrier_sandbox.root}/nowhere",
                                tracking_url=dhl_account.base_url)
    updates = {u.tracking_number: u for u in dhl.connect(split).track([label.tracking_number])}
    assert updates[label.tracking_number].events  # tracking reached on its own host
    with pytest.raises(CarrierPermanent):
        dhl.connect(split).rates(abroad())  # MyDHL is not at the tracking host
