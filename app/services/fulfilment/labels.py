"""Labels: rates for an order's packages, buying a label and shipping with it, downloads and
reprints, voids through the outbox (DESIGN.md "Fulfilment", "Outbox").

A label costs money, so a purchase is recorded before it is sent and never repeated blindly:
1. the carrier's rates (EasyPost: this creates its shipment, whose id we keep);
2. one transaction writes the shipment as ``label_uncertain`` with our reference (UPS keeps
   it) and the carrier's shipment id (EasyPost) — a crash from here on leaves a record a
   person or ``recover`` can follow;
3. the purchase, sent once (no retry in the session);
4. one transaction attaches the label, ``label_created``, and ship-confirms the order.
An answer that never came (``CarrierOutcomeUnknown``) is recovered where the carrier allows
(UPS label recovery by our reference, EasyPost by the stored shipment id); when nothing is
found the shipment stays ``label_uncertain`` for a person: never bought again by itself.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.base import (Address, CarrierError, CarrierOutcomeUnknown, Label, Package, Rate,
                                      ShipmentRequest)

from app.models import CarrierAccount, Shipment, ShipmentLabel, ShipmentPackage, Warehouse
from app.models.base import utcnow
from app.services.core import events, outbox
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.services.core.outbox import Message, PermanentError, RetryableError, Sent
from app.services.core.transaction import transactional, write_intent
from app.services.fulfilment import boxes, carriers, printing, shipments, shipping_rules
from app.services.orders import actions as orders

VOID_TOPIC = "carrier.void"
SUBSCRIBE_TOPIC = "carrier.subscribe"
MAX_PACKAGES = 20
DIMENSION_LIMITS = {"weight_kg": Decimal("150"), "length_cm": Decimal("300"), "width_cm": Decimal("300"),
                    "height_cm": Decimal("300")}


class CarrierUnavailable(DomainError):
    """The carrier could not be reached or refused for now: nothing was bought; try again."""
    status = 503
    code = "carrier_unavailable"


# --- what a request is made of ------------------------------------------------------------------

def clean_packages(values) -> list[Package]:
    if not isinstance(values, list) or not values:
        raise ValidationFailed.field("packages", "give at least one package (weight_kg, length_cm, width_cm, height_cm)")
    if len(values) > MAX_PACKAGES:
        raise ValidationFailed.field("packages", f"at most {MAX_PACKAGES} packages")
    packages = []
    for n, item in enumerate(values):
        if not isinstance(item, dict):
            raise ValidationFailed.field(f"packages.{n}", "must be an object")
        numbers = {}
        for key, limit in DIMENSION_LIMITS.items():
            try:
                value = Decimal(str(item.get(key)))
            except (InvalidOperation, ValueError):
                raise ValidationFailed.field(f"packages.{n}.{key}", "must be a number") from None
            if not value.is_finite() or value <= 0 or value > limit:
                raise ValidationFailed.field(f"packages.{n}.{key}", f"must be above 0 and at most {limit}")
            numbers[key] = value
        packages.append(Package(**numbers))
    return packages


def _ship_to(order) -> Address:
    address = order.shipping_address or {}
    missing = [k for k in ("line1", "city", "postcode", "country") if not address.get(k)]
    if missing:
        raise ValidationFailed.field("shipping_address", f"the order's address lacks {', '.join(missing)}")
    return Address(name=address.get("name") or order.customer_name or "", street1=address["line1"],
                   street2=address.get("line2"), city=address["city"], postcode=address["postcode"],
                   country=address["country"], region=address.get("region"), company=address.get("company"),
                   phone=address.get("phone") or order.phone, email=order.email)


def _ship_from(warehouse: Warehouse) -> Address:
    return Address(name=warehouse.name, street1=warehouse.address_line1 or warehouse.name,
                   city=warehouse.city or "", postcode=warehouse.postcode or "", country=warehouse.country)


def _account(session: Session, code) -> CarrierAccount:
    account = carriers.get_account(session, code)
    if not account.enabled:
        raise ValidationFailed.field("carrier", f"carrier account {account.code} is disabled")
    if account.kind == "manual":
        raise ValidationFailed.field("carrier", "a manual carrier buys no labels: ship with a typed tracking number")
    return account


@dataclass(frozen=True)
class Quote:
    account: str
    rate: Rate


def _request(session: Session, order, packages: list[Package], warehouse_id: int | None,
             label_format: str, reference: str) -> ShipmentRequest:
    allocations = shipments.open_allocations(session, order, warehouse_id)
    warehouse = session.get(Warehouse, warehouse_id or allocations[0].warehouse_id)
    ship_from, ship_to = _ship_from(warehouse), _ship_to(order)
    # international: customs lines go with the rates and the label (a missing HS code is a 422 here)
    customs = boxes.customs_lines(order) if ship_from.country.upper() != ship_to.country.upper() else ()
    return ShipmentRequest(ship_from, ship_to, tuple(packages), reference, label_format, customs)


def _carrier_call(fn):
    try:
        return fn()
    except CarrierOutcomeUnknown:
        raise
    except CarrierError as exc:
        if exc.retryable:
            raise CarrierUnavailable(f"{exc.message} — nothing was bought; try again") from None
        raise ValidationFailed.field("carrier", exc.message) from None


def rates(session: Session, order_id: int, packages, *, carrier: str | None = None,
          warehouse_id: int | None = None) -> list[Quote]:
    """Every enabled account's rates (or one account's), cheapest first. Reads only."""
    order = orders.get_order(session, order_id)
    packages = clean_packages(packages)
    accounts = [_account(session, carrier)] if carrier else list(session.scalars(
        select(CarrierAccount).where(CarrierAccount.enabled.is_(True), CarrierAccount.kind != "manual")
        .order_by(CarrierAccount.code)))
    request = _request(session, order, packages, warehouse_id, "PDF", f"quote-{uuid.uuid4().hex[:12]}")
    quotes = []
    for account in accounts:
        client = carriers.client(account)
        quotes += [Quote(account.code, rate) for rate in _carrier_call(lambda: client.rates(request))]
    session.rollback()  # a read: end the snapshot before the caller's next transaction
    return sorted(quotes, key=lambda q: q.rate.amount)


# --- buying --------------------------------------------------------------------------------------

@transactional
def _record_intent(session: Session, order_id: int, account_id: int, rate: Rate, reference: str,
                   packages: list[Package], warehouse_id: int, actor: Actor, decision: dict | None = None) -> int:
    order = shipments.packed_order(session, order_id)
    pending = session.scalar(select(Shipment.id).where(Shipment.order_id == order.id,
                                                       Shipment.status == "label_uncertain"))
    if pending is not None:
        raise Conflict(f"Order {order.order_number} has a label purchase whose outcome is not known yet "
                       f"(shipment {pending}): settle it first")
    account = session.get(CarrierAccount, account_id)
    shipment = Shipment(order=order, warehouse_id=warehouse_id, carrier=account.kind, carrier_account_id=account.id,
                        service=rate.service[:64], status="label_uncertain", label_reference=reference,
                        carrier_shipment_id=rate.carrier_shipment_id, created_by=actor.label, created_at=utcnow(),
                        rate_decision=decision,
                        packages=[ShipmentPackage(weight_kg=p.weight_kg, length_cm=p.length_cm, width_cm=p.width_cm,
                                                  height_cm=p.height_cm) for p in packages])
    session.add(shipment)
    session.flush()
    why = f" — {shipping_rules.explain(decision)}" if decision else ""
    events.order_event(session, order, actor, "label_purchase",
                       f"Buying a {account.code} {rate.service_name} label ({rate.amount} {rate.currency}){why}"[:1000],
                       {"shipment_id": shipment.id, "reference": reference})
    return shipment.id


@transactional
def _attach(session: Session, shipment_id: int, label: Label, actor: Actor, *, recovered: bool = False) -> Shipment:
    """The label is bought: keep it, ship-confirm the order (stock leaves, ``shipment.created``)."""
    shipment = session.get(Shipment, shipment_id, with_for_update=True)
    if shipment.status != "label_uncertain":
        raise Conflict(f"Shipment {shipment_id} is {shipment.status}: its label was settled already")
    order = orders.get_order(session, shipment.order_id, for_update=True)
    now = utcnow()
    stored = ShipmentLabel(
        carrier=shipment.carrier, service=label.service or shipment.service, tracking_number=label.tracking_number,
        format=label.format, data=label.data, cost=label.cost, currency=label.currency,
        carrier_shipment_id=label.carrier_shipment_id, package_tracking_numbers=list(label.package_tracking_numbers),
        recovered=recovered, created_at=now)
    shipment.labels.append(stored)
    shipment.tracking_number, shipment.status, shipment.label_error = label.tracking_number, "label_created", None
    shipment.carrier_shipment_id = label.carrier_shipment_id or shipment.carrier_shipment_id
    if shipment.carrier == "easypost" and ":" in label.service:
        # an aggregator's label: the parcel travels with the carrier it names ("USPS:Priority"),
        # which is what the channel and the customer are told
        shipment.carrier = label.service.split(":", 1)[0][:32]
    if label.cost is not None:
        shipment.cost, shipment.currency = label.cost, label.currency
    for package, number in zip(shipment.packages, label.package_tracking_numbers):
        package.tracking_number = number
    shipment.next_track_at = now  # shipped_at: when it is ship-confirmed
    _ship_confirm(session, order, shipment, actor)
    _subscribe_later(session, shipment)
    printing.on_label_bought(session, shipment, stored)  # a ZPL label to the warehouse's printer
    if recovered:
        events.order_event(session, order, actor, "label_recovered",
                           f"Label {label.tracking_number} found at the carrier after an unanswered purchase: "
                           "not bought again", {"shipment_id": shipment.id})
    return shipment


def _ship_confirm(session: Session, order, shipment: Shipment, actor: Actor) -> None:
    """Ship-confirm with the label; a label bought is kept even when the order changed while
    it was bought (held, cancelled): then the confirm waits for a person."""
    if order.status == "packed" and not order.is_held:
        try:
            allocations = shipments.open_allocations(session, order, shipment.warehouse_id)
        except ValidationFailed:
            allocations = []
        if allocations:
            shipments.confirm(session, order, shipment, allocations, actor)
            return
    events.order_event(session, order, actor, "label_not_shipped",
                       f"Label {shipment.tracking_number} bought, but the order is {order.status}"
                       f"{' and held' if order.is_held else ''}: not ship-confirmed; confirm or void it "
                       "at the end of day",
                       {"shipment_id": shipment.id})


@transactional
def confirm_label(session: Session, shipment_id: int, actor: Actor) -> Shipment:
    """Ship confirm with a label bought earlier whose order was not confirmed then (it was
    held or changed meanwhile, and is packed and free again): the end of day's action."""
    shipment = session.get(Shipment, shipment_id, with_for_update=True)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found")
    if shipment.status != "label_created" or shipment.shipped_at is not None or shipment.lines:
        raise Conflict(f"Shipment {shipment_id} is {shipment.status}"
                       f"{' and shipped' if shipment.shipped_at else ''}: nothing to confirm")
    order = shipments.packed_order(session, shipment.order_id)
    shipments.confirm(session, order, shipment, shipments.open_allocations(session, order, shipment.warehouse_id),
                      actor)
    return shipment


