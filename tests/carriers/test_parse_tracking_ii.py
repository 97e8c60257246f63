"""parse_tracking of FedEx, USPS and DHL on bodies written from each carrier's public API
reference (tests/fixtures/carriers/<carrier>/): delivered, in transit, exception, not found,
multi-piece, out of order, error bodies. Times end aware UTC; the carrier's code and words stay."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.carriers import dhl, fedex, usps
from connectors.carriers.base import CarrierNotFound, CarrierPermanent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
MODULES = {"fedex": fedex, "usps": usps, "dhl": dhl}


@pytest.fixture(autouse=True)
def _app_context():
    yield  # pure functions: no database


def parse(carrier: str, name: str):
    return MODULES[carrier].parse_tracking(json.loads((FIXTURES / carrier / f"{name}.json").read_text()))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("carrier, first_code, first_at", [
    ("fedex", "OC", at(2026, 1, 3, 9)),  # a time without an offset is read as UTC
    ("usps", "GX", at(2026, 1, 2, 17)),  # local time + GMTOffset when no GMT time is given
    ("dhl", "SHIPMENT INFORMATION RECEIVED", at(2026, 1, 3, 8)),
])
def test_delivered_sorted_in_utc_with_the_carriers_codes(carrier, first_code, first_at):
    [update] = parse(carrier, "delivered")
    assert update.status == "delivered" and update.delivered_at == at(2026, 1, 5, 19, 23)
    assert update.events[0].carrier_code == first_code and update.events[0].occurred_at == first_at
    times = [e.occurred_at for e in update.events]
    assert times == sorted(times) and update.events[-1].location


@pytest.mark.parametrize("carrier, estimate", [
    ("fedex", at(2026, 1, 7, 1)), ("usps", at(2026, 1, 7, 1)), ("dhl", at(2026, 1, 7, 4, 59))])
def test_in_transit_with_the_carriers_estimate(carrier, estimate):
    [update] = parse(carrier, "in_transit")
    assert update.status == "in_transit" and update.estimated_delivery == estimate and update.delivered_at is None


@pytest.mark.parametrize("carrier, status, problem", [
    ("fedex", "failed_attempt", "failed_attempt"), ("usps", "failed_attempt", "failed_attempt"),
    ("dhl", "exception", "address")])
def test_exception_names_the_problem_in_the_carriers_words(carrier, status, problem):
    [update] = parse(carrier, "exception")
    latest = update.latest()
    assert update.status == status and latest.problem == problem and latest.description


@pytest.mark.parametrize("carrier", ["fedex", "usps"])
def test_not_found_inside_the_results_is_unknown_without_events(carrier):
    [update] = parse(carrier, "not_found")
    assert update.status == "unknown" and update.events == []


def test_dhl_not_found_and_errors_raise():
    with pytest.raises(CarrierNotFound):
        parse("dhl", "not_found")
    with pytest.raises(CarrierPermanent):
        parse("dhl", "quota")
    with pytest.raises(CarrierPermanent):
        parse("fedex", "error")
    with pytest.raises(CarrierPermanent):
        parse("usps", "error")
    with pytest.raises(CarrierPermanent):
        fedex.parse_tracking(["no"])


@pytest.mark.parametrize("carrier, numbers, merged", [
    ("fedex", {"794843185300", "794843185311"}, "794843185300"),
    ("usps", {"9205590164917312751112", "9205590164917312751123"}, "9205590164917312751112"),
])
def test_multi_piece_one_update_per_number_a_repeat_merged(carrier, numbers, merged):
    updates = {u.tracking_number: u for u in parse(carrier, "multi_piece")}
    assert set(updates) == numbers
    assert len(updates[merged].events) == 2 and updates[merged].status == "out_for_delivery"


def test_dhl_multi_piece_pieces_follow_the_shipment_and_divisions_merge():
    updates = {u.tracking_number: u for u in parse("dhl", "multi_piece")}
    assert set(updates) == {"1234567893", "JD014600003828293871", "JD014600003828293872"}
    assert [e.carrier_code for e in updates["1234567893"].events] == ["SHIPMENT PICKED UP", "ARRIVED AT DELIVERY FACILITY"]
    assert updates["JD014600003828293872"].status == "in_transit"


@pytest.mark.parametrize("carrier", ["fedex", "usps", "dhl"])
def test_out_of_order_status_follows_the_latest_by_time(carrier):
    [update] = parse(carrier, "out_of_order")
    assert update.status == "delivered"
    assert [e.occurred_at for e in update.events] == sorted(e.occurred_at for e in update.events)
