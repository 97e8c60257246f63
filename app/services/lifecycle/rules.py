"""Business rules: ordered, declarative conditions and actions.

A rule is data, never code: each condition is (field, operator, value) over a fixed set of
order facts, each action one of a fixed set of effects. Both are validated when a rule is
saved (``ValidationFailed`` naming the offending field, e.g. ``conditions[1].value``).

- Every change (create, update, enable, disable, reorder, delete) goes through this module
  and writes a ``RuleVersion`` (who, when, what changed, the rule before and after).
- ``evaluate(session, order, stage, actor)`` applies the enabled rules of a stage in
  position order, honours ``stop_processing`` and writes one ``rule_fired`` event per rule
  that fired (rule id, version, what it did). The pipeline calls it for ``on_import``;
  allocation calls ``evaluate_for_allocation`` for ``on_allocation`` and reads ``routing``.
- ``dry_run(session, definition)`` says, for each of the last N orders, whether a rule
  would match and what it would do. It is pure evaluation: it writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from app.models import Order, OrderLine, Rule, RuleVersion, Warehouse, normalize_sku
from app.models.base import utcnow
from app.models.rules import RULE_MATCH, RULE_STAGES
from app.services.core import events
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, StaleVersion, ValidationFailed
from app.services.core.transaction import transactional

MAX_CONDITIONS = 30
MAX_ACTIONS = 20
MAX_LIST_VALUES = 200
DRY_RUN_DEFAULT = 200
DRY_RUN_MAX = 1000
POSITION_STEP = 10


# --- the vocabulary -----------------------------------------------------------------------

@dataclass(frozen=True)
class FieldDef:
    label: str
    kind: str  # decimal | int | code | text | set | bool
    help: str = ""


FIELDS: dict[str, FieldDef] = {
    "total": FieldDef("Total (base currency)", "decimal",
                      "The order total converted to the base currency; unknown without a rate"),
    "currency": FieldDef("Currency", "code", "Three-letter code, e.g. EUR"),
    "channel": FieldDef("Channel", "code", "The channel's code"),
    "country": FieldDef("Shipping country", "code", "Two-letter ISO code"),
    "region": FieldDef("Shipping region / state", "text"),
    "postcode": FieldDef("Shipping postcode", "text", "Spaces are ignored"),
    "sku": FieldDef("SKU (any line)", "set", "The product SKU or the channel's SKU of any line"),
    "line_count": FieldDef("Line count", "int"),
    "quantity": FieldDef("Quantity (total units)", "int"),
    "previous_orders": FieldDef("Customer's previous orders", "int",
                                "Orders of the same customer placed before this one"),
    "email_domain": FieldDef("E-mail domain", "text", "e.g. example.com"),
    "tags": FieldDef("Tags", "set"),
    "shipping_method": FieldDef("Shipping method", "text"),
    "first_order": FieldDef("First order of the customer", "bool"),
}

OPERATORS: dict[str, str] = {
    "eq": "is", "ne": "is not", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
    "in": "is one of", "not_in": "is none of", "contains": "contains",
    "not_contains": "does not contain", "starts_with": "starts with",
    "is_true": "is true", "is_false": "is false",
}
OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    "decimal": ("eq", "ne", "gt", "gte", "lt", "lte"),
    "int": ("eq", "ne", "gt", "gte", "lt", "lte"),
    "code": ("eq", "ne", "in", "not_in"),
    "text": ("eq", "ne", "in", "not_in", "contains", "starts_with"),
    "set": ("contains", "not_contains", "in", "not_in", "starts_with"),
    "bool": ("is_true", "is_false"),
}
LIST_OPERATORS = frozenset({"in", "not_in", "starts_with"})  # value: one or more items
NO_VALUE_OPERATORS = frozenset({"is_true", "is_false"})


@dataclass(frozen=True)
class ActionDef:
    label: str
    kind: str  # note | text | int | warehouses | none
    help: str = ""


ACTIONS: dict[str, ActionDef] = {
    "hold": ActionDef("Hold (reason: rule)", "note", "The note says why (optional)"),
    "review": ActionDef("Require review", "note", "A 'review' hold; the note says why (optional)"),
    "add_tag": ActionDef("Add tag", "text"),
    "set_priority": ActionDef("Set priority", "int", "Higher is allocated first"),
    "prefer_warehouses": ActionDef("Prefer warehouses", "warehouses",
                                   "Warehouse codes, most preferred first"),
    "exclude_warehouses": ActionDef("Exclude warehouses", "warehouses", "Warehouse codes"),
    "forbid_split": ActionDef("Forbid split shipments", "none"),
    "ship_by_days": ActionDef("Set ship-by (days after placed)", "int"),
}


def vocabulary() -> dict:
    """Fields, operators and actions for the rules editor (JSON-able)."""
    return {
        "fields": {name: {"label": f.label, "kind": f.kind, "help": f.help,
                          "operators": list(OPERATORS_BY_KIND[f.kind])}
                   for name, f in FIELDS.items()},
        "operators": dict(OPERATORS),
        "list_operators": sorted(LIST_OPERATORS),
        "no_value_operators": sorted(NO_VALUE_OPERATORS),
        "actions": {name: {"label": a.label, "kind": a.kind, "help": a.help}
                    for name, a in ACTIONS.items()},
        "stages": list(RULE_STAGES),
        "match": list(RULE_MATCH),
    }


# --- validation ---------------------------------------------------------------------------

def _items(value) -> list[str]:
    """One or more items: a list, or text separated by commas or new lines."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        raw = value
    else:
        raw = str(value).replace("\n", ",").split(",")
    return [str(item).strip() for item in raw if str(item).strip()]


