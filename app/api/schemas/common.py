from __future__ import annotations

from marshmallow import Schema, fields
from marshmallow.schema import SchemaMeta
from marshmallow.validate import Range

from app.services.core.validation import INT_MAX, INT_MIN, MONEY_LIMIT

Money = lambda **kw: fields.Decimal(as_string=True, **kw)  # noqa: E731  money as "12.50"


# component name -> schema class, for openapi.refine
NAMED_SCHEMAS: dict[str, type] = {}


class NamedSchema(Schema):
    """OpenAPI names its component after the class, without "Schema" (HoldInSchema ->
    HoldIn), as FAB's resolver does for nested schemas.

    ``openapi_extra``: JSON Schema keywords about the whole object that no single field
    can say (a field required for one action only: ``oneOf``); app/api/openapi.py merges
    them into the component."""

    openapi_extra: dict | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__component_name__ = cls.__name__.removesuffix("Schema")
        other = NAMED_SCHEMAS.get(cls.__component_name__)
        if other is not None and other.__qualname__ + other.__module__ != cls.__qualname__ + cls.__module__:
            # the spec would show one of them for both (it did: two ReceiveIn)
            raise TypeError(f"two API schemas named {cls.__component_name__}: "
                            f"{other.__module__} and {cls.__module__}")
        NAMED_SCHEMAS[cls.__component_name__] = cls


def bound_field(name: str, field: fields.Field) -> None:
    """Give a number field the range its column can hold, unless it declares one: an id
    (``*_id``, ``ids``) 1..2**31-1, any other whole number -2**31..2**31-1, a decimal
    below 10**10 (money is NUMERIC(12,2)). Lists and dicts bound their items."""
    if isinstance(field, fields.List):
        bound_field(name, field.inner)
        return
    if isinstance(field, fields.Dict):
        if field.value_field is not None:
            bound_field(name, field.value_field)
        return
    if any(isinstance(v, Range) for v in field.validators):
        return
    if isinstance(field, fields.Integer):
        is_id = name.endswith("_id") or name == "ids"
        low, high = (1, INT_MAX) if is_id else (INT_MIN, INT_MAX)
        field.validators.append(Range(low, high, error=f"must be between {low:,} and {high:,}"))
    elif isinstance(field, fields.Decimal):
        limit = int(MONEY_LIMIT)
        field.validators.append(Range(-limit, limit, min_inclusive=False,
                                      max_inclusive=False,
                                      error=f"must be below {MONEY_LIMIT:,} (and above minus that)"))
        # apispec writes a Decimal field's range as strings: say it as JSON numbers
        field.metadata = {**field.metadata, "minimum": -limit, "maximum": limit,
                          "exclusiveMinimum": True, "exclusiveMaximum": True}


class BoundedSchemaMeta(SchemaMeta):
    """Every input schema's number fields get their column's range when the class is made
    (request_guard.py and services/core/validation.py hold the other half of the rule)."""

    def __new__(mcs, name, bases, attrs):
        klass = super().__new__(mcs, name, bases, attrs)
        for field_name, field in klass._declared_fields.items():
            bound_field(field_name, field)
        return klass


class InSchema(NamedSchema, metaclass=BoundedSchemaMeta):
    """Input: unknown fields are refused (marshmallow's default RAISE), named per field;
    numbers are bounded by what their columns hold (``bound_field``)."""


class OutSchema(NamedSchema):
    """Output only."""


class EmptyInSchema(InSchema):
    """An action without parameters: the body is empty or ``{}``."""


def required_for(selector: str, values: list[str], others: list[str], field: str,
                 max_length: int) -> dict:
    """``openapi_extra`` for an input where ``field`` (a text) is required when
    ``selector`` is one of ``values`` and optional for the ``others``."""
    return {"oneOf": [
        {"properties": {selector: {"enum": values},
                        field: {"type": "string", "minLength": 1, "maxLength": max_length,
                                "pattern": "^[^\\x00]*[^\\s\\x00][^\\x00]*$"}},
         "required": [field]},
        {"properties": {selector: {"enum": others}}},
    ]}


def one_of_keys(id_field: str, text_field: str) -> dict:
    """JSON Schema: a record named by its id or by a text key (a SKU, a code), at least
    one of the two given (not null, not blank)."""
    return {"anyOf": [
        {"required": [id_field], "properties": {id_field: {"type": "integer"}}},
        {"required": [text_field], "properties": {text_field: {
            "type": "string", "minLength": 1, "pattern": "^[^\\x00]*[^\\s\\x00][^\\x00]*$"}}}]}
