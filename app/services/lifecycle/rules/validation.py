"""A rule's definition cleaned when it is saved: every condition and action checked against the
vocabulary, each failure naming its field (``conditions[1].value``)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Rule, Warehouse, normalize_sku
from app.models.rules import RULE_MATCH, RULE_STAGES
from app.services.core import validation
from app.services.core.errors import ValidationFailed
from app.services.lifecycle.rules.vocabulary import (
    ACTIONS,
    FIELDS,
    LIST_OPERATORS,
    MAX_ACTIONS,
    MAX_CONDITIONS,
    MAX_LIST_VALUES,
    NO_VALUE_OPERATORS,
    OPERATORS_BY_KIND,
)

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
