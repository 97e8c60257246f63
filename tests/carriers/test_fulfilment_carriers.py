"""Labels and tracking end to end with the carrier sandbox over real HTTP: rates -> label ->
void (through the outbox); label -> tracking -> delivered (order delivered); an exception
reaches the Support queue (and its alert); a webhook and a poll of the same event store it
once. The carriers' clock is advanced by the tests, never slept on."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from connectors.sandbox import CARRIER_CREDENTIALS, carrier_base_urls

from app.extensions import db
from app.models import Alert, DeliveryException, OutboxMessage, Shipment, TrackingEvent, Warehouse
from app.models.base import clock_at, utcnow
from app.services.fulfilment import carriers, exceptions, labels, shipments, tracking
from app.services.inventory import reference
from app.services.notify import alerts
from tests.conftest import is_postgres

from .conftest import PACKAGE, deliver_outbox


def test_ups_rates_label_void(session, actor, accounts, packed, carrier_sandbox):
    order_id = packed()
    quotes = labels.rates(session, order_id, PACKAGE)
    assert {q.account for q in quotes} == {"ups-main", "ep"}
    assert [q.rate.amount for q in quotes] == sorted(q.rate.amount for q in quotes)
    shipment = labels.buy_label(session, order_id, actor("warehouse"), carrier="ups-main", packages=PACKAGE,
                                service="02")
    assert shipment.status == "label_created" and shipment.order.status == "shipped"
    assert shipment.tracking_number.startswith("1Z") and shipment.service == "02" and shipment.cost > 0
    assert [p.tracking_number for p in shipment.packages] == [shipment.tracking_number]
    label = labels.current_label(session, shipment.id)
    assert label.data.startswith(b"%PDF") and label.format == "PDF"
    message_id = labels.void(session, shipment.id, actor("warehouse"))
    assert labels.void(session, shipment.id, actor("warehouse")) == message_id  # queued once
    deliver_outbox()
    session.expire_all()
    assert session.get(OutboxMessage, message_id).status == "sent"
    assert session.get(Shipment, shipment.id).status == "voided"
    [parcel] = carrier_sandbox.control("state")["parcels"]
    assert parcel["voided"] is True


def test_bad_packages_and_a_refused_purchase_buy_nothing(session, actor, accounts, packed, carrier_sandbox):
    from app.services.core.errors import ValidationFailed

    order_id = packed()
    with pytest.raises(ValidationFailed) as bad:
        labels.buy_label(session, order_id, actor(), carrier="ups-main", packages=[{"weight_kg": "-1"}])
    assert "packages.0.weight_kg" in bad.value.errors
    with pytest.raises(ValidationFailed) as unknown:
        labels.buy_label(session, order_id, actor(), carrier="ups-main", packages=PACKAGE, service="99")
    assert "service" in unknown.value.errors
    assert session.scalar(select(func.count(Shipment.id))) == 0
    assert carrier_sandbox.control("state")["parcels"] == []


def test_a_lost_answer_is_recovered_and_an_unrecoverable_one_waits_for_a_person(session, actor, accounts, packed,
                                                                              carrier_sandbox):
    first, second = packed(), packed()
    warehouse = session.scalars(select(Warehouse)).one()
    reference.save(session, "warehouse", {"label_format": "ZPL"}, actor(), warehouse.id)  # its printer: ZPL
    carrier_sandbox.control("faults", carrier="ups", script=["lost"], handler="ship")  # the purchase's answer lost
    shipment = labels.buy_label(session, first, actor(), carrier="ups-main", packages=PACKAGE)
    assert shipment.status == "label_created" and shipment.labels[0].recovered
    assert shipment.labels[0].format == "ZPL" and shipment.labels[0].data.startswith(b"^XA")
    assert len(carrier_sandbox.control("state")["parcels"]) == 1  # bought once
    carrier_sandbox.control("faults", carrier="ups", script=["500"], handler="ship")
    carrier_sandbox.control("faults", carrier="ups", script=["500"] * 4, handler="recovery")
    uncertain = labels.buy_label(session, second, actor(), carrier="ups-main", packages=PACKAGE)
    assert uncertain.status == "label_uncertain" and uncertain.order.status == "packed"
    assert "recovery failed" in uncertain.label_error
    assert len(carrier_sandbox.control("state")["parcels"]) == 1  # never bought again by itself
    assert labels.recover(session, uncertain.id, actor()).status == "label_uncertain"  # still nothing there
    labels.nothing_bought(session, uncertain.id, actor(), "checked the UPS account")  # a person settles it
    again = labels.buy_label(session, second, actor(), carrier="ups-main", packages=PACKAGE)
    assert again.status == "label_created" and again.order.status == "shipped"
    assert len(carrier_sandbox.control("state")["parcels"]) == 2


def test_easypost_label_tracked_to_delivered_and_the_order_delivered(session, actor, accounts, packed,
                                                                      carrier_sandbox):
    order_id = packed()
    shipment = labels.buy_label(session, order_id, actor(), carrier="ep", packages=PACKAGE)
    assert labels.current_label(session, shipment.id).data.startswith(b"^XA")  # the account prints ZPL
    assert shipment.carrier == "USPS" and shipment.carrier_account.code == "ep"
    shipment_id = shipment.id
    carrier_sandbox.control("advance", hours=24 * 10)
    summary = tracking.poll(session, carrier="easypost")
    assert summary.asked == 1 and summary.new_events >= 6 and not summary.errors
    shipment = session.get(Shipment, shipment_id)
    assert shipment.status == "delivered" and shipment.delivered_at is not None
    assert shipment.order.status == "delivered" and shipment.next_track_at is None
    events = tracking.timeline(session, shipment_id)
    assert events[0].carrier_code == "01" and events[0].description == "Delivered, In/At Mailbox"
    assert tracking.poll(session).asked == 0  # never asked again after delivered


def test_an_exception_reaches_the_queue_and_waits_for_support(session, actor, accounts, packed, carrier_sandbox):
    carrier_sandbox.control("outcomes", outcomes=["address"])
    shipment = labels.buy_label(session, packed(), actor(), carrier="ups-main", packages=PACKAGE)
    shipment_id = shipment.id
    carrier_sandbox.control("advance", hours=24 * 3 + 20)  # the address problem, not yet delivered
    tracking.poll(session)
    [item] = exceptions.queue(session)
    assert item.problem == "address" and item.carrier_code == "UA" and "address" in item.description
    assert session.get(Shipment, shipment_id).status == "exception"
    with clock_at(utcnow() + timedelta(hours=30)):
        alerts.check(session)
    assert session.scalar(select(Alert).where(Alert.type == "delivery_exception")) is not None
    support = actor("support")
    exceptions.contacted(session, item.id, support, "Called the customer: flat number missing")
    exceptions.correct_address(session, item.id, support, {"line1": "969 Market St Apt 4", "city": "San Francisco",
                                                            "postcode": "94103", "country": "US"})
    exceptions.resolve(session, item.id, support, "Carrier told")
    session.expire_all()
    item = session.get(DeliveryException, item.id)
    assert item.status == "resolved" and [n["kind"] for n in item.notes] == ["contacted", "address"]


@pytest.fixture
def live(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_webhook_and_a_poll_of_the_same_events_store_them_once(app, session, actor, accounts, packed,
                                                                 carrier_sandbox, live, monkeypatch):
    monkeypatch.setitem(app.config, "OMS_PUBLIC_URL", live)
    shipment = labels.buy_label(session, packed(), actor(), carrier="ups-main", packages=PACKAGE)
    shipment_id, number = shipment.id, shipment.tracking_number
    session.rollback()
    deliver_outbox()  # carrier.subscribe: Track Alert for the label's number, pointing at us
    assert session.scalar(select(OutboxMessage.status).where(OutboxMessage.topic == "carrier.subscribe")) == "sent"
    session.rollback()  # end the read snapshot: the webhooks write from the server's threads
    carrier_sandbox.control("advance", hours=12)  # pickup and departure POSTed by Track Alert
    sent = [w for w in carrier_sandbox.control("state")["webhooks_sent"] if w["tracking_number"] == number]
    assert sent and all(w["status"] == 200 for w in sent)
    by_webhook = session.scalar(select(func.count(TrackingEvent.id)).where(TrackingEvent.shipment_id == shipment_id))
    assert by_webhook >= 2
    assert session.get(Shipment, shipment_id).status == "in_transit"
    summary = tracking.poll(session, now=utcnow() + timedelta(days=1))
    assert summary.asked == 1 and summary.new_events == 0  # the same events, answered by the poll
    sources = dict(session.execute(select(TrackingEvent.source, func.count()).where(
        TrackingEvent.shipment_id == shipment_id).group_by(TrackingEvent.source)).all())
    assert sources == {"webhook": by_webhook}


def test_carrier_webhooks_refuse_a_wrong_credential_or_signature(client_for, accounts):
    anonymous = client_for(None)
    assert anonymous.post("/webhooks/carriers/ups/ups-main", json={"trackingNumber": "1Z"},
                          headers={"credential": "wrong"}).status_code == 401
    assert anonymous.post("/webhooks/carriers/easypost/ep", data=b"{}",
                          headers={"X-Hmac-Signature": "hmac-sha256-hex=00"}).status_code == 401
    assert anonymous.post("/webhooks/carriers/ups/nope", json={}).status_code == 401
    signed = anonymous.post("/webhooks/carriers/ups/ups-main", data=b"not json",
                            headers={"credential": "ups-track-alert-credential"})
    assert signed.status_code == 422


def test_flask_oms_track_runs_one_pass(app, session, actor, accounts, packed, carrier_sandbox):
    labels.buy_label(session, packed(), actor(), carrier="ep", packages=PACKAGE)
    carrier_sandbox.control("advance", hours=12)
    result = app.test_cli_runner().invoke(args=["oms", "track", "--carrier", "ep"])
    assert result.exit_code == 0 and "track: 1 asked" in result.output, result.output
    again = app.test_cli_runner().invoke(args=["oms", "track"])
    assert "track: 0 asked" in again.output  # asked again only after the poll interval


@pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")
def test_the_same_update_recorded_by_parallel_workers_is_stored_once(app, session, actor, accounts, packed):
    """A webhook and a poll (here four workers) with the same events at the same moment."""
    from sqlalchemy.orm import Session as PlainSession

    from connectors.carriers.base import TrackingEvent as Event, TrackingUpdate

    shipment = shipments.ship(session, packed(), actor(), carrier="ups", tracking_number="1ZPARALLEL")
    shipment.carrier_account_id = carriers.get_account(session, "ups-main").id
    session.commit()
    account_id, shipment_id = shipment.carrier_account_id, shipment.id
    at = utcnow().replace(microsecond=0)
    update = TrackingUpdate("1ZPARALLEL", "unknown", events=[
        Event(at - timedelta(hours=2), "in_transit", "AR", "Arrived at Facility"),
        Event(at, "delivered", "FS", "DELIVERED")])
    barrier, results, errors = threading.Barrier(4), [], []

    def worker(source):
        with app.app_context(), PlainSession(db.engine) as own:
            barrier.wait()
            try:
                results.append(tracking.record(own, account_id, update, source=source))
            except Exception as exc:  # noqa: BLE001 — reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in ("webhook", "poll", "webhook", "poll")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(results) == [0, 0, 0, 2]
    session.expire_all()
    assert session.scalar(select(func.count(TrackingEvent.id)).where(TrackingEvent.shipment_id == shipment_id)) == 2
    delivered = session.get(Shipment, shipment_id)
    assert delivered.status == "delivered" and delivered.order.status == "delivered"


def test_easypost_tracker_updated_webhooks_reach_us_signed(session, actor, accounts, packed, carrier_sandbox, live):
    import easypost as easypost_sdk

    sdk = easypost_sdk.EasyPostClient(CARRIER_CREDENTIALS["easypost"]["api_key"],
                                      api_base=f"{carrier_sandbox.root}/easypost/v2")
    sdk.webhook.create(url=f"{live}/webhooks/carriers/easypost/ep", webhook_secret="ep-hmac")
    shipment = labels.buy_label(session, packed(), actor(), carrier="ep", packages=PACKAGE)
    shipment_id = shipment.id
    session.rollback()
    carrier_sandbox.control("advance", hours=24 * 10)  # one tracker.updated event, HMAC-signed
    [sent] = [w for w in carrier_sandbox.control("state")["webhooks_sent"] if "easypost" in w["url"]]
    assert sent["status"] == 200
    delivered = session.get(Shipment, shipment_id)
    assert delivered.status == "delivered" and delivered.order.status == "delivered"
    assert {e.source for e in delivered.tracking_events} == {"webhook"}


def test_a_parcel_is_asked_less_often_the_older_its_last_event():
    now = utcnow()
    assert tracking.next_look(now, now - timedelta(hours=2), 60) == now + timedelta(minutes=60)
    assert tracking.next_look(now, now - timedelta(days=2), 60) == now + timedelta(minutes=180)
    assert tracking.next_look(now, now - timedelta(days=5), 60) == now + timedelta(minutes=720)


def test_a_carrier_that_fails_is_asked_again_later_not_at_every_pass(session, actor, accounts, packed,
                                                                    carrier_sandbox):
    labels.buy_label(session, packed(), actor(), carrier="ups-main", packages=PACKAGE)
    carrier_sandbox.control("faults", carrier="ups", script=["500"] * 8, handler="track")
    summary = tracking.poll(session)
    assert summary.asked == 1 and summary.errors and "ups-main" in summary.errors[0]
    assert tracking.poll(session).asked == 0  # postponed by one poll interval
    assert tracking.poll(session, now=utcnow() + timedelta(hours=2)).asked == 1


def test_a_parcel_late_past_its_promise_reaches_the_queue(session, actor, accounts, packed, carrier_sandbox):
    carrier_sandbox.control("outcomes", outcomes=["address"])  # delivered two days late
    start = utcnow()
    shipment = labels.buy_label(session, packed(), actor(), carrier="ep", packages=PACKAGE)
    shipment_id = shipment.id
    carrier_sandbox.control("advance", hours=10)
    with clock_at(start + timedelta(hours=10)):
        tracking.poll(session)  # the carrier's first estimate: the promise
    promised = session.get(Shipment, shipment_id).promised_delivery
    assert promised is not None
    # two days out (zone 2), the address problem at 51 h, delivered at 100 h instead of 52 h
    carrier_sandbox.control("advance", hours=80)
    with clock_at(start + timedelta(hours=90)):
        tracking.poll(session)
    problems = sorted(item.problem for item in exceptions.queue(session))
    assert problems == ["address", "delay"]
    assert session.get(Shipment, shipment_id).promised_delivery == promised  # kept, not revised


def test_a_label_bought_while_the_order_was_held_is_confirmed_at_the_end_of_day(app, api_headers, session, actor,
                                                                               accounts, packed, carrier_sandbox):
    """The purchase's answer is lost and its lookup fails; meanwhile a hold is placed; the label
    found later is kept but not shipped: the end of day lists it and, the hold released, ship
    confirms it (one at a time or the warehouse's all at once)."""
    from app.services.fulfilment import floor
    from app.services.orders import actions as orders

    order_id = packed()
    carrier_sandbox.control("faults", carrier="ups", script=["lost"], handler="ship")
    carrier_sandbox.control("faults", carrier="ups", script=["500"] * 4, handler="recovery")
    uncertain = labels.buy_label(session, order_id, actor(), carrier="ups-main", packages=PACKAGE)
    assert uncertain.status == "label_uncertain"
    orders.place_hold(session, order_id, "manual", "customer called", actor("support"))
    found = labels.recover(session, uncertain.id, actor())  # the label is at UPS: kept, not shipped
    assert found.status == "label_created" and found.shipped_at is None and found.order.status == "packed"
    assert [s.id for s in floor.unshipped_labels(session)] == [found.id]
    warehouse_id = found.warehouse_id
    session.rollback()
    client = app.test_client()
    held = client.post(f"/api/v1/shipment/{found.id}/confirm", json={}, headers=api_headers("warehouse"))
    assert held.status_code == 409 and "on hold" in held.json["message"]
    everything = client.post("/api/v1/shipment/confirm_labelled", json={"warehouse_id": warehouse_id},
                             headers=api_headers("warehouse"))
    assert everything.json["result"]["shipped"] == []
    assert everything.json["result"]["waiting"][0]["shipment_id"] == found.id
    orders.release_hold(session, order_id, actor("support"), reason="manual")
    assert client.post("/api/v1/shipment/confirm_labelled", json={"warehouse_id": warehouse_id},
                       headers=api_headers("support")).status_code == 403
    everything = client.post("/api/v1/shipment/confirm_labelled", json={"warehouse_id": warehouse_id},
                             headers=api_headers("warehouse"))
    assert everything.json["result"] == {"shipped": [found.id], "waiting": []}
    session.expire_all()
    shipped = session.get(Shipment, found.id)
    assert shipped.order.status == "shipped" and shipped.shipped_at is not None and len(shipped.lines) == 1
    assert floor.unshipped_labels(session) == []
    again = client.post(f"/api/v1/shipment/{found.id}/confirm", json={}, headers=api_headers("warehouse"))
    assert again.status_code == 409 and "nothing to confirm" in again.json["message"]


def test_a_new_tracking_url_needs_the_credentials_again(session, actor, carrier_sandbox):
    """The tracking URL is where a DHL account's API key goes: changing it is guarded like the
    base URL's change."""
    from app.services.core.errors import ValidationFailed

    url = carrier_base_urls(carrier_sandbox.root)["dhl"]
    creds = dict(CARRIER_CREDENTIALS["dhl"])
    number = creds.pop("account_number", None)
    account = carriers.save_account(session, {"code": "dhl-1", "name": "DHL", "kind": "dhl", "base_url": url,
                                              "account_number": number}, actor(), credentials=creds)
    with pytest.raises(ValidationFailed) as refused:
        carriers.save_account(session, {"tracking_url": "https://collector.example"}, actor(), account.id)
    assert "change the tracking url" in str(refused.value.errors["credentials"])
    session.rollback()
    saved = carriers.save_account(session, {"tracking_url": url + "/"}, actor(), account.id, credentials=creds)
    assert saved.tracking_url == url and carriers.connector_account(saved).tracking_url == url


def test_a_batch_records_each_change_once_and_tells_it(session, actor, accounts, packed):
    """One batch, as a poll records it: a number twice, a multi-piece shipment named by its
    second package; both parcels delivered -> each change on the timeline by the job, one
    "delivered" mail each through the outbox, the order delivered once. The same batch
    again stores and tells nothing."""
    from connectors.carriers.base import TrackingEvent as Event, TrackingUpdate

    from app.models import OrderEvent, ShipmentPackage

    order_id = packed()
    first = shipments.ship(session, order_id, actor(), carrier="ups", tracking_number="1ZFIRST")
    ups = carriers.get_account(session, "ups-main")
    first.carrier_account_id = ups.id
    second = Shipment(order_id=order_id, warehouse_id=first.warehouse_id, carrier="ups", tracking_number="1ZSECOND",
                      status="in_transit", carrier_account_id=ups.id, created_by="test", created_at=utcnow())
    session.add(second)
    session.flush()
    session.add(ShipmentPackage(shipment_id=second.id, weight_kg=1, length_cm=10, width_cm=10, height_cm=10,
                                tracking_number="1ZSECOND-2"))
    session.commit()
    first_id, second_id = first.id, second.id
    at = utcnow().replace(microsecond=0)

    def delivered(number):
        return TrackingUpdate(number, "unknown", events=[
            Event(at - timedelta(hours=2), "out_for_delivery", "OT", "Out For Delivery Today"),
            Event(at, "delivered", "FS", "DELIVERED")])

    def told():
        timeline = session.execute(select(OrderEvent.type, OrderEvent.actor).where(
            OrderEvent.order_id == order_id, OrderEvent.type.in_(("tracking", "status_changed")))).all()
        mails = session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.topic == "notify.customer", OutboxMessage.order_id == order_id,
            OutboxMessage.dedupe_key.like("mail:delivered:%"))).all()
        return sorted(timeline), sorted(mails)

    batch = [delivered("1ZFIRST"), delivered("1ZSECOND-2"), delivered("1ZFIRST")]
    assert tracking.record_batch(session, ups.id, batch, source="poll") == 4
    session.expire_all()
    assert {session.get(Shipment, pk).status for pk in (first_id, second_id)} == {"delivered"}
    assert session.get(Shipment, second_id).order.status == "delivered"
    timeline, mails = told()
    assert timeline.count(("tracking", "job:poll_tracking")) == 2  # the order's two parcels
    assert timeline.count(("status_changed", "job:poll_tracking")) == 1  # shipped -> delivered
    assert mails == sorted(f"mail:delivered:{order_id}:{pk}" for pk in (first_id, second_id))
    assert tracking.record_batch(session, ups.id, batch, source="poll") == 0
    assert told() == (timeline, mails)
    assert session.scalar(select(func.count(TrackingEvent.id)).where(
        TrackingEvent.shipment_id.in_((first_id, second_id)))) == 4


def test_one_pass_asks_every_carrier_due_and_records_their_answers(session, actor, accounts, packed,
                                                                    carrier_sandbox):
    """UPS and EasyPost in one pass, asked by the fetch threads while the answers are recorded."""
    ids = [labels.buy_label(session, packed(), actor(), carrier=code, packages=PACKAGE).id
           for code in ("ups-main", "ep", "ups-main")]
    carrier_sandbox.control("advance", hours=24 * 10)
    summary = tracking.poll(session)
    assert summary.asked == 3 and not summary.errors and summary.new_events >= 12
    session.expire_all()
    assert [session.get(Shipment, pk).status for pk in ids] == ["delivered"] * 3
    assert all(session.get(Shipment, pk).order.status == "delivered" for pk in ids)
    assert tracking.poll(session).asked == 0