def _normalize_text(field: str, value: str) -> str:
    if field == "currency" or field == "country":
        return value.upper()
    if field == "postcode":
        return value.replace(" ", "").upper()
    if field == "sku":
        return normalize_sku(value) or value
    if field in ("channel", "email_domain"):
        return value.lower().lstrip("@") if field == "email_domain" else value.lower()
    return value


def _clean_value(field: str, op: str, value, where: str, errors: validation.Errors):
    kind = FIELDS[field].kind
    if op in NO_VALUE_OPERATORS:
        return None
    try:
        if op in LIST_OPERATORS:
            items = _items(value)
            if not items:
                raise ValidationFailed.field(where, "give at least one value")
            if len(items) > MAX_LIST_VALUES:
                raise ValidationFailed.field(where, f"at most {MAX_LIST_VALUES} values")
            for item in items:
                if len(item) > 128:
                    raise ValidationFailed.field(where, f"'{item[:20]}…' is too long")
            return [_normalize_text(field, item) for item in items]
        if kind == "decimal":
            if value in (None, ""):
                raise ValidationFailed.field(where, "is required")
            return str(validation.decimal(value, where))
        if kind == "int":
            if value in (None, ""):
                raise ValidationFailed.field(where, "is required")
            return validation.quantity(value, where, allow_zero=True)
        text = validation.text(value if value is None or isinstance(value, str) else str(value),
                               where, max_length=128)
        if field == "currency":
            return validation.currency(text, where)
        if field == "country":
            return validation.country(text, where)
        return _normalize_text(field, text)
    except ValidationFailed as err:
        for name, messages in err.errors.items():
            for message in messages:
                errors.add(name, message)
        return None


def _clean_conditions(raw, errors: validation.Errors) -> list[dict]:
    if not isinstance(raw, (list, tuple)):
        errors.add("conditions", "must be a list of conditions")
        return []
    if not raw:
        errors.add("conditions", "add at least one condition")
    if len(raw) > MAX_CONDITIONS:
        errors.add("conditions", f"at most {MAX_CONDITIONS} conditions")
    clean = []
    for i, condition in enumerate(raw):
        where = f"conditions[{i}]"
        if not isinstance(condition, dict):
            errors.add(where, "must be an object with field, op and value")
            continue
        unknown = set(condition) - {"field", "op", "value"}
        for key in sorted(unknown):
            errors.add(f"{where}.{key}", "is not part of a condition")
        field, op = condition.get("field"), condition.get("op")
        if field not in FIELDS:
            errors.add(f"{where}.field", f"must be one of {', '.join(FIELDS)}")
            continue
        allowed = OPERATORS_BY_KIND[FIELDS[field].kind]
        if op not in allowed:
            errors.add(f"{where}.op", f"{FIELDS[field].label} takes {', '.join(allowed)}")
            continue
        value = _clean_value(field, op, condition.get("value"), f"{where}.value", errors)
        clean.append({"field": field, "op": op, "value": value})
    return clean


