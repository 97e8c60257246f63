"""Pick lists and the pack station: input and output shapes."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length, Range

from .carriers import PackageInSchema
from .common import INT_MAX, InSchema, OutSchema


class PickListInSchema(InSchema):
    """A new pick list (or its preview): a warehouse and the filters of services/fulfilment/picking.py."""

    warehouse_id = fields.Int(required=True, validate=Range(min=1, max=INT_MAX))
    filters = fields.Dict(keys=fields.Str(), load_default=dict, metadata={
        "description": "shipping_method, priority, ship_by_before, channel_id, single_item, max_orders, max_units"})
    # what services/fulfilment/picking.clean_filters reads
    openapi_extra = {"properties": {"filters": {"type": "object", "additionalProperties": False, "properties": {
        "shipping_method": {"type": "string", "maxLength": 128, "pattern": "^[^\\x00]*$"},
        "priority": {"type": "integer", "minimum": 0, "maximum": INT_MAX},
        "channel_id": {"type": "integer", "minimum": 1, "maximum": INT_MAX},
        "max_units": {"type": "integer", "minimum": 1, "maximum": INT_MAX},
        "max_orders": {"type": "integer", "minimum": 1, "maximum": 500},
        "ship_by_before": {"type": "string", "format": "date-time"},
        "single_item": {"type": "boolean"}}}}}


class ScanInSchema(InSchema):
    bin = fields.Str(allow_none=True, load_default=None, validate=Length(max=32))
    item = fields.Str(required=True, validate=Length(min=1, max=128))
    quantity = fields.Int(load_default=1, validate=Range(min=1, max=10_000))


class ShortInSchema(InSchema):
    bin = fields.Str(allow_none=True, load_default=None, validate=Length(max=32))
    item = fields.Str(required=True, validate=Length(min=1, max=128))


class PackInSchema(InSchema):
    items = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True, metadata={
        "description": "units scanned per order line id"})
    packages = fields.List(fields.Nested(PackageInSchema), required=True, validate=Length(min=1, max=20))
    carrier = fields.Str(allow_none=True, load_default=None, validate=Length(max=32))
    service = fields.Str(allow_none=True, load_default=None, validate=Length(max=64))
    tracking_number = fields.Str(allow_none=True, load_default=None, validate=Length(max=64))


class BulkLabelsInSchema(InSchema):
    packages = fields.List(fields.Nested(PackageInSchema), required=True, validate=Length(min=1, max=1),
                           metadata={"description": "one package for every order"})
    carrier = fields.Str(allow_none=True, load_default=None, validate=Length(max=32))
    service = fields.Str(allow_none=True, load_default=None, validate=Length(max=64))


class PickListLineOutSchema(OutSchema):
    id = fields.Int()
    slot = fields.Int()
    order_id = fields.Int()
    order_line_id = fields.Int()
    bin = fields.Str(allow_none=True)
    sku = fields.Str()
    barcode = fields.Str(allow_none=True)
    title = fields.Str()
    quantity = fields.Int()
    quantity_picked = fields.Int()
    quantity_short = fields.Int()
    quantity_packed = fields.Int()


class PickListDetailSchema(OutSchema):
    id = fields.Int()
    code = fields.Str()
    warehouse_id = fields.Int()
    status = fields.Str()
    filters = fields.Dict(allow_none=True)
    assigned_to = fields.Str(allow_none=True)
    created_by = fields.Str()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(PickListLineOutSchema))
