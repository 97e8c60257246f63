"""Return labels: bought from a carrier when a return is authorized and the policy says we
pay (the returns package decides that; views and the API call ``buy`` then). The parcel goes
from the customer's address to the warehouse the goods left from, weighing what the returned
units' products weigh (``parcel``).

Like an outbound label, the purchase is never repeated blindly: the carrier is asked outside
any transaction, and one transaction keeps the label on the return; a refusal is kept as the
return's ``label_error`` for Support (the return stays authorized; they may buy it again)."""
from __future__ import annotations

import uuid
from decimal import ROUND_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.base import CarrierError, Package, ShipmentRequest

from app.models import Allocation, CarrierAccount, Return, Warehouse
from app.services.core import domain_events, events, settings
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.fulfilment import boxes, carriers, labels

# A returned unit whose product has no weight counts as this much: the fixed parcel every return
# label used before weights were read, more rather than less than most items (a carrier bills an
# under-declared parcel again, and may hold it).
UNWEIGHED_UNIT_KG = Decimal("1")
BOX_CM = (Decimal("30"), Decimal("20"), Decimal("10"))  # without product dimensions or a box preset that fits
MIN_KG = Decimal("0.1")


def parcel(session: Session, ret: Return, warehouse: Warehouse) -> Package:
    """The return parcel: the returned units' product weights (UNWEIGHED_UNIT_KG for a product
    without one) in the smallest box preset of the warehouse that holds them (its tare added;
    fulfilment.boxes, as at the pack station), else in a 30×20×10 cm box."""
    items = [(rl.line.product, rl.quantity) for rl in ret.lines]
    weight = sum((p.weight_kg if p is not None and p.weight_kg is not None else UNWEIGHED_UNIT_KG) * units
                 for p, units in items) or UNWEIGHED_UNIT_KG
    box = boxes.box_for(session, items, weight, warehouse.id) if warehouse is not None else None
    if box is not None:
        return Package((weight + box.tare_kg).quantize(Decimal("0.001"), ROUND_UP), box.length_cm, box.width_cm,
                       box.height_cm)
    return Package(max(weight, MIN_KG).quantize(Decimal("0.001"), ROUND_UP), *BOX_CM)


def _account(session: Session) -> CarrierAccount:
    code = settings.get(session, "return_label_carrier")
    if code:
        return labels._account(session, code)
    account = session.scalar(select(CarrierAccount).where(CarrierAccount.enabled.is_(True),
                                                          CarrierAccount.kind != "manual")
                             .order_by(CarrierAccount.code).limit(1))
    if account is None:
        raise ValidationFailed.field("carrier", "no carrier account sells labels: set one up first")
    return account


def _warehouse(session: Session, ret: Return) -> Warehouse:
    line_ids = [rl.order_line_id for rl in ret.lines]
    warehouse_id = session.scalar(select(Allocation.warehouse_id).where(
        Allocation.order_line_id.in_(line_ids), Allocation.status == "shipped").limit(1))
    warehouse = session.get(Warehouse, warehouse_id) if warehouse_id else None
    return warehouse or session.scalar(select(Warehouse).where(Warehouse.active.is_(True))
                                       .order_by(Warehouse.id).limit(1))


def buy(session: Session, return_id: int, actor: Actor) -> Return:
    """Buy the return label; never inside another transaction."""
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id} not found")
    if ret.label_tracking:
        return ret
    try:
        account = _account(session)
        warehouse = _warehouse(session, ret)
        request = ShipmentRequest(labels._ship_to(ret.order), labels._ship_from(warehouse),
                                  (parcel(session, ret, warehouse),), f"wbr-{ret.id}-{uuid.uuid4().hex[:8]}",
                                  "PDF")
    except ValidationFailed as exc:
        return _failed(session, return_id, exc.message, actor)
    account_id = account.id
    session.rollback()  # no lock held across the carrier's answers
    client = carriers.client(session.get(CarrierAccount, account_id))
    try:
        quotes = sorted(client.rates(request), key=lambda r: r.amount)
        if not quotes:
            return _failed(session, return_id, "the carrier offered no rate", actor)
        label = client.buy_label(request, quotes[0])
    except CarrierError as exc:
        return _failed(session, return_id, exc.message, actor)
    return _attach(session, return_id, account.code, label, actor)


@transactional
def _attach(session: Session, return_id: int, account_code: str, label, actor: Actor) -> Return:
    ret = session.get(Return, return_id, with_for_update=True)
    ret.label_carrier, ret.label_tracking, ret.label_format = account_code, label.tracking_number, label.format
    ret.label_data, ret.label_cost, ret.label_error = label.data, label.cost, None
    events.order_event(session, ret.order, actor, "return_label",
                       f"Return label {label.tracking_number} bought for {ret.rma_number} ({account_code})",
                       {"return_id": ret.id, "tracking_number": label.tracking_number})
    # the customer's "authorized" mail waits for the label it carries (notify subscribes)
    domain_events.publish(session, "return.label_ready", {"return_id": ret.id, "order_id": ret.order_id,
                                                          "actor": actor})
    return ret


@transactional
def _failed(session: Session, return_id: int, why: str, actor: Actor) -> Return:
    ret = session.get(Return, return_id, with_for_update=True)
    ret.label_error = why[:1000]
    events.order_event(session, ret.order, actor, "return_label_failed",
                       f"No return label for {ret.rma_number}: {why}", {"return_id": ret.id})
    return ret
