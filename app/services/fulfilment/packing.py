"""The pack station: an order (or its pick list slot) scanned, each item checked against what was
picked for it, the packages typed, then label and ship confirm in one action (DESIGN.md
"Fulfilment"). With a carrier account the label is bought from it (labels.buy_label: the
purchase is recorded first, ship confirm follows with the label); where none is configured
the ``manual`` carrier serves: pack and ship confirm are one transaction.

Cancelling an order or editing its address while a label is live voids it through the outbox
(``carrier.void``; subscribers below)."""
from __future__ import annotations

import re

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.models import Allocation, CarrierAccount, Order, PickList, PickListLine, Shipment, ShipmentPackage
from app.models.base import utcnow
from app.services.core import domain_events, events, validation
from app.services.core.actor import Actor
from app.services.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.fulfilment import labels, picking, shipments
from app.services.orders import actions as orders

SLOT_CODE = re.compile(r"^PL(\d+)-(\d+)$", re.IGNORECASE)
PACKABLE = ("picking", "allocated", "partially_allocated", "packed")


def find_order(session: Session, code) -> Order:
    """An order by its number, its id, or its pick list slot (``PL000012-3``)."""
    code = validation.text(code, "code", max_length=64)
    slot = SLOT_CODE.match(code)
    if slot:
        order_id = session.scalar(select(PickListLine.order_id).where(
            PickListLine.pick_list_id == int(slot.group(1)), PickListLine.slot == int(slot.group(2))).limit(1))
    else:
        order_id = session.scalar(select(Order.id).where(Order.order_number == code).order_by(Order.id.desc()).limit(1))
        if order_id is None and code.isdigit():
            order_id = session.scalar(select(Order.id).where(Order.id == int(code)))
    if order_id is None:
        raise NotFound(f"No order {code}")
    return orders.get_order(session, order_id)


def pack_lines(session: Session, order: Order) -> list[dict]:
    """What the pack station expects of an order: per order line, the units picked for it."""
    expected: dict[int, dict] = {}
    for line in picking.picked_for_order(session, order.id):
        entry = expected.setdefault(line.order_line_id, {
            "order_line_id": line.order_line_id, "sku": line.sku, "barcode": line.barcode,
            "title": line.title, "picked": 0, "packed": 0, "to_pick": 0})
        entry["picked"] += line.quantity_picked
        entry["packed"] += line.quantity_packed
        entry["to_pick"] += line.quantity_left
    return list(expected.values())


def station(session: Session, code) -> dict:
    order = find_order(session, code)
    return {"order_id": order.id, "order_number": order.order_number, "status": order.status,
            "customer_name": order.customer_name, "held": order.is_held,
            "lines": pack_lines(session, order),
            "shipments": [{"id": s.id, "status": s.status, "tracking_number": s.tracking_number,
                           "carrier": s.carrier} for s in order.shipments]}


def clean_scanned(values) -> dict[int, int]:
    """``{"order_line_id": units}`` as the page counted them."""
    if not isinstance(values, dict) or not values:
        raise ValidationFailed.field("items", "scan the items of the order")
    clean = {}
    for key, value in values.items():
        clean[validation.identifier(key, "items")] = validation.quantity(value, f"items.{key}")
    return clean


def _check_items(order: Order, lines: list[PickListLine], scanned: dict[int, int]) -> None:
    picking.ensure_picked(order, lines)
    expected: dict[int, int] = {}
    for line in lines:
        expected[line.order_line_id] = expected.get(line.order_line_id, 0) + line.quantity_picked - line.quantity_packed
    for order_line_id, units in scanned.items():
        if order_line_id not in expected:
            raise picking.WrongScan.field(f"items.{order_line_id}", "not an item of this order")
        if units > expected[order_line_id]:
            raise picking.WrongScan.field(f"items.{order_line_id}", f"only {expected[order_line_id]} picked")
    missing = {k: v - scanned.get(k, 0) for k, v in expected.items() if v - scanned.get(k, 0) > 0}
    if missing:
        raise ValidationFailed.field("items", f"{sum(missing.values())} picked units are not scanned yet")


def _may_pack(order: Order) -> None:
    if order.is_held:
        raise Conflict(f"Order {order.order_number} is on hold ({', '.join(h.reason for h in order.open_holds)})")
    if order.status not in PACKABLE:
        raise Conflict(f"Order {order.order_number} is {order.status}: it cannot be packed")