def _public_url() -> str:
    from flask import current_app, has_app_context

    return (current_app.config.get("OMS_PUBLIC_URL") or "").rstrip("/") if has_app_context() else ""


def _subscribe_later(session: Session, shipment: Shipment) -> None:
    """UPS pushes a parcel's events only to numbers subscribed to Track Alert: subscribe
    through the outbox when carriers can reach us (OMS_PUBLIC_URL) and a credential is set."""
    account = shipment.carrier_account
    if account.kind != "ups" or not account.webhook_secret_encrypted or not _public_url():
        return
    outbox.enqueue(session, SUBSCRIBE_TOPIC, account.code, {"shipment_id": shipment.id},
                   dedupe_key=f"{SUBSCRIBE_TOPIC}:{shipment.id}", group_key=f"shipment:{shipment.id}",
                   order_id=shipment.order_id)


def _subscribe_handler(message: Message) -> Sent:
    """``carrier.subscribe``: Track Alert for the shipment's numbers (subscribing twice is harmless)."""
    from sqlalchemy.orm import Session as PlainSession

    from app.extensions import db

    with PlainSession(db.engine) as session:
        shipment = session.get(Shipment, message.payload["shipment_id"])
        if shipment is None or not shipment.tracking_number:
            return Sent(note="no tracking number to follow")
        account = shipment.carrier_account
        numbers = [p.tracking_number for p in shipment.packages if p.tracking_number] or [shipment.tracking_number]
        url = f"{_public_url()}/webhooks/carriers/{account.kind}/{account.code}"
        client, credential = carriers.client(account), carriers.webhook_secret_of(account)
    try:
        valid = client.subscribe(numbers, url, credential)
    except CarrierError as exc:
        raise (RetryableError if exc.retryable else PermanentError)(exc.message,
                                                                   retry_after=exc.retry_after) from None
    return Sent(note=f"{len(valid)} of {len(numbers)} number(s) subscribed")


