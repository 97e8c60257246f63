"""parse_tracking on bodies written from each carrier's public API reference
(tests/fixtures/carriers/<carrier>/): delivered, in transit, exception, not found,
multi-piece, out of order, webhook bodies, error bodies."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.carriers import easypost, ups
from connectors.carriers.base import CarrierNotFound, CarrierPermanent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"


@pytest.fixture(autouse=True)
def _app_context():
    yield  # pure functions: no database


def load(carrier: str, name: str):
    return json.loads((FIXTURES / carrier / f"{name}.json").read_text())


def at(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_ups_delivered_keeps_codes_words_and_utc_times():
    [update] = ups.parse_tracking(load("ups", "delivered"))
    assert update.tracking_number == "1Z999AA10123456784"
    assert update.status == "delivered" and update.delivered_at == at(2026, 1, 5, 19, 23)
    assert [e.carrier_code for e in update.events] == ["MP", "DP", "OT", "FS"]  # sorted by time
    assert update.events[-1].description == "DELIVERED" and update.events[-1].location == "NEW YORK, NY, US"
    # a local time without any offset is read as UTC
    assert update.events[0].occurred_at == at(2026, 1, 2, 17, 0)


def test_ups_in_transit_reads_local_times_with_offsets():
    [update] = ups.parse_tracking(load("ups", "in_transit"))
    assert update.status == "in_transit"
    assert [e.occurred_at for e in update.events][1:] == [at(2026, 1, 3, 17), at(2026, 1, 4, 2)]
    assert update.estimated_delivery == at(2026, 1, 6)


def test_ups_exception_is_a_failed_attempt_with_the_carriers_words():
    [update] = ups.parse_tracking(load("ups", "exception"))
    assert update.status == "failed_attempt"
    latest = update.latest()
    assert (latest.carrier_code, latest.problem) == ("48", "failed_attempt")
    assert "second attempt" in latest.description


def test_ups_not_found_is_unknown_without_events_and_an_error_body_raises():
    [update] = ups.parse_tracking(load("ups", "not_found"))
    assert (update.tracking_number, update.status, update.events) == ("1Z0000000000000000", "unknown", [])
    with pytest.raises(CarrierNotFound):
        ups.parse_tracking(load("ups", "error"))
    with pytest.raises(CarrierPermanent):
        ups.parse_tracking(["not", "an", "object"])


def test_ups_multi_piece_gives_one_update_per_package_and_merges_a_repeated_number():
    updates = {u.tracking_number: u for u in ups.parse_tracking(load("ups", "multi_piece"))}
    assert set(updates) == {"1Z999AA10123456795", "1Z999AA10123456806"}
    first = updates["1Z999AA10123456795"]
    assert [e.carrier_code for e in first.events] == ["AR", "OT"] and first.status == "out_for_delivery"
    assert updates["1Z999AA10123456806"].status == "in_transit"


def test_ups_out_of_order_status_follows_the_latest_by_time():
    [update] = ups.parse_tracking(load("ups", "out_of_order"))
    assert update.status == "delivered"
    times = [e.occurred_at for e in update.events]
    assert times == sorted(times)


def test_ups_track_alert_body():
    [update] = ups.parse_tracking(load("ups", "track_alert"))
    assert update.status == "exception"
    [event] = update.events
    assert (event.carrier_code, event.problem, event.occurred_at) == ("UA", "address", at(2026, 1, 5, 20))


def test_easypost_delivered_and_in_transit():
    [update] = easypost.parse_tracking(load("easypost", "delivered"))
    assert update.status == "delivered" and update.delivered_at == at(2026, 1, 5, 19, 23)
    assert [e.carrier_code for e in update.events] == ["MA", "T1", "OF", "01"]
    assert update.events[-1].description == "Delivered, In/At Mailbox"
    [moving] = easypost.parse_tracking(load("easypost", "in_transit"))
    assert moving.status == "in_transit" and moving.estimated_delivery == at(2026, 1, 6)
    assert moving.events[-1].occurred_at == at(2026, 1, 3, 21)  # no offset: UTC


def test_easypost_exception_not_found_and_error():
    [update] = easypost.parse_tracking(load("easypost", "exception"))
    assert update.status == "exception" and update.latest().problem == "address"
    [unknown] = easypost.parse_tracking(load("easypost", "not_found"))
    assert (unknown.status, unknown.events) == ("unknown", [])
    with pytest.raises(CarrierPermanent):
        easypost.parse_tracking(load("easypost", "error"))


def test_easypost_several_trackers_out_of_order_and_a_webhook_event():
    assert {u.tracking_number for u in easypost.parse_tracking(load("easypost", "multi_piece"))} == {
        "9400110898825022579493", "9400110898825022579509"}
    [update] = easypost.parse_tracking(load("easypost", "out_of_order"))
    assert update.status == "delivered" and [e.carrier_code for e in update.events] == ["MA", "T1", "OF", "01"]
    [event_update] = easypost.parse_tracking(load("easypost", "event"))
    assert event_update.status == "failed_attempt" and event_update.latest().problem == "failed_attempt"


def test_easypost_webhook_signature():
    body = b'{"object":"Event"}'
    import hashlib
    import hmac

    header = "hmac-sha256-hex=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert easypost.verify_signature(body, header, "s3cret")
    assert not easypost.verify_signature(body + b" ", header, "s3cret")
    assert not easypost.verify_signature(body, None, "s3cret")
