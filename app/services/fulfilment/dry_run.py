"""A shipping rule's dry run: what it would choose and cost for recent shipments, beside what
they got (a module of its own: it builds requests the way ``labels`` does, and ``labels`` buys
through ``shipping_rules``)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.base import Package, ShipmentRequest

from app.models import Shipment, ShippingRule
from app.services.core.errors import NotFound, ValidationFailed
from app.services.fulfilment import labels, shipping_rules


def _request_of(shipment) -> ShipmentRequest:
    """What the shipment's label was asked with (its packages, from its warehouse to the order)."""
    packages = tuple(Package(p.weight_kg, p.length_cm, p.width_cm, p.height_cm) for p in shipment.packages)
    return ShipmentRequest(labels._ship_from(shipment.warehouse), labels._ship_to(shipment.order), packages,
                           f"dry-run-{shipment.id}")


def dry_run(session: Session, rule_id: int, *, limit: int = 20) -> list[dict]:
    """What the rule would choose and cost for the last ``limit`` shipments with bought labels,
    beside what they got (asks the carriers; buys nothing, writes nothing)."""
    rule = session.get(ShippingRule, rule_id)
    if rule is None:
        raise NotFound(f"Shipping rule {rule_id} not found")
    recent = session.scalars(select(Shipment).where(Shipment.carrier_account_id.is_not(None),
                                                    Shipment.cost.is_not(None))
                             .order_by(Shipment.id.desc()).limit(max(1, min(limit, 100)))).all()
    rows = []
    for shipment in recent:
        was = {"account": shipment.carrier_account.code, "service": shipment.service,
               "amount": str(shipment.cost), "currency": shipment.currency}
        row = {"shipment_id": shipment.id, "order_id": shipment.order_id, "was": was, "applies": False,
               "chosen": None, "amount": None, "why": ""}
        try:
            request = _request_of(shipment)
            if not shipping_rules.matches(rule, shipping_rules.facts(session, shipment.order, request, shipment.warehouse_id)):
                row["why"] = "the rule's conditions do not hold"
            else:
                decision = shipping_rules.decide(session, shipment.order, request, shipment.warehouse_id, rules=[rule])
                row.update(applies=True, chosen=decision.record["chosen"], amount=decision.record["chosen"]["amount"],
                           why=shipping_rules.explain(decision.record))
        except ValidationFailed as exc:
            row["why"] = exc.message
        rows.append(row)
    session.rollback()  # a read: end the snapshot
    return rows