@transactional
def _abandon(session: Session, shipment_id: int, actor: Actor, why: str) -> None:
    """Nothing was bought: the intent goes away (the order stays packed)."""
    shipment = session.get(Shipment, shipment_id, with_for_update=True)
    if shipment is None or shipment.status != "label_uncertain":
        return
    events.order_event(session, shipment.order, actor, "label_failed", f"Label not bought: {why}"[:1000],
                       {"shipment_id": shipment_id})
    session.delete(shipment)


@transactional
def _uncertain(session: Session, shipment_id: int, actor: Actor, why: str) -> Shipment:
    shipment = session.get(Shipment, shipment_id, with_for_update=True)
    shipment.label_error = why[:2000]
    events.order_event(session, shipment.order, actor, "label_uncertain",
                       f"The carrier did not answer the label purchase and no label was found: check the "
                       f"carrier account before buying again ({why})"[:1000], {"shipment_id": shipment_id})
    return shipment


def _recover(account: CarrierAccount, shipment: Shipment, label_format: str) -> Label | None:
    client = carriers.client(account)
    if account.kind == "ups":
        return client.recover_label(shipment.label_reference, label_format)
    if account.kind == "easypost" and shipment.carrier_shipment_id:
        return client.recover_label(shipment.carrier_shipment_id, label_format)
    return None


