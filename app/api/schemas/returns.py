"""Returns output shapes."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length, Range

from app.services.core.validation import INT_MAX

from .common import InSchema, Money, OutSchema


class ReturnLineOutSchema(OutSchema):
    id = fields.Int()
    order_line_id = fields.Int()
    sku = fields.Function(lambda rl: rl.line.sku if rl.line else None)
    quantity = fields.Int()
    condition = fields.Str(allow_none=True)
    restock = fields.Bool()


class RefundOutSchema(OutSchema):
    id = fields.Int()
    amount = Money()
    currency = fields.Str()
    reason = fields.Str(allow_none=True)
    status = fields.Str()
    external_id = fields.Str(allow_none=True)
    source = fields.Str()
    shipping = Money()
    lines = fields.Raw(allow_none=True)
    error = fields.Str(allow_none=True, metadata={"description": "the channel's reason for a failure"})
    created_by = fields.Str()
    created_at = fields.DateTime()


class ReturnDetailSchema(OutSchema):
    id = fields.Int()
    order_id = fields.Int()
    order_number = fields.Function(lambda r: r.order.order_number)
    rma_number = fields.Str()
    status = fields.Str()
    reason = fields.Str(allow_none=True)
    created_by = fields.Str()
    created_at = fields.DateTime()
    received_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(ReturnLineOutSchema))
    refunds = fields.List(fields.Nested(RefundOutSchema))


class ReturnInSchema(InSchema):
    order_id = fields.Int(strict=True, required=True)
    lines = fields.Dict(keys=fields.Str(), values=fields.Int(strict=True, validate=Range(1, INT_MAX)),
                        required=True,
                        metadata={"description": "order line id -> units to return"})
    reason = fields.Str(allow_none=True, load_default=None, validate=Length(max=1000))
    # the keys of lines are line ids (1 and up), and at least one line is returned
    openapi_extra = {"properties": {"lines": {
        "minProperties": 1, "additionalProperties": False,
        "patternProperties": {"^[1-9][0-9]{0,8}$": {"type": "integer", "minimum": 1,
                                                    "maximum": INT_MAX}}}}}


class RefundInSchema(InSchema):
    amount = fields.Decimal(required=True, metadata={"description": "in the order's currency"})
    reason = fields.Str(allow_none=True, load_default=None)