def _clean_actions(session: Session, raw, errors: validation.Errors) -> list[dict]:
    if not isinstance(raw, (list, tuple)):
        errors.add("actions", "must be a list of actions")
        return []
    if not raw:
        errors.add("actions", "add at least one action")
    if len(raw) > MAX_ACTIONS:
        errors.add("actions", f"at most {MAX_ACTIONS} actions")
    clean, seen = [], set()
    codes = None
    for i, action in enumerate(raw):
        where = f"actions[{i}]"
        if not isinstance(action, dict):
            errors.add(where, "must be an object with type and value")
            continue
        unknown = set(action) - {"type", "value"}
        for key in sorted(unknown):
            errors.add(f"{where}.{key}", "is not part of an action")
        kind_name, value = action.get("type"), action.get("value")
        if kind_name not in ACTIONS:
            errors.add(f"{where}.type", f"must be one of {', '.join(ACTIONS)}")
            continue
        if kind_name in seen and kind_name != "add_tag":
            errors.add(f"{where}.type", f"'{kind_name}' is already an action of this rule")
            continue
        seen.add(kind_name)
        kind = ACTIONS[kind_name].kind
        try:
            if kind == "none":
                value = None
            elif kind == "note":
                value = validation.text(value if value is None or isinstance(value, str)
                                        else str(value), f"{where}.value", max_length=500,
                                        required=False)
            elif kind == "text":
                value = validation.text(value if value is None or isinstance(value, str)
                                        else str(value), f"{where}.value", max_length=64)
            elif kind == "int":
                if value in (None, ""):
                    raise ValidationFailed.field(f"{where}.value", "is required")
                if kind_name == "set_priority":
                    value = validation.quantity(value, f"{where}.value", allow_zero=True,
                                                allow_negative=True)
                    if abs(value) > 1_000_000:
                        raise ValidationFailed.field(f"{where}.value", "is out of range")
                else:
                    value = validation.quantity(value, f"{where}.value", allow_zero=True)
                    if value > 365:
                        raise ValidationFailed.field(f"{where}.value", "at most 365 days")
            else:  # warehouses
                items = [item.upper() for item in _items(value)]
                if not items:
                    raise ValidationFailed.field(f"{where}.value",
                                                 "give at least one warehouse code")
                if codes is None:
                    codes = set(session.scalars(select(Warehouse.code)))
                missing = [code for code in items if code not in codes]
                if missing:
                    raise ValidationFailed.field(
                        f"{where}.value", f"no warehouse with code {', '.join(missing)}")
                value = list(dict.fromkeys(items))
        except ValidationFailed as err:
            for name, messages in err.errors.items():
                for message in messages:
                    errors.add(name, message)
            continue
        clean.append({"type": kind_name, "value": value})
    return clean


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in {"1", "true", "yes", "on", "y"}


def clean_definition(session: Session, data: dict, *, rule_id: int | None = None,
                     dry_run: bool = False) -> dict:
    """Validate a rule's definition; every problem is reported at once, by field. A dry
    run needs no name."""
    if not isinstance(data, dict):
        raise ValidationFailed("A rule must be an object", errors={"rule": ["must be an object"]})
    errors = validation.Errors()
    clean: dict[str, Any] = {}
    try:
        clean["name"] = validation.text(data.get("name"), "name", max_length=128,
                                        required=not dry_run)
    except ValidationFailed as err:
        errors.add("name", err.errors["name"][0])
    try:
        clean["description"] = validation.text(data.get("description"), "description",
                                               max_length=2000, required=False)
    except ValidationFailed as err:
        errors.add("description", err.errors["description"][0])
    stage = data.get("stage") or "on_import"
    if stage not in RULE_STAGES:
        errors.add("stage", f"must be one of {', '.join(RULE_STAGES)}")
    clean["stage"] = stage
    match = data.get("match") or "all"
    if match not in RULE_MATCH:
        errors.add("match", f"must be one of {', '.join(RULE_MATCH)}")
    clean["match"] = match
    clean["stop_processing"] = _bool(data.get("stop_processing"))
    clean["conditions"] = _clean_conditions(data.get("conditions"), errors)
    clean["actions"] = _clean_actions(session, data.get("actions"), errors)
    if clean.get("name") and not dry_run:
        query = select(Rule.id).where(Rule.name == clean["name"])
        if rule_id is not None:
            query = query.where(Rule.id != rule_id)
        if session.scalar(query) is not None:
            errors.add("name", f"'{clean['name']}' is already the name of a rule")
    errors.raise_if_any("The rule is not valid")
    return clean


# --- versions -----------------------------------------------------------------------------

SNAPSHOT_FIELDS = ("name", "description", "stage", "match", "conditions", "actions",
                   "stop_processing", "enabled", "position")


def snapshot(rule: Rule) -> dict:
    return {name: getattr(rule, name) for name in SNAPSHOT_FIELDS}


def _record_version(session: Session, rule: Rule, change: str, before: dict | None,
                    actor: Actor) -> RuleVersion:
    if before is not None:
        rule.version = (rule.version or 1) + 1
    rule.updated_at = utcnow()
    row = RuleVersion(rule=rule, version=rule.version, actor=actor.label, created_at=utcnow(),
                      change=change, before=before,
                      after=None if change == "delete" else snapshot(rule))
    session.add(row)
    return row


def _get(session: Session, rule_id, *, for_update: bool = False) -> Rule:
    try:
        rule_id = int(rule_id)
    except (TypeError, ValueError):
        raise NotFound(f"Rule {rule_id} not found") from None
    query = select(Rule).where(Rule.id == rule_id, Rule.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    rule = session.scalar(query)
    if rule is None:
        raise NotFound(f"Rule {rule_id} not found")
    return rule


def get_rule(session: Session, rule_id) -> Rule:
    return _get(session, rule_id)


def list_rules(session: Session, stage: str | None = None) -> list[Rule]:
    query = select(Rule).where(Rule.deleted_at.is_(None)).order_by(Rule.position, Rule.id)
    if stage:
        query = query.where(Rule.stage == stage)
    return list(session.scalars(query))


def versions(session: Session, rule_id: int) -> list[RuleVersion]:
    return list(session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)
                                .order_by(RuleVersion.version.desc())))