def _choose(quotes: list[Rate], service: str) -> Rate:
    if not quotes:
        raise ValidationFailed.field("service", "the carrier offered no rate for these packages")
    if service in (None, "", "auto"):
        return quotes[0]
    chosen = next((q for q in quotes if q.service == service), None)
    if chosen is None:
        raise ValidationFailed.field("service", f"not offered; choose one of {', '.join(q.service for q in quotes)}")
    return chosen


def buy_label(session: Session, order_id: int, actor: Actor, *, carrier: str, packages, service: str = "auto",
              warehouse_id: int | None = None, label_format: str | None = None) -> Shipment:
    """Buy a label for a packed order and ship it (see the module's steps). Spans several
    transactions on purpose: never call it inside another one."""
    order = shipments.packed_order(session, order_id)
    warehouse_id = warehouse_id or shipments.open_allocations(session, order)[0].warehouse_id
    packages = clean_packages(boxes.packages_from(session, order, packages, warehouse_id))
    auto = carrier == "auto"
    account = None if auto else _account(session, carrier)
    # the format: asked for, else the warehouse's printer, else the account's
    label_format = (label_format or session.get(Warehouse, warehouse_id).label_format
                    or (account.label_format if account else "PDF"))
    if label_format not in ("PDF", "ZPL"):
        raise ValidationFailed.field("label_format", "must be PDF or ZPL")
    reference = f"wb-{order.id}-{uuid.uuid4().hex[:10]}"
    request = _request(session, order, packages, warehouse_id, label_format, reference)
    decision = None
    if auto:  # rate shopping: the shipping rules choose account and service, and say why
        decision = shipping_rules.decide(session, order, request, warehouse_id)
        account = _account(session, decision.account)
    account_id = account.id
    session.rollback()  # no lock held across the carrier's answers
    client = carriers.client(session.get(CarrierAccount, account_id))
    rate = decision.rate if decision else _choose(_carrier_call(lambda: client.rates(request)), service)
    shipment_id = _record_intent(session, order_id, account_id, rate, reference, packages, warehouse_id, actor,
                                 decision.record if decision else None)
    try:
        label = _carrier_call(lambda: client.buy_label(request, rate))
    except CarrierOutcomeUnknown as exc:
        return recover(session, shipment_id, actor, why=exc.message)
    except DomainError as exc:
        _abandon(session, shipment_id, actor, exc.message)
        raise
    return _attach(session, shipment_id, label, actor)


