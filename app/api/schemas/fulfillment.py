"""Fulfillment output shapes."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length, Range

from ...models.fulfillment import SHIPMENT_STATUSES
from app.services.core.validation import INT_MAX

from .common import InSchema, Money, OutSchema


class ShipmentLineOutSchema(OutSchema):
    id = fields.Int()
    order_line_id = fields.Int()
    sku = fields.Function(lambda sl: sl.line.sku if sl.line else None)
    quantity = fields.Int()


class TrackingEventOutSchema(OutSchema):
    id = fields.Int()
    occurred_at = fields.DateTime()
    status = fields.Str()
    description = fields.Str(allow_none=True)
    location = fields.Str(allow_none=True)
    carrier_code = fields.Str(allow_none=True, metadata={"description": "the carrier's own code"})
    problem = fields.Str(allow_none=True)
    source = fields.Str(allow_none=True)


class ShipmentPackageOutSchema(OutSchema):
    weight_kg = fields.Decimal(as_string=True)
    length_cm = fields.Decimal(as_string=True)
    width_cm = fields.Decimal(as_string=True)
    height_cm = fields.Decimal(as_string=True)
    tracking_number = fields.Str(allow_none=True)


class ShipmentDetailSchema(OutSchema):
    id = fields.Int()
    order_id = fields.Int()
    order_number = fields.Function(lambda s: s.order.order_number)
    warehouse_id = fields.Int(allow_none=True)
    warehouse_code = fields.Function(lambda s: s.warehouse.code if s.warehouse else None)
    pick_list_id = fields.Int(allow_none=True)
    carrier = fields.Str(allow_none=True)
    service = fields.Str(allow_none=True)
    tracking_number = fields.Str(allow_none=True)
    status = fields.Str()
    cost = Money(allow_none=True)
    currency = fields.Str(allow_none=True)
    created_by = fields.Str()
    created_at = fields.DateTime()
    shipped_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    carrier_account = fields.Function(lambda s: s.carrier_account.code if s.carrier_account else None)
    label_format = fields.Function(lambda s: next((l.format for l in s.labels if l.voided_at is None), None))
    # where a ZPL label is sent to print (the warehouse's printer); null: downloaded
    label_printer = fields.Function(lambda s: s.warehouse.printer_address if s.warehouse and any(
        l.format == "ZPL" and l.voided_at is None for l in s.labels) else None)
    label_error = fields.Str(allow_none=True)
    packages = fields.List(fields.Nested(ShipmentPackageOutSchema))
    lines = fields.List(fields.Nested(ShipmentLineOutSchema))
    tracking_events = fields.List(fields.Nested(TrackingEventOutSchema))
    # rate shopping ("carrier": "auto"): the rule, the rates considered, those left out, the one chosen
    rate_decision = fields.Dict(allow_none=True)
    why_this_carrier = fields.Function(lambda s: _why(s.rate_decision) or None)
    manifest_id = fields.Int(allow_none=True)


def _why(record):
    from app.services.fulfilment import shipping_rules  # noqa: PLC0415 — schemas load before services

    return shipping_rules.explain(record)


class TrackingInSchema(InSchema):
    status = fields.Str(required=True, metadata={"enum": list(SHIPMENT_STATUSES)})
    description = fields.Str(allow_none=True, load_default=None, validate=Length(max=2000))
    location = fields.Str(allow_none=True, load_default=None, validate=Length(max=255))


class ConfirmLabelledInSchema(InSchema):
    """End of day: the warehouse whose labels bought and not shipped are ship-confirmed."""

    warehouse_id = fields.Int(required=True, strict=True, validate=Range(1, INT_MAX))


class ConfirmLabelledOutSchema(OutSchema):
    shipped = fields.List(fields.Int(), metadata={"description": "the shipments confirmed"})
    waiting = fields.List(fields.Dict(), metadata={
        "description": "the others, each {shipment_id, message}: why it cannot ship yet (held, changed)"})
