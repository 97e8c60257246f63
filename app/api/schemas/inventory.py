"""Stock: adjustment and receipt bodies, and the shapes their answers use."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Range

from app.services.core.validation import INT_MAX
from .common import InSchema, OutSchema, one_of_keys


class StockLevelOutSchema(OutSchema):
    id = fields.Int()
    warehouse_id = fields.Int()
    warehouse_code = fields.Function(lambda l: l.warehouse.code if l.warehouse else None)
    product_id = fields.Int()
    product_sku = fields.Function(lambda l: l.product.sku if l.product else None)
    on_hand = fields.Int()
    reserved = fields.Int()
    available = fields.Int()
    bin = fields.Str(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


class StockMovementOutSchema(OutSchema):
    id = fields.Int()
    stock_level_id = fields.Int()
    warehouse_id = fields.Int()
    product_id = fields.Int()
    on_hand_delta = fields.Int()
    reserved_delta = fields.Int()
    reason = fields.Str()
    reference = fields.Str(allow_none=True)
    order_id = fields.Int(allow_none=True)
    note = fields.Str(allow_none=True)
    actor = fields.Str()
    created_at = fields.DateTime()


class AdjustInSchema(InSchema):
    delta = fields.Int(strict=True, required=True, metadata={
        "description": "units to add (positive) or remove (negative) from on hand"})
    reason = fields.Str(allow_none=True, load_default=None, metadata={
        "description": "why (required): counted, damaged, found, ..."})


class ReceiveInSchema(InSchema):
    warehouse_id = fields.Int(strict=True, allow_none=True, load_default=None)
    warehouse = fields.Str(allow_none=True, load_default=None,
                           metadata={"description": "warehouse code (instead of warehouse_id)"})
    product_id = fields.Int(strict=True, allow_none=True, load_default=None)
    sku = fields.Str(allow_none=True, load_default=None,
                     metadata={"description": "product SKU (instead of product_id)"})
    quantity = fields.Int(strict=True, required=True, validate=Range(1, INT_MAX))
    reference = fields.Str(allow_none=True, load_default=None,
                           metadata={"description": "purchase order, delivery note, ..."})
    # the warehouse by id or by code, the product by id or by SKU
    openapi_extra = {"allOf": [one_of_keys("warehouse_id", "warehouse"),
                               one_of_keys("product_id", "sku")]}


class BinInSchema(InSchema):
    bin = fields.Str(allow_none=True, required=True, metadata={
        "description": "shelf location (at most 32 characters); null clears it"})
