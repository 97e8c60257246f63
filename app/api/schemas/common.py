from __future__ import annotations

from marshmallow import Schema, fields

Money = lambda **kw: fields.Decimal(as_string=True, **kw)  # noqa: E731  money as "12.50"


class NamedSchema(Schema):
    """OpenAPI names its component after the class, without "Schema" (HoldInSchema ->
    HoldIn), as FAB's resolver does for nested schemas."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__component_name__ = cls.__name__.removesuffix("Schema")


class InSchema(NamedSchema):
    """Input: unknown fields are refused (marshmallow's default RAISE), named per field."""


class OutSchema(NamedSchema):
    """Output only."""


class EmptyInSchema(InSchema):
    """An action without parameters: the body is empty or ``{}``."""
