"""What a rule may talk about: the order facts (fields and their operators) and the actions,
with their limits."""
from __future__ import annotations

from dataclasses import dataclass

from app.models.rules import RULE_MATCH, RULE_STAGES

MAX_CONDITIONS = 30
MAX_ACTIONS = 20
MAX_LIST_VALUES = 200
DRY_RUN_DEFAULT = 200
DRY_RUN_MAX = 1000
POSITION_STEP = 10


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
