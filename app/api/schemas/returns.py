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
    reason_code = fields.Str(allow_none=True)
    note = fields.Str(allow_none=True)
    quantity_received = fields.Int()
    grade = fields.Str(allow_none=True)
    disposition = fields.Str(allow_none=True)
    warehouse_id = fields.Int(allow_none=True)


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
    error = fields.Str(allow_none=True, metadata={
        "description": "the channel's reason for a failure, or an Admin's for a rejection"})
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
    source = fields.Str()
    rejection_reason = fields.Str(allow_none=True)
    label_carrier = fields.Str(allow_none=True)
    label_tracking = fields.Str(allow_none=True)
    label_error = fields.Str(allow_none=True)
    parcel_status = fields.Str(allow_none=True, metadata={
        "description": "the return label's parcel as the carrier tracks it (in_transit, delivered: at the "
                       "warehouse, not received yet)"})
    parcel_event_at = fields.DateTime(allow_none=True)
    extras = fields.Raw(allow_none=True)
    exchange_order_id = fields.Int(allow_none=True)
    lines = fields.List(fields.Nested(ReturnLineOutSchema))
    refunds = fields.List(fields.Nested(RefundOutSchema))
    breakdown = fields.Raw(metadata={"description": "the refund the policy calculates (items, discount, "
                                                    "tax, shipping, restocking_fee, left, total)"})


class ReturnInSchema(InSchema):
    order_id = fields.Int(strict=True, required=True)
    lines = fields.Dict(keys=fields.Str(), values=fields.Raw(), required=True,
                        metadata={"description": "order line id -> units to return, or "
                                                 "{quantity, reason (a reason code), note}"})
    reason = fields.Str(allow_none=True, load_default=None, validate=Length(max=32),
                        metadata={"description": "the reason code of lines without their own"})
    # the keys of lines are line ids (1 and up), and at least one line is returned
    openapi_extra = {"properties": {"lines": {
        "minProperties": 1, "additionalProperties": False,
        "patternProperties": {"^[1-9][0-9]{0,8}$": {"oneOf": [
            {"type": "integer", "minimum": 1, "maximum": INT_MAX},
            {"type": "object", "additionalProperties": False, "required": ["quantity"],
             "properties": {"quantity": {"type": "integer", "minimum": 1, "maximum": INT_MAX},
                            "reason": {"type": "string", "maxLength": 32, "pattern": "^[^\\x00]*$"},
                            "note": {"type": "string", "maxLength": 1000, "pattern": "^[^\\x00]*$"}}}]}}}}}


class RejectInSchema(InSchema):
    reason = fields.Str(required=True, validate=Length(min=1, max=1000),
                        metadata={"description": "told to the customer"})


class ReturnReceiveInSchema(InSchema):
    lines = fields.Dict(keys=fields.Str(), values=fields.Raw(), load_default=None, allow_none=True,
                        metadata={"description": "return line id -> {grade (A-D), disposition (restock, "
                                                 "refurbish, scrap, vendor), warehouse_id, note}; "
                                                 "default: grade A, restocked where it shipped from"})
    openapi_extra = {"properties": {"lines": {
        "additionalProperties": False, "patternProperties": {"^[1-9][0-9]{0,8}$": {
            "type": "object", "additionalProperties": False, "properties": {
                "grade": {"type": "string", "enum": ["A", "B", "C", "D"]},
                "disposition": {"type": "string", "enum": ["restock", "refurbish", "scrap", "vendor"]},
                "warehouse_id": {"type": "integer", "minimum": 1, "maximum": INT_MAX},
                "note": {"type": "string", "maxLength": 1000, "pattern": "^[^\\x00]*$"}}}}}}}


class RefundInSchema(InSchema):
    amount = fields.Decimal(load_default=None, allow_none=True,
                            metadata={"description": "in the order's currency; default: the policy's calculation"})
    reason = fields.Str(allow_none=True, load_default=None)


class ExchangeInSchema(InSchema):
    items = fields.Dict(keys=fields.Str(), values=fields.Int(strict=True, validate=Range(1, INT_MAX)), required=True,
                        metadata={"description": "SKU -> units the customer gets instead (a new order on "
                                                 "the same channel, stock reserved now)"})


class RefundRejectInSchema(InSchema):
    reason = fields.Str(allow_none=True, load_default=None, validate=Length(max=1000),
                        metadata={"description": "why not: the asker reads it on the refund and the order"})