def _picked(session: Session, order_id: int) -> tuple[list[PickListLine], list[Allocation]]:
    """The order's pick list lines on lists not cancelled (locked), and the reservations they
    are for that are still open (a short pick released the rest): one query."""
    rows = session.execute(
        select(PickListLine, Allocation).join(PickList, PickList.id == PickListLine.pick_list_id)
        .outerjoin(Allocation, and_(Allocation.id == PickListLine.allocation_id, Allocation.status == "open"))
        .where(PickListLine.order_id == order_id, PickList.status != "cancelled")
        .order_by(PickListLine.id).with_for_update(of=PickListLine)).all()
    allocations = {allocation.id: allocation for _line, allocation in rows if allocation is not None}
    return [line for line, _allocation in rows], [allocations[key] for key in sorted(allocations)]


def _packed(session: Session, order: Order, lines: list[PickListLine], actor: Actor) -> None:
    """Every picked unit scanned (checked): the pick lines count them packed, the order is ``packed``."""
    if order.status == "packed":
        return
    for line in lines:
        line.quantity_packed = line.quantity_picked
    if order.status != "picking":  # sent back to allocation by a short pick: what was picked ships
        orders.transition(session, order, "picking", actor, "picked units packed")
    orders.transition(session, order, "packed", actor)


@transactional
def pack(session: Session, order_id: int, items, actor: Actor) -> Order:
    order = orders.get_order(session, order_id, for_update=True)
    scanned = clean_scanned(items)
    _may_pack(order)
    if order.status != "packed":
        lines, _allocations = _picked(session, order.id)
        _check_items(order, lines, scanned)
        _packed(session, order, lines, actor)
    return order


def _accounts(session: Session) -> list[CarrierAccount]:
    return list(session.scalars(select(CarrierAccount).where(CarrierAccount.enabled.is_(True))
                                .order_by(CarrierAccount.id)))


def station_account(session: Session, carrier: str | None) -> tuple[CarrierAccount | None, CarrierAccount | None]:
    """The account whose label the station buys (the one asked for, else the first enabled
    carrier that sells labels; None: the manual carrier), and the manual account that
    ships without one (None when there is none)."""
    if carrier:
        account = session.scalar(select(CarrierAccount).where(CarrierAccount.code == carrier))
        if account is None:
            raise ValidationFailed.field("carrier", f"unknown carrier account {carrier}")
        if account.kind != "manual":
            return account, None
        return None, account if account.enabled else next((a for a in _accounts(session) if a.kind == "manual"), None)
    enabled = _accounts(session)
    return (next((a for a in enabled if a.kind != "manual"), None),
            next((a for a in enabled if a.kind == "manual"), None))


@transactional
def ship_manual(session: Session, order_id: int, items, packages, actor: Actor, *,
                account: CarrierAccount | None = None, tracking_number: str | None = None) -> Shipment:
    """Pack and ship confirm in one transaction with the manual carrier (no label bought).
    The shipment is written first: the order's row is then written once, at the commit."""
    packages = labels.clean_packages(packages)
    tracking_number = validation.text(tracking_number, "tracking_number", max_length=64, required=False)
    scanned = clean_scanned(items)
    order = orders.get_order(session, order_id, for_update=True)
    _may_pack(order)
    lines, allocations = _picked(session, order.id)
    if order.status != "packed":
        _check_items(order, lines, scanned)
    if not allocations:
        raise Conflict(f"Order {order.order_number}: nothing picked to ship")
    shipment = Shipment(order=order, warehouse_id=allocations[0].warehouse_id, carrier="manual",
                        carrier_account_id=account.id if account else None, service="manual",
                        tracking_number=tracking_number, status="in_transit", created_by=actor.label,
                        created_at=utcnow(), shipped_at=utcnow(), pick_list_id=lines[-1].pick_list_id,
                        packages=[ShipmentPackage(weight_kg=p.weight_kg, length_cm=p.length_cm,
                                                  width_cm=p.width_cm, height_cm=p.height_cm) for p in packages],
                        lines=[])
    session.add(shipment)
    session.flush()
    with events.batched(session, [order]), session.no_autoflush:
        _packed(session, order, lines, actor)
        shipments.confirm(session, order, shipment, allocations, actor)
    return shipment