def changed_fields(version: RuleVersion) -> list[str]:
    before, after = version.before or {}, version.after or {}
    return [name for name in SNAPSHOT_FIELDS if before.get(name) != after.get(name)]


@transactional
def create_rule(session: Session, data: dict, actor: Actor) -> Rule:
    """A new rule, disabled (enable it after a dry run), at the end of the order."""
    clean = clean_definition(session, data)
    last = session.scalar(select(func.max(Rule.position)).where(Rule.deleted_at.is_(None)))
    rule = Rule(**clean, enabled=False, version=1,
                position=(last or 0) + POSITION_STEP)
    session.add(rule)
    session.flush()
    _record_version(session, rule, "create", None, actor)
    return rule


@transactional
def update_rule(session: Session, rule_id, data: dict, actor: Actor,
                expected_version=None) -> Rule:
    rule = _get(session, rule_id, for_update=True)
    if expected_version not in (None, ""):
        expected = validation.quantity(expected_version, "version")
        if expected != rule.version:
            raise StaleVersion(
                f"Rule {rule.name} was changed by someone else (version {rule.version}, you "
                f"had {expected}); reload it and try again.",
                errors={"version": [f"current version is {rule.version}"]})
    clean = clean_definition(session, data, rule_id=rule.id)
    before = snapshot(rule)
    for name, value in clean.items():
        setattr(rule, name, value)
    if snapshot(rule) == before:
        return rule
    _record_version(session, rule, "update", before, actor)
    return rule


@transactional
def set_enabled(session: Session, rule_id, enabled: bool, actor: Actor) -> Rule:
    rule = _get(session, rule_id, for_update=True)
    if rule.enabled == bool(enabled):
        return rule
    before = snapshot(rule)
    rule.enabled = bool(enabled)
    _record_version(session, rule, "enable" if enabled else "disable", before, actor)
    return rule


@transactional
def reorder(session: Session, rule_ids: Iterable, actor: Actor) -> list[Rule]:
    """Put the given rules in the given order. They take the positions they held between
    them (sorted), so rules not listed keep theirs; each moved rule gets a version."""
    try:
        ids = [int(i) for i in rule_ids]
    except (TypeError, ValueError):
        raise ValidationFailed.field("rule_ids", "must be rule ids") from None
    if not ids or len(set(ids)) != len(ids):
        raise ValidationFailed.field("rule_ids", "give each rule once")
    rules = {r.id: r for r in session.scalars(
        select(Rule).where(Rule.id.in_(ids), Rule.deleted_at.is_(None))
        .order_by(Rule.id).with_for_update())}
    missing = [i for i in ids if i not in rules]
    if missing:
        raise NotFound(f"Rule {missing[0]} not found")
    positions = sorted(r.position for r in rules.values())
    for i in range(1, len(positions)):  # equal positions: make room so the order holds
        if positions[i] <= positions[i - 1]:
            positions[i] = positions[i - 1] + 1
    for rule_id, position in zip(ids, positions):
        rule = rules[rule_id]
        if rule.position != position:
            before = snapshot(rule)
            rule.position = position
            _record_version(session, rule, "reorder", before, actor)
    return [rules[i] for i in ids]


@transactional
def move(session: Session, rule_id, direction: str, actor: Actor) -> Rule:
    """Swap a rule with its neighbour above ("up") or below ("down")."""
    if direction not in ("up", "down"):
        raise ValidationFailed.field("direction", "must be up or down")
    rule = _get(session, rule_id)
    ordered = list_rules(session)
    index = next(i for i, r in enumerate(ordered) if r.id == rule.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        neighbour = ordered[other]
        reorder(session, [rule.id, neighbour.id] if direction == "up"
                else [neighbour.id, rule.id], actor)
    return rule


@transactional
def delete_rule(session: Session, rule_id, actor: Actor) -> Rule:
    """Delete a rule: it stops being evaluated and leaves the list; its history stays (the
    name is freed for a new rule)."""
    rule = _get(session, rule_id, for_update=True)
    before = snapshot(rule)
    rule.enabled = False
    rule.deleted_at = utcnow()
    suffix = f" (deleted #{rule.id})"
    rule.name = rule.name[:128 - len(suffix)] + suffix
    _record_version(session, rule, "delete", before, actor)
    return rule


# --- evaluation ---------------------------------------------------------------------------

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


# --- dry run ------------------------------------------------------------------------------

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
