"""Rules applied to an order at a stage: the order's facts, condition matching, and the
actions' effects (holds, tags, priority, routing), one ``rule_fired`` event per rule that
fired."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.models import Order, Rule, normalize_sku
from app.models.rules import RULE_STAGES
from app.services.core import events
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.lifecycle.rules.vocabulary import FIELDS, OPERATORS, FieldDef

class Facts:
    """The values conditions look at, computed once per order and only when asked for."""

    def __init__(self, session: Session | None, order: Order,
                 previous_orders: int | None = None):
        self.session, self.order = session, order
        self._cache: dict[str, Any] = {}
        if previous_orders is not None:
            self._cache["previous_orders"] = previous_orders

    def get(self, name: str):
        if name not in self._cache:
            self._cache[name] = getattr(self, f"_{name}")()
        return self._cache[name]

    def _address(self) -> dict:
        return self.order.shipping_address or {}

    def _open_lines(self):
        return [l for l in self.order.lines if l.quantity > (l.quantity_cancelled or 0)]

    def _total(self):
        return self.order.total_base

    def _currency(self):
        return self.order.currency

    def _channel(self):
        return self.order.channel.code.lower() if self.order.channel else None

    def _country(self):
        return self.order.ship_country or self._address().get("country")

    def _region(self):
        return self._address().get("region")

    def _postcode(self):
        postcode = self._address().get("postcode")
        return postcode.replace(" ", "").upper() if postcode else None

    def _sku(self):
        skus = set()
        for line in self._open_lines():
            if line.sku:
                skus.add(normalize_sku(line.sku) or line.sku)
            if line.product is not None:
                skus.add(line.product.sku)
        return skus

    def _line_count(self):
        return len(self._open_lines())

    def _quantity(self):
        return sum(l.quantity - (l.quantity_cancelled or 0) for l in self._open_lines())

    def _previous_orders(self):
        return previous_order_counts(self.session, [self.order]).get(self.order.id, 0)

    def _email_domain(self):
        email = self.order.email or ""
        return email.rsplit("@", 1)[1].lower() if "@" in email else None

    def _tags(self):
        return set(self.order.tags or [])

    def _shipping_method(self):
        return self.order.shipping_method

    def _first_order(self):
        return self.get("previous_orders") == 0


def previous_order_counts(session: Session, orders: list[Order]) -> dict[int, int]:
    """{order id: orders of the same customer placed before it}, in one statement."""
    ids = [o.id for o in orders if o.customer_id is not None and o.id is not None]
    if not ids:
        return {}
    other = aliased(Order)
    earlier = (select(func.count(other.id))
               .where(other.customer_id == Order.customer_id, other.id != Order.id,
                      (other.placed_at < Order.placed_at)
                      | ((other.placed_at == Order.placed_at) & (other.id < Order.id)))
               .correlate(Order).scalar_subquery())
    return dict(session.execute(select(Order.id, earlier).where(Order.id.in_(ids))).all())


def _fold(value) -> str:
    return str(value).casefold()


def condition_matches(condition: dict, facts: Facts) -> bool:
    field, op, expected = condition["field"], condition["op"], condition.get("value")
    kind = FIELDS[field].kind
    actual = facts.get(field)
    if kind == "bool":
        return bool(actual) if op == "is_true" else not actual
    if kind == "set":
        items = {_fold(v) for v in (actual or ())}
        if op == "contains":
            return _fold(expected) in items
        if op == "not_contains":
            return _fold(expected) not in items
        wanted = {_fold(v) for v in expected}
        if op == "in":
            return bool(items & wanted)
        if op == "not_in":
            return not items & wanted
        return any(item.startswith(prefix) for item in items for prefix in wanted)
    if actual is None:  # unknown: only the negative operators hold
        return op in ("ne", "not_in")
    if kind in ("decimal", "int"):
        number = Decimal(str(expected)) if kind == "decimal" else int(expected)
        return {"eq": actual == number, "ne": actual != number, "gt": actual > number,
                "gte": actual >= number, "lt": actual < number,
                "lte": actual <= number}[op]
    text = _fold(actual)
    if op == "eq":
        return text == _fold(expected)
    if op == "ne":
        return text != _fold(expected)
    if op == "in":
        return text in {_fold(v) for v in expected}
    if op == "not_in":
        return text not in {_fold(v) for v in expected}
    if op == "contains":
        return _fold(expected) in text
    return any(text.startswith(_fold(prefix)) for prefix in expected)  # starts_with


def condition_results(definition: dict, facts: Facts) -> list[bool]:
    return [condition_matches(c, facts) for c in definition.get("conditions") or []]


def matches(definition: dict, facts: Facts) -> bool:
    results = (condition_matches(c, facts) for c in definition.get("conditions") or [])
    if (definition.get("match") or "all") == "any":
        return any(results)
    return all(results)


def describe_condition(condition: dict) -> str:
    label = FIELDS.get(condition["field"], FieldDef(condition["field"], "text")).label
    op = OPERATORS.get(condition["op"], condition["op"])
    value = condition.get("value")
    if value is None:
        return f"{label} {op}"
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return f"{label} {op} {value}"


def describe_action(action: dict) -> str:
    kind, value = action["type"], action.get("value")
    if kind == "hold":
        return "hold" + (f": {value}" if value else "")
    if kind == "review":
        return "require review" + (f": {value}" if value else "")
    if kind == "add_tag":
        return f"add tag '{value}'"
    if kind == "set_priority":
        return f"set priority {value}"
    if kind == "prefer_warehouses":
        return "prefer " + ", ".join(value)
    if kind == "exclude_warehouses":
        return "exclude " + ", ".join(value)
    if kind == "forbid_split":
        return "no split shipments"
    return f"ship within {value} day{'s' if value != 1 else ''} of placing"


def _ship_by(order: Order, days: int) -> datetime:
    return order.placed_at + timedelta(days=days)


def _default_note(rule_name: str, note: str | None) -> str:
    return note or f"rule '{rule_name}'"


def hold(session: Session, order: Order, reason: str, note: str, actor: Actor):
    """Place a hold, or add ``note`` to the open hold of that reason (one hold per reason,
    every why kept in its note). No commit."""
    from app.services.orders import actions as orders

    for existing in order.open_holds:
        if existing.reason == reason:
            if note and note not in (existing.note or ""):
                existing.note = f"{existing.note}; {note}" if existing.note else note
                events.order_event(session, order, actor, "hold_note",
                                   f"Hold ({reason}) also because: {note}",
                                   {"reason": reason, "note": note})
            return existing
    return orders.place_hold_in_tx(session, order, reason, note, actor)


def apply_actions(session: Session, order: Order, rule: Rule, actor: Actor) -> list[str]:
    """Do what a rule says; returns what was done, in words. No commit."""
    from app.services.orders.actions import HOLDABLE_STATUSES

    done = []
    for action in rule.actions or []:
        kind, value = action["type"], action.get("value")
        if kind in ("hold", "review"):
            reason = "rule" if kind == "hold" else "review"
            if order.status not in HOLDABLE_STATUSES:
                done.append(f"not held: the order is {order.status}")
                continue
            note = _default_note(rule.name, value)
            hold(session, order, reason, note, actor)
            done.append(("held" if kind == "hold" else "held for review") + f" ({note})")
        elif kind == "add_tag":
            if value not in (order.tags or []):
                order.tags = list(order.tags or []) + [value]
                done.append(f"tagged '{value}'")
        elif kind == "set_priority":
            if order.priority != value:
                done.append(f"priority {order.priority} → {value}")
                order.priority = value
        elif kind in ("prefer_warehouses", "exclude_warehouses"):
            routing = dict(order.routing or {})
            codes = list(dict.fromkeys(list(routing.get(kind) or []) + list(value)))
            routing[kind] = codes
            order.routing = routing
            done.append(("prefer " if kind == "prefer_warehouses" else "exclude ")
                        + ", ".join(codes))
        elif kind == "forbid_split":
            order.routing = {**(order.routing or {}), "forbid_split": True}
            done.append("no split shipments")
        elif kind == "ship_by_days":
            ship_by = _ship_by(order, value)
            if order.ship_by != ship_by:
                order.ship_by = ship_by
                done.append(f"ship by {ship_by:%Y-%m-%d %H:%M} UTC")
    return done


@dataclass
class RuleHit:
    rule_id: int
    rule_name: str
    version: int
    done: list[str]


def enabled_rules(session: Session, stage: str) -> list[Rule]:
    if stage not in RULE_STAGES:
        raise ValidationFailed.field("stage", f"must be one of {', '.join(RULE_STAGES)}")
    return list(session.scalars(
        select(Rule).where(Rule.stage == stage, Rule.enabled.is_(True),
                           Rule.deleted_at.is_(None))
        .order_by(Rule.position, Rule.id)))


def evaluate(session: Session, order: Order, stage: str, actor: Actor,
             enabled: list[Rule] | None = None) -> list[RuleHit]:
    """Apply the enabled rules of a stage (``enabled``: read once for a batch of orders)
    to an order, in position order; a rule with stop_processing that fires ends the
    evaluation. One ``rule_fired`` event per rule that fired. No commit (runs in the
    caller's transaction)."""
    facts = Facts(session, order)
    hits = []
    for rule in enabled if enabled is not None else enabled_rules(session, stage):
        if not matches({"match": rule.match, "conditions": rule.conditions}, facts):
            continue
        tags_before = set(order.tags or [])
        done = apply_actions(session, order, rule, actor)
        summary = "; ".join(done) if done else "nothing to change"
        events.order_event(
            session, order, actor, "rule_fired", f"Rule {rule.name} fired: {summary}",
            {"rule_id": rule.id, "rule": rule.name, "version": rule.version, "stage": stage,
             "actions": rule.actions, "done": done,
             # which tags are Waybill's own: a channel update keeps them (importing)
             "tags_added": [t for t in order.tags or [] if t not in tags_before],
             "stop_processing": bool(rule.stop_processing)})
        hits.append(RuleHit(rule.id, rule.name, rule.version, done))
        if rule.stop_processing:
            break
    return hits


def evaluate_for_allocation(session: Session, order: Order, actor: Actor,
                            enabled: list[Rule] | None = None) -> dict:
    """The ``on_allocation`` stage, for allocation to call before it plans an order: applies
    those rules and returns the order's routing (``routing(order)``). A rule that holds the
    order leaves it held: allocation should then stop. Each call writes its events, so call
    it once per allocation decision, not per retry of a waiting backorder. No commit."""
    evaluate(session, order, "on_allocation", actor, enabled)
    return routing(order)


def routing(order: Order) -> dict:
    """What rules asked of allocation: preferred and excluded warehouse codes, and whether
    the order may be split."""
    data = order.routing or {}
    return {"prefer_warehouses": list(data.get("prefer_warehouses") or []),
            "exclude_warehouses": list(data.get("exclude_warehouses") or []),
            "forbid_split": bool(data.get("forbid_split"))}