def pack_and_ship(session: Session, order_id: int, items, packages, actor: Actor, *,
                  carrier: str | None = None, service: str | None = None,
                  tracking_number: str | None = None) -> Shipment:
    """The pack station's one action: pack, label, ship confirm. With a carrier account the
    order is packed first (its own transaction), then the label bought and the order
    ship-confirmed with it; a purchase that fails leaves the order packed, to try again."""
    account, manual = station_account(session, carrier)
    if account is None:
        return ship_manual(session, order_id, items, packages, actor, account=manual,
                           tracking_number=tracking_number)
    code = account.code
    labels.clean_packages(packages)
    pack(session, order_id, items, actor)
    return labels.buy_label(session, order_id, actor, carrier=code, packages=packages, service=service or "auto")


# --- bulk: labels for a pick list in one go ------------------------------------------------------

def bulk_plan(session: Session, pick_list_id: int) -> dict[int, dict[str, int]]:
    """The orders of a pick list whose picking is complete and not yet packed, each with its
    picked units per order line (what the station would have scanned)."""
    by_order: dict[int, list[PickListLine]] = {}
    for line in picking.get(session, pick_list_id).lines:
        by_order.setdefault(line.order_id, []).append(line)
    plan = {}
    for order_id, lines in sorted(by_order.items()):
        items: dict[str, int] = {}
        for line in lines:
            if line.quantity_picked - line.quantity_packed > 0:
                key = str(line.order_line_id)
                items[key] = items.get(key, 0) + line.quantity_picked - line.quantity_packed
        if items and not picking.unpicked(lines):
            plan[order_id] = items
    return plan


def bulk_labels(session: Session, pick_list_id: int, packages, actor: Actor, *, carrier: str | None = None,
                service: str | None = None) -> dict:
    """Labels for every single-package order of a pick list, each order its own pack, label and
    ship confirm as at the station; a failure is listed with the carrier's reason and the rest
    go on."""
    packages = labels.clean_packages(packages)
    if len(packages) != 1:
        raise ValidationFailed.field("packages", "bulk labels are for single-package orders: give one package")
    plan = bulk_plan(session, pick_list_id)
    session.rollback()
    raw = [{"weight_kg": str(p.weight_kg), "length_cm": str(p.length_cm), "width_cm": str(p.width_cm),
            "height_cm": str(p.height_cm)} for p in packages]
    result: dict = {"shipped": [], "failed": []}
    for order_id, items in plan.items():
        try:
            shipment = pack_and_ship(session, order_id, items, raw, actor, carrier=carrier, service=service)
        except DomainError as err:
            session.rollback()
            result["failed"].append({"order_id": order_id, "message": err.message})
            continue
        result["shipped"].append({"order_id": order_id, "shipment_id": shipment.id, "status": shipment.status,
                                  "tracking_number": shipment.tracking_number})
    return result


def pick_list_label_ids(session: Session, pick_list_id: int) -> list[int]:
    """The live PDF labels of a pick list's shipments, in slot order (to print as one)."""
    from app.models import ShipmentLabel

    slots = {line.order_id: line.slot for line in picking.get(session, pick_list_id).lines}
    rows = session.execute(select(ShipmentLabel.id, Shipment.order_id).join(Shipment).where(
        Shipment.order_id.in_(slots), ShipmentLabel.voided_at.is_(None), ShipmentLabel.format == "PDF",
        ShipmentLabel.data.is_not(None))).all()
    return [label_id for label_id, order_id in sorted(rows, key=lambda r: (slots[r[1]], r[0]))]


# --- a live label when the order changes ---------------------------------------------------------

def _live_labels(session: Session, order_id: int) -> list[Shipment]:
    return [shipment for shipment in session.scalars(select(Shipment).where(
        Shipment.order_id == order_id, Shipment.status.in_(labels.VOIDABLE), Shipment.carrier_account_id.is_not(None)))
        if any(label.voided_at is None for label in shipment.labels)]


def _void_on_cancel(session: Session, payload: dict) -> None:
    """Cancelled while a label is live (bought, not moving yet): void it at the carrier
    through the outbox."""
    for shipment in _live_labels(session, payload["order_id"]):
        labels.void(session, shipment.id, payload["actor"])


def _void_on_new_address(session: Session, payload: dict) -> None:
    """A new shipping address while a label is live: void it, and say a new label is needed."""
    for shipment in _live_labels(session, payload["order_id"]):
        labels.void(session, shipment.id, payload["actor"])
        events.order_event(session, shipment.order, payload["actor"], "label_needed",
                           f"The address changed: label {shipment.tracking_number} is voided, buy a new one",
                           {"shipment_id": shipment.id})


def register() -> None:
    domain_events.subscribe("order.cancelled", _void_on_cancel)
    domain_events.subscribe("order.address_changed", _void_on_new_address)
