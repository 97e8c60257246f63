"""What a rule would match and do over the last orders: pure evaluation, nothing written."""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Order, OrderLine
from app.services.core.errors import ValidationFailed
from app.services.lifecycle.rules.evaluation import (
    Facts,
    _ship_by,
    condition_results,
    describe_action,
    previous_order_counts,
)
from app.services.lifecycle.rules.validation import clean_definition
from app.services.lifecycle.rules.versions import _get, snapshot
from app.services.lifecycle.rules.vocabulary import DRY_RUN_DEFAULT, DRY_RUN_MAX

@dataclass
class DryRunRow:
    order_id: int
    order_number: str
    placed_at: datetime
    status: str
    matched: bool
    conditions: list[bool]
    would: list[str] = dc_field(default_factory=list)


@dataclass
class DryRun:
    definition: dict
    rows: list[DryRunRow]

    @property
    def matched(self) -> list[DryRunRow]:
        return [row for row in self.rows if row.matched]


def _would(definition: dict, order: Order) -> list[str]:
    """What applying the actions would change, described without touching the order."""
    from app.services.orders.actions import HOLDABLE_STATUSES

    would = []
    for action in definition.get("actions") or []:
        kind, value = action["type"], action.get("value")
        if kind in ("hold", "review"):
            reason = "rule" if kind == "hold" else "review"
            if order.status not in HOLDABLE_STATUSES:
                would.append(f"not held: the order is {order.status}")
            elif any(h.reason == reason for h in order.open_holds):
                would.append(f"already held ({reason})")
            else:
                would.append(describe_action(action))
        elif kind == "add_tag" and value in (order.tags or []):
            continue
        elif kind == "set_priority" and order.priority == value:
            continue
        elif kind == "ship_by_days":
            would.append(f"ship by {_ship_by(order, value):%Y-%m-%d %H:%M} UTC")
        else:
            would.append(describe_action(action))
    return would


def dry_run(session: Session, definition: dict, last_n: int = DRY_RUN_DEFAULT) -> DryRun:
    """For each of the last ``last_n`` orders (newest first): would the rule match, which
    conditions hold, and what it would do. Validates the definition first. Writes nothing:
    facts are read, actions only described."""
    clean = clean_definition(session, definition, dry_run=True)
    try:
        last_n = int(last_n)
    except (TypeError, ValueError):
        raise ValidationFailed.field("last_n", "must be a whole number") from None
    last_n = max(1, min(last_n, DRY_RUN_MAX))
    orders = list(session.scalars(
        select(Order).order_by(Order.placed_at.desc(), Order.id.desc()).limit(last_n)
        .options(selectinload(Order.lines).selectinload(OrderLine.product),
                 selectinload(Order.holds), selectinload(Order.channel))))
    needs_history = any(c["field"] in ("previous_orders", "first_order")
                        for c in clean["conditions"])
    previous = previous_order_counts(session, orders) if needs_history else {}
    rows = []
    for order in orders:
        facts = Facts(session, order, previous.get(order.id, 0) if needs_history else None)
        results = condition_results(clean, facts)
        matched = any(results) if clean["match"] == "any" else all(results)
        rows.append(DryRunRow(order.id, order.order_number, order.placed_at, order.status,
                              matched, results, _would(clean, order) if matched else []))
    return DryRun(clean, rows)


def dry_run_rule(session: Session, rule_id, last_n: int = DRY_RUN_DEFAULT) -> DryRun:
    rule = _get(session, rule_id)
    return dry_run(session, {**snapshot(rule), "id": rule.id}, last_n)
