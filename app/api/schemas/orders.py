"""Orders: the detail view (with lines, holds, allocations, shipments and events) and the
bodies of the order actions."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length, OneOf, Range

from ...models.orders import HOLD_REASONS
from app.services.core.validation import ADDRESS_FIELDS, INT_MAX
from .common import InSchema, Money, OutSchema, required_for


class OrderLineOutSchema(OutSchema):
    id = fields.Int()
    external_id = fields.Str(allow_none=True)
    sku = fields.Str(allow_none=True)
    product_id = fields.Int(allow_none=True)
    product_sku = fields.Function(lambda line: line.product.sku if line.product else None)
    title = fields.Str()
    quantity = fields.Int()
    unit_price = Money()
    tax = Money()
    discount = Money()
    quantity_allocated = fields.Int()
    quantity_shipped = fields.Int()
    quantity_cancelled = fields.Int()
    quantity_returned = fields.Int()
    quantity_backordered = fields.Int()
    quantity_open = fields.Int()


class OrderHoldOutSchema(OutSchema):
    id = fields.Int()
    reason = fields.Str()
    note = fields.Str(allow_none=True)
    placed_by = fields.Str()
    placed_at = fields.DateTime()
    released_by = fields.Str(allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    release_note = fields.Str(allow_none=True)
    open = fields.Function(lambda hold: hold.released_at is None)


class OrderEventOutSchema(OutSchema):
    id = fields.Int()
    created_at = fields.DateTime()
    actor = fields.Str()
    type = fields.Str()
    message = fields.Str()
    data = fields.Raw(allow_none=True)


class AllocationOutSchema(OutSchema):
    id = fields.Int()
    order_line_id = fields.Int()
    warehouse_id = fields.Int()
    warehouse_code = fields.Function(lambda a: a.warehouse.code if a.warehouse else None)
    quantity = fields.Int()
    status = fields.Str()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class OrderShipmentOutSchema(OutSchema):
    id = fields.Int()
    warehouse_id = fields.Int(allow_none=True)
    carrier = fields.Str(allow_none=True)
    service = fields.Str(allow_none=True)
    tracking_number = fields.Str(allow_none=True)
    status = fields.Str()
    shipped_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class OrderDetailSchema(OutSchema):
    id = fields.Int()
    channel_id = fields.Int()
    channel_code = fields.Function(lambda o: o.channel.code if o.channel else None)
    external_id = fields.Str()
    order_number = fields.Str()
    customer_id = fields.Int(allow_none=True)
    email = fields.Str(allow_none=True)
    customer_name = fields.Str(allow_none=True)
    phone = fields.Str(allow_none=True)
    shipping_address = fields.Raw(allow_none=True)
    billing_address = fields.Raw(allow_none=True)
    ship_country = fields.Str(allow_none=True)
    currency = fields.Str()
    subtotal = Money()
    shipping_total = Money()
    tax_total = Money()
    discount_total = Money()
    total = Money(allow_none=True)
    total_base = Money(allow_none=True)
    placed_at = fields.DateTime()
    channel_updated_at = fields.DateTime(allow_none=True)
    ship_by = fields.DateTime(allow_none=True)
    priority = fields.Int()
    tags = fields.List(fields.Str())
    status = fields.Str()
    financial_status = fields.Str()
    fulfillment_status = fields.Str()
    channel_status = fields.Str(allow_none=True)
    fulfilled_by_channel = fields.Bool()
    shipping_method = fields.Str(allow_none=True)
    risk_score = fields.Int(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.Str(allow_none=True)
    local_edits = fields.Raw()
    synced_to_channel = fields.Bool()
    is_held = fields.Bool()
    version = fields.Int()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    lines = fields.List(fields.Nested(OrderLineOutSchema))
    holds = fields.List(fields.Nested(OrderHoldOutSchema))
    allocations = fields.List(fields.Nested(AllocationOutSchema))
    shipments = fields.List(fields.Nested(OrderShipmentOutSchema))
    events = fields.List(fields.Nested(OrderEventOutSchema))


class HoldInSchema(InSchema):
    reason = fields.Str(load_default="manual", metadata={
        "description": "hold reason code", "enum": list(HOLD_REASONS)})
    note = fields.Str(allow_none=True, load_default=None)


class ReleaseInSchema(InSchema):
    hold_id = fields.Int(strict=True, allow_none=True, load_default=None,
                         metadata={"description": "release this hold only"})
    reason = fields.Str(allow_none=True, load_default=None,
                        metadata={"description": "release the open holds with this reason"})
    note = fields.Str(allow_none=True, load_default=None)


class CancelInSchema(InSchema):
    reason = fields.Str(required=True, validate=Length(min=1, max=500),
                        metadata={"description": "why"})
    refund = fields.Bool(load_default=True, metadata={"description": "the channel refunds the payment"})
    restock = fields.Bool(load_default=True, metadata={"description": "the channel restocks the units"})


class OrderRefundInSchema(InSchema):
    amount = fields.Decimal(allow_none=True, load_default=None, metadata={
        "description": "in the order's currency; without it, the value of the lines and shipping given"})
    lines = fields.Dict(keys=fields.Str(), values=fields.Int(strict=True, validate=Range(1, INT_MAX)),
                        load_default=None, allow_none=True,
                        metadata={"description": "order line id -> units refunded"})
    shipping = fields.Decimal(allow_none=True, load_default=None,
                              metadata={"description": "the part of the amount that refunds shipping"})
    reason = fields.Str(allow_none=True, load_default=None, validate=Length(max=1000))


class ResendInSchema(InSchema):
    notification_id = fields.Int(strict=True, allow_none=True, load_default=None, metadata={
        "description": "the logged mail to send again (else the latest of `event`)"})
    event = fields.Str(allow_none=True, load_default=None, metadata={
        "description": "the mail to send (order_confirmed, shipped, out_for_delivery, "
                       "delivered, delivery_exception, delayed, cancelled, refund_issued)"})
    to = fields.Str(allow_none=True, load_default=None, validate=Length(max=254), metadata={
        "description": "another address (default: the customer's)"})


class ResendOutSchema(OutSchema):
    outbox_id = fields.Int()


class NoteInSchema(InSchema):
    text = fields.Str(required=True, validate=Length(min=1, max=4000),
                      metadata={"description": "the note"})


def _address() -> dict:
    """A postal address as services/core/validation.address takes it."""
    fields_ = {key: {"type": "string", "maxLength": size, "nullable": True}
               for key, size in ADDRESS_FIELDS.items()}
    for key in ("line1", "city"):
        fields_[key] = {"type": "string", "minLength": 1, "maxLength": ADDRESS_FIELDS[key]}
    fields_["country"] = {"type": "string", "pattern": "^\\s*[A-Za-z]{2}\\s*$"}
    return {"type": "object", "nullable": True, "additionalProperties": False,
            "required": ["line1", "city", "country"], "properties": fields_}


ID_MAP = {"type": "object", "additionalProperties": False, "nullable": True,
          "patternProperties": {"^[1-9][0-9]{0,8}$": {"type": "integer", "minimum": 0,
                                                      "maximum": INT_MAX}}}


class EditInSchema(InSchema):
    expected_version = fields.Int(strict=True, allow_none=True, load_default=None, metadata={
        "description": "the order's version as last read (optimistic locking)"})
    shipping_address = fields.Dict(allow_none=True, load_default=None)
    billing_address = fields.Dict(allow_none=True, load_default=None)
    email = fields.Str(allow_none=True, load_default=None,
                       metadata={"description": "the order's contact e-mail"})
    phone = fields.Str(allow_none=True, load_default=None, validate=Length(max=64))
    openapi_extra = {"properties": {"shipping_address": _address(),
                                    "billing_address": _address()}}


class CancelLinesInSchema(InSchema):
    expected_version = fields.Int(strict=True, required=True, metadata={
        "description": "the order's version as last read (optimistic locking)"})
    lines = fields.Dict(keys=fields.Str(), values=fields.Raw(), load_default=None,
                        allow_none=True, metadata={
                            "description": "{line id: open units to cancel}"})
    reason = fields.Str(required=True, validate=Length(min=1, max=500),
                        metadata={"description": "why"})
    openapi_extra = {"properties": {"lines": ID_MAP}}


class AddLineInSchema(InSchema):
    sku = fields.Str(metadata={"description": "the product's SKU"})
    quantity = fields.Raw(metadata={"description": "units (a whole number above zero)"})
    unit_price = fields.Raw(allow_none=True, metadata={
        "description": "price per unit; default: the product's price"})
    title = fields.Str(allow_none=True)


class EditLinesInSchema(InSchema):
    expected_version = fields.Int(strict=True, allow_none=True, load_default=None, metadata={
        "description": "the order's version as last read (optimistic locking)"})
    quantities = fields.Dict(keys=fields.Str(), values=fields.Raw(), load_default=None,
                             allow_none=True, metadata={
                                 "description": "{line id: new ordered quantity}"})
    remove = fields.List(fields.Raw(), load_default=None, allow_none=True,
                         metadata={"description": "ids of lines to remove"})
    add = fields.List(fields.Dict(), load_default=None, allow_none=True, metadata={
        "description": "new lines: [{sku, quantity, unit_price, title?}] (see AddLineIn)"})
    openapi_extra = {"properties": {
        "quantities": ID_MAP,
        "remove": {"items": {"type": "integer", "minimum": 1, "maximum": INT_MAX}},
        "add": {"items": {"type": "object", "additionalProperties": False,
                          "required": ["sku", "quantity"], "properties": {
                              "sku": {"type": "string", "minLength": 1, "maxLength": 64},
                              "quantity": {"type": "integer", "minimum": 1, "maximum": INT_MAX},
                              "unit_price": {"type": "string", "format": "decimal",
                                             "nullable": True,
                                             "pattern": "^[0-9]{1,9}(\\.[0-9]{1,6})?$"},
                              "title": {"type": "string", "maxLength": 255,
                                        "nullable": True}}}}}}


class BulkInSchema(InSchema):
    action = fields.Str(required=True, validate=OneOf(["hold", "release", "cancel", "reallocate"]), metadata={
        "description": "hold (Order/hold), release (Order/hold), cancel (Order/amend), "
                       "reallocate (Order/reallocate)",
        "enum": ["hold", "release", "cancel", "reallocate"]})
    ids = fields.List(fields.Int(strict=True), required=True, validate=Length(min=1, max=500),
                      metadata={"description": "order ids"})
    reason = fields.Str(allow_none=True, load_default=None, validate=Length(max=500), metadata={
        "description": "cancel: the reason (required); hold: the note (required); "
                       "release: the note"})
    hold_reason = fields.Str(load_default="manual", metadata={
        "description": "hold reason code", "enum": list(HOLD_REASONS)})
    openapi_extra = required_for("action", ["hold", "cancel"], ["release", "reallocate"],
                                 "reason", 500)


class BulkItemOutSchema(OutSchema):
    id = fields.Int()
    order_number = fields.Str(allow_none=True)
    message = fields.Str()
    code = fields.Str()


class BulkOutSchema(OutSchema):
    action = fields.Str()
    succeeded = fields.List(fields.Nested(BulkItemOutSchema))
    failed = fields.List(fields.Nested(BulkItemOutSchema))