def recover(session: Session, shipment_id: int, actor: Actor, *, why: str = "checked again") -> Shipment:
    """Look for the label an unanswered purchase may have bought; attach it when found,
    else leave the shipment ``label_uncertain`` for a person. Never buys."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found")
    if shipment.status != "label_uncertain":
        raise Conflict(f"Shipment {shipment_id} is {shipment.status}: nothing to recover")
    account = shipment.carrier_account
    label_format = (shipment.warehouse.label_format if shipment.warehouse else None) or account.label_format
    session.rollback()
    try:
        found = _recover(session.get(CarrierAccount, account.id), session.get(Shipment, shipment_id), label_format)
    except CarrierError as exc:
        return _uncertain(session, shipment_id, actor, f"{why}; recovery failed: {exc.message}")
    if found is None:
        return _uncertain(session, shipment_id, actor, why)
    return _attach(session, shipment_id, found, actor, recovered=True)


@transactional
def nothing_bought(session: Session, shipment_id: int, actor: Actor, note: str | None = None) -> None:
    """A person checked the carrier's account: no label was bought. The uncertain purchase
    goes away, so the order can be given a label again."""
    shipment = session.get(Shipment, shipment_id, with_for_update=True)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found")
    if shipment.status != "label_uncertain":
        raise Conflict(f"Shipment {shipment_id} is {shipment.status}: not an uncertain purchase")
    _abandon(session, shipment_id, actor, f"checked at the carrier by {actor.label}: nothing was bought"
             + (f" ({note})" if note else ""))


# --- documents -----------------------------------------------------------------------------------

def current_label(session: Session, shipment_id: int) -> ShipmentLabel:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found")
    label = next((label for label in shipment.labels if label.voided_at is None), None)
    if label is None or label.data is None:
        raise NotFound(f"Shipment {shipment_id} has no label to print")
    return label


@transactional
def reprint(session: Session, shipment_id: int, actor: Actor) -> ShipmentLabel:
    """The stored label again (no purchase), noted on the order's timeline."""
    label = current_label(session, shipment_id)
    events.order_event(session, label.shipment.order, actor, "label_reprinted",
                       f"Label {label.tracking_number} printed again", {"shipment_id": shipment_id})
    return label


# --- voids ---------------------------------------------------------------------------------------

VOIDABLE = ("label_created", "pre_transit", "unknown")


@transactional
def void(session: Session, shipment_id: int, actor: Actor) -> int:
    """Ask the carrier to void the label (through the outbox); returns the message id. The
    shipment turns ``voided`` when the carrier confirms."""
    shipment = session.get(Shipment, shipment_id, with_for_update=True)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found")
    label = next((label for label in shipment.labels if label.voided_at is None), None)
    if label is None or shipment.status not in VOIDABLE:
        raise Conflict(f"Shipment {shipment_id} is {shipment.status}: only a label not yet moving can be voided")
    events.order_event(session, shipment.order, actor, "label_void_requested",
                       f"Void of label {label.tracking_number} requested", {"shipment_id": shipment.id})
    return outbox.enqueue(session, VOID_TOPIC, shipment.carrier_account.code,
                          {"shipment_id": shipment.id, "label_id": label.id},
                          dedupe_key=f"{VOID_TOPIC}:{label.id}", group_key=f"shipment:{shipment.id}",
                          order_id=shipment.order_id)


def _void_handler(message: Message) -> Sent:
    """``carrier.void``: void at the carrier, then mark label and shipment voided. Voiding
    twice is harmless at the carriers (a repeat answers "already voided": permanent, so a
    message whose first answer was lost and the label already voided ends dead for a look)."""
    from sqlalchemy.orm import Session as PlainSession

    from app.extensions import db

    with PlainSession(db.engine) as session:
        label = session.get(ShipmentLabel, message.payload["label_id"])
        if label is None or label.voided_at is not None:
            return Sent(note="already voided")
        shipment = label.shipment
        connector_label = Label(carrier=label.carrier, service=label.service or "", tracking_number=label.tracking_number,
                                format=label.format, data=b"", cost=label.cost, currency=label.currency,
                                carrier_shipment_id=label.carrier_shipment_id)
        client = carriers.client(shipment.carrier_account)
    try:
        client.void(connector_label)
    except CarrierError as exc:
        raise (RetryableError if exc.retryable else PermanentError)(exc.message,
                                                                   retry_after=exc.retry_after) from None
    with write_intent(), PlainSession(db.engine) as session, session.begin():
        _mark_voided(session, message.payload["label_id"])
    return Sent(remote_id=connector_label.carrier_shipment_id)


def _mark_voided(session: Session, label_id: int) -> None:
    label = session.get(ShipmentLabel, label_id, with_for_update=True)
    label.voided_at = utcnow()
    shipment = label.shipment
    shipment.status, shipment.next_track_at = "voided", None
    events.order_event(session, shipment.order, Actor.job("send_outbox"), "label_voided",
                       f"Label {label.tracking_number} voided at the carrier", {"shipment_id": shipment.id})


def register() -> None:
    outbox.register(VOID_TOPIC, _void_handler)
    outbox.register(SUBSCRIBE_TOPIC, _subscribe_handler)
