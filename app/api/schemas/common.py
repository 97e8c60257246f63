from __future__ import annotations

from marshmallow import Schema, fields

Money = lambda **kw: fields.Decimal(as_string=True, **kw)  # noqa: E731  money as "12.50"


class InSchema(Schema):
    """Input: unknown fields are refused (marshmallow's default RAISE), named per field."""


class OutSchema(Schema):
    """Output only."""
