"""Carriers II through the services, against the carrier sandbox over real HTTP: rate shopping
by shipping rules ("why this carrier" kept on the shipment), carriers per warehouse, a failing
or slow carrier left out with its reason, customs lines (a missing HS code is a 422 naming the
product before anything is bought), box presets, USPS/DHL purchases whose answer is lost,
DHL voids marked with us only, manifests (USPS SCAN form, FedEx Ground close, our own PDF)."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from connectors.carriers.base import CarrierRetryable, Rate
from connectors.sandbox import CARRIER_CREDENTIALS, carrier_base_urls

from app.extensions import db
from app.models import Manifest, OrderEvent, OutboxMessage, Shipment
from app.services.core import outbox_sender
from app.services.core.errors import ValidationFailed
from app.services.fulfilment import boxes, carriers, dry_run, labels, manifests, shipments, shipping_rules
from app.services.inventory import reference

from .conftest import PACKAGE


@pytest.fixture
def accounts(session, actor, carrier_sandbox, fast):
    urls = carrier_base_urls(carrier_sandbox.root)
    codes = {}
    for kind in ("fedex", "usps", "dhl", "ups"):
        creds = dict(CARRIER_CREDENTIALS[kind])
        number = creds.pop("account_number")
        account = carriers.save_account(session, {"code": f"{kind}-1", "name": kind.upper(), "kind": kind,
                                                  "base_url": urls[kind], "account_number": number}, actor(),
                                        credentials=creds)
        codes[kind] = account.code
    return codes


@pytest.fixture
def shop(session, make, actor):
    channel, warehouse = make.channel(), make.warehouse()
    product = make.product("TEE-1", stock={warehouse: 20})
    reference.save(session, "product", {"weight_kg": "0.3", "length_cm": "25", "width_cm": "20", "height_cm": "3"},
                   actor(), product.id)

    def packed(country="US", method=None, quantity=1):
        order = make.order(channel, [("TEE-1", quantity, "20.00")], country=country, shipping_method=method)
        shipments.start_picking(session, order.id, actor("warehouse"))
        shipments.mark_packed(session, order.id, actor("warehouse"))
        return order.id
    return {"channel": channel, "warehouse": warehouse, "product": product, "packed": packed}


def buy(session, actor, order_id, carrier="auto", packages=PACKAGE):
    return labels.buy_label(session, order_id, actor("warehouse"), carrier=carrier, packages=packages)


def test_auto_rule_fastest_for_express_and_the_fallback_cheapest(session, actor, accounts, shop):
    shipping_rules.map_method(session, "Express", "express", actor(), promise_days=2)
    shipping_rules.save_rule(session, {"name": "Express goes fast", "priority": 10, "service_level": "express",
                                       "carriers": ["fedex-1", "ups-1"], "strategy": "fastest"}, actor())
    express = buy(session, actor, shop["packed"](method="Express"))
    record = express.rate_decision
    assert express.status == "label_created" and record["rule"].startswith("rule 'Express goes fast'")
    assert {r["account"] for r in record["considered"]} == {"fedex-1", "ups-1"}
    assert record["chosen"]["days"] == 1 and express.carrier_account.code == record["chosen"]["account"]
    # among the one-day services the cheaper one
    one_day = [Decimal(r["amount"]) for r in record["considered"] if r["days"] == 1]
    assert Decimal(record["chosen"]["amount"]) == min(one_day)
    why = shipping_rules.explain(record)
    assert "fastest of" in why and "within the promised 2 day(s)" in why

    plain = buy(session, actor, shop["packed"]())  # no mapping, no rule: the fallback
    record = plain.rate_decision
    assert record["rule"] == shipping_rules.FALLBACK and record["strategy"] == "cheapest"
    assert {r["account"] for r in record["considered"]} == {"fedex-1", "usps-1", "dhl-1", "ups-1"}
    assert Decimal(record["chosen"]["amount"]) == min(Decimal(r["amount"]) for r in record["considered"])


def test_carriers_per_warehouse_and_a_failing_carrier_is_left_out_with_its_reason(session, actor, accounts, shop,
                                                                                   carrier_sandbox):
    shipping_rules.allow_carriers(session, shop["warehouse"].id, ["usps-1", "dhl-1"], actor())
    carrier_sandbox.control("faults", carrier="dhl", script=["400"], handler="rates")
    shipment = buy(session, actor, shop["packed"]())
    record = shipment.rate_decision
    assert {r["account"] for r in record["considered"]} == {"usps-1"} and shipment.carrier_account.code == "usps-1"
    assert "dhl-1" in record["left_out"] and "dhl-1" in shipping_rules.explain(record)


def test_a_slow_carrier_is_left_out_after_the_time_limit():
    release = threading.Event()

    class Slow:
        def rates(self, request):
            release.wait(5)
            raise CarrierRetryable("too late")

    class Quick:
        def rates(self, request):
            return [Rate("quick", "S", "Standard", Decimal("5.00"), "USD", 3)]

    class Broken:
        def rates(self, request):
            raise CarrierRetryable("quick: 503 Service Unavailable")

    quotes, left_out = shipping_rules.gather({"slow": Slow(), "quick": Quick(), "broken": Broken()}, None, 0.3)
    release.set()
    assert [c for c, _ in quotes] == ["quick"]
    assert left_out == {"slow": "no answer within 0.3 s", "broken": "quick: 503 Service Unavailable"}


def test_rules_are_validated_and_a_dry_run_shows_what_each_would_choose(session, actor, accounts, shop):
    with pytest.raises(ValidationFailed) as error:
        shipping_rules.save_rule(session, {"name": "x", "carriers": ["nope"]}, actor())
    assert "carriers" in error.value.errors
    with pytest.raises(ValidationFailed) as error:
        shipping_rules.save_rule(session, {"name": "x", "strategy": "random"}, actor())
    assert "strategy" in error.value.errors
    buy(session, actor, shop["packed"](), carrier="usps-1")
    rule = shipping_rules.save_rule(session, {"name": "FedEx only", "carriers": ["fedex-1"]}, actor())
    [row] = dry_run.dry_run(session, rule.id)
    assert row["chosen"]["account"] == "fedex-1" and row["was"]["account"] == "usps-1" and row["amount"]


def test_customs_lines_reach_the_label_and_a_missing_hs_code_is_a_422_naming_the_product(session, actor, accounts,
                                                                                        shop, carrier_sandbox):
    order_id = shop["packed"](country="DE", quantity=2)
    with pytest.raises(ValidationFailed) as error:
        buy(session, actor, order_id, carrier="dhl-1")
    assert "customs" in error.value.errors and "TEE-1" in error.value.message
    assert carrier_sandbox.control("state")["parcels"] == []  # nothing bought
    reference.save(session, "product", {"hs_code": "6109.10", "origin_country": "pt"}, actor(), shop["product"].id)
    shipment = buy(session, actor, order_id, carrier="dhl-1")
    parcel = carrier_sandbox.hub.state.parcels[shipment.tracking_number]
    [line] = parcel.data["export"]["lineItems"]
    assert (line["commodityCodes"][0]["value"], line["manufacturerCountry"], line["quantity"]["value"]) == (
        "6109.10", "PT", 2)
    with pytest.raises(ValidationFailed) as error:
        reference.save(session, "product", {"hs_code": "shirt"}, actor(), shop["product"].id)
    assert "hs_code" in error.value.errors


def test_box_presets_weight_from_items_plus_tare_and_the_smallest_box_that_fits(session, actor, accounts, shop):
    warehouse = shop["warehouse"]
    small = boxes.save_box(session, warehouse.id, {"name": "Small", "length_cm": "20", "width_cm": "15",
                                                     "height_cm": "5", "tare_kg": "0.1", "max_weight_kg": "2"}, actor())
    mailer = boxes.save_box(session, warehouse.id, {"name": "Mailer", "length_cm": "30", "width_cm": "22",
                                                      "height_cm": "6", "tare_kg": "0.15", "max_weight_kg": "3"},
                              actor())
    boxes.save_box(session, warehouse.id, {"name": "Large", "length_cm": "40", "width_cm": "30", "height_cm": "30",
                                             "tare_kg": "0.5", "max_weight_kg": "20"}, actor())
    with pytest.raises(ValidationFailed) as error:
        boxes.save_box(session, warehouse.id, {"name": "Small", "length_cm": "1", "width_cm": "1", "height_cm": "1",
                                                 "tare_kg": "0", "max_weight_kg": "1"}, actor())
    assert "name" in error.value.errors
    one, three = shop["packed"](), shop["packed"](quantity=3)
    from app.models import Order

    assert boxes.suggest_box(session, session.get(Order, one), warehouse.id).id == mailer.id  # Small is too short
    assert boxes.suggest_box(session, session.get(Order, three), warehouse.id).name == "Large"
    assert small.volume_cm3 < mailer.volume_cm3
    shipment = buy(session, actor, three, carrier="usps-1", packages=[{"box_preset_id": mailer.id}])
    [package] = shipment.packages
    assert package.weight_kg == Decimal("1.050") and package.length_cm == Decimal("30")  # 3 × 0.3 + 0.15


def test_usps_lost_purchase_waits_for_a_person_and_dhl_void_is_ours_only(session, actor, accounts, shop,
                                                                        carrier_sandbox):
    carrier_sandbox.control("faults", carrier="usps", script=["lost"], handler="label")
    uncertain = buy(session, actor, shop["packed"](), carrier="usps-1")
    assert uncertain.status == "label_uncertain" and uncertain.labels == []
    assert len(carrier_sandbox.control("state")["parcels"]) == 1  # bought once, never again by itself

    shipment = buy(session, actor, shop["packed"](), carrier="dhl-1")
    labels.void(session, shipment.id, actor("warehouse"))
    outbox_sender.send_pass(db.engine)
    session.expire_all()
    assert session.get(Shipment, shipment.id).status == "voided"
    assert session.scalar(select(OutboxMessage.status).where(OutboxMessage.topic == "carrier.void")) == "sent"
    assert not carrier_sandbox.hub.state.parcels[shipment.tracking_number].voided  # DHL never heard of it


def test_manifests_scan_form_ground_close_and_our_own_pdf(session, actor, accounts, shop):
    warehouse = shop["warehouse"]
    usps_one = buy(session, actor, shop["packed"](), carrier="usps-1")
    ground = labels.buy_label(session, shop["packed"](), actor("warehouse"), carrier="fedex-1",
                              service="FEDEX_GROUND", packages=PACKAGE)
    overnight = labels.buy_label(session, shop["packed"](), actor("warehouse"), carrier="fedex-1",
                                 service="PRIORITY_OVERNIGHT", packages=PACKAGE)
    ups_one = buy(session, actor, shop["packed"](), carrier="ups-1")
    scan_id = manifests.close(session, "usps-1", warehouse.id, actor("warehouse")).id
    close_id = manifests.close(session, "fedex-1", warehouse.id, actor("warehouse")).id
    outbox_sender.send_pass(db.engine)  # the carriers' closes go through the outbox (carrier.manifest)
    session.rollback()  # a fresh snapshot: the send pass wrote from its own sessions
    scan, close = session.get(Manifest, scan_id), session.get(Manifest, close_id)
    assert scan.kind == "scan_form" and scan.reference.startswith("9475") and scan.document.startswith(b"%PDF")
    assert scan.tracking_numbers == [usps_one.tracking_number]
    assert close.kind == "ground_close" and close.tracking_numbers == [ground.tracking_number]
    assert close.reference.startswith("GC") and close.document
    rest = manifests.close(session, "fedex-1", warehouse.id, actor("warehouse"))  # not Ground: ours
    assert rest.kind == "local" and rest.tracking_numbers == [overnight.tracking_number]
    local = manifests.close(session, "ups-1", warehouse.id, actor("warehouse"))
    assert local.kind == "local" and local.document.startswith(b"%PDF") and local.shipment_count == 1
    assert session.get(Shipment, ups_one.id).manifest_id == local.id
    with pytest.raises(ValidationFailed):
        manifests.close(session, "usps-1", warehouse.id, actor("warehouse"))  # nothing new
    assert session.query(Manifest).count() == 4


def test_a_warehouse_s_carriers_are_set_on_its_page_and_through_the_api(app, api_headers, client_for, session,
                                                                       actor, accounts, shop):
    from app.models import AuditLog, Warehouse
    from tests.views.conftest import post

    warehouse_id = shop["warehouse"].id
    session.rollback()
    client, url = app.test_client(), f"/api/v1/warehouse/{warehouse_id}/carriers"
    assert client.get(url, headers=api_headers("viewer")).json["result"] == {"warehouse_id": warehouse_id,
                                                                            "carriers": []}
    assert client.put(url, json={"carriers": ["usps-1"]}, headers=api_headers("viewer")).status_code == 403
    response = client.put(url, json={"carriers": [" USPS-1 ", "dhl-1"]}, headers=api_headers("operations"))
    assert response.status_code == 200 and response.json["result"]["carriers"] == ["dhl-1", "usps-1"]
    refused = client.put(url, json={"carriers": ["nope-1"]}, headers=api_headers("operations"))
    assert refused.status_code == 422 and "unknown carrier account(s): nope-1" in str(refused.json)
    assert client.put("/api/v1/warehouse/999999/carriers", json={"carriers": []},
                      headers=api_headers("operations")).status_code == 404
    assert shipping_rules.carriers_of(db.session, warehouse_id) == ["dhl-1", "usps-1"]
    [change] = [a.changes for a in db.session.scalars(select(AuditLog)) if "carriers" in (a.changes or {})]
    assert change["carriers"] == {"old": [], "new": ["dhl-1", "usps-1"]}

    page = client_for("operations")
    edit = page.get(f"/warehouses/edit/{warehouse_id}").get_data(as_text=True)
    assert 'value="dhl-1, usps-1"' in edit
    form = {"code": shop["warehouse"].code, "name": "Main", "country": "US", "priority": "100",
            "carriers": "ups-1", "active": "y"}
    assert post(page, f"/warehouses/edit/{warehouse_id}", form).status_code == 302
    assert shipping_rules.carriers_of(db.session, warehouse_id) == ["ups-1"]
    # an unknown account: refused, and the warehouse's other changes are not kept either
    html = post(page, f"/warehouses/edit/{warehouse_id}", dict(form, name="Renamed", carriers="ghost")).get_data(
        as_text=True)
    assert "unknown carrier account(s): ghost" in html
    db.session.expire_all()
    assert db.session.get(Warehouse, warehouse_id).name == "Main"


def test_a_carrier_manifest_goes_through_the_outbox_and_is_never_closed_twice(session, actor, accounts, shop,
                                                                                carrier_sandbox):
    """Over real HTTP: a USPS SCAN form whose answer is lost is not asked again by itself
    (uncertain, for a person); a FedEx Ground close whose answer is lost is sent again (the
    close is repeatable) and recorded once; a refused close releases its shipments."""
    warehouse, state = shop["warehouse"], carrier_sandbox.hub.state

    def forms(carrier):
        return [m for m in state.manifests if m["carrier"] == carrier]

    def send():
        outbox_sender.send_pass(db.engine)
        session.rollback()  # a fresh snapshot: the send pass wrote from its own sessions

    usps_one = buy(session, actor, shop["packed"](), carrier="usps-1")
    carrier_sandbox.control("faults", carrier="usps", handler="scan_form", script=["lost"])
    scan_id = manifests.close(session, "usps-1", warehouse.id, actor("warehouse")).id
    with pytest.raises(ValidationFailed):  # its shipment is taken while the carrier is asked
        manifests.close(session, "usps-1", warehouse.id, actor("warehouse"))
    send()
    send()
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "carrier.manifest"))
    assert message.status == "uncertain" and message.attempts == 1
    assert session.get(Manifest, scan_id).status == "pending" and len(forms("usps")) == 1  # asked once
    assert session.get(Shipment, usps_one.id).manifest_id == scan_id
    said = session.scalars(select(OrderEvent.type).where(OrderEvent.order_id == usps_one.order_id)).all()
    assert "manifest_requested" in said and "manifest_uncertain" in said

    ground = labels.buy_label(session, shop["packed"](), actor("warehouse"), carrier="fedex-1",
                              service="FEDEX_GROUND", packages=PACKAGE)
    carrier_sandbox.control("faults", carrier="fedex", handler="close", script=["lost"])
    close_id = manifests.close(session, "fedex-1", warehouse.id, actor("warehouse")).id
    send()
    close = session.get(Manifest, close_id)
    assert close.status == "closed" and close.reference.startswith("GC") and close.document and close.tracking_numbers == [ground.tracking_number]
    assert [m["numbers"] for m in forms("fedex")] == [[ground.tracking_number], []]  # closed once at FedEx
    send()
    assert len(forms("fedex")) == 2  # sent: never asked again

    usps_two = buy(session, actor, shop["packed"](), carrier="usps-1")
    carrier_sandbox.control("faults", carrier="usps", handler="scan_form", script=["400"])
    refused_id = manifests.close(session, "usps-1", warehouse.id, actor("warehouse")).id
    send()
    assert session.get(Manifest, refused_id).status == "refused" and session.get(Shipment, usps_two.id).manifest_id is None
    again = manifests.close(session, "usps-1", warehouse.id, actor("warehouse"))  # waits for the next close
    assert again.tracking_numbers == [usps_two.tracking_number]
    send()
    again = session.get(Manifest, again.id)
    assert again.status == "closed" and again.reference.startswith("9475")
