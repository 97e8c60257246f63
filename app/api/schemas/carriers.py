"""Carrier accounts, rates, label purchases, delivery exceptions: input and output shapes."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import fields
from marshmallow.validate import Length, OneOf, Range

from ...models.fulfillment import CARRIER_KINDS, LABEL_FORMATS
from ...services.fulfilment.carriers import REQUIRED_CREDENTIALS
from .common import INT_MAX, InSchema, OutSchema

CODE_PATTERN = "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{1,31}\\s*$"  # services/core/validation.CODE_RE, any case


def _kind_rule(kind: str) -> dict:
    keys = list(REQUIRED_CREDENTIALS.get(kind, ()))
    rule: dict = {"properties": {"kind": {"enum": [kind]}}}
    if keys:
        rule["properties"]["credentials"] = {
            "type": "object", "required": keys,
            "properties": {key: {"type": "string", "minLength": 1, "pattern": "^[^\\x00]*\\S[^\\x00]*$"}
                           for key in keys}}
        rule["required"] = ["credentials"]
    if kind != "manual":
        rule["properties"]["base_url"] = {"type": "string", "minLength": 8,
                                          "pattern": "^\\s*https?://[^\\x00]+$"}
        rule["required"] = rule.get("required", []) + ["base_url"]
    return rule


class CarrierAccountInSchema(InSchema):
    """A carrier account's changes (PUT), as services/fulfilment/carriers.py checks them."""

    code = fields.Str(validate=Length(max=32), metadata={
        "pattern": CODE_PATTERN, "description": "2-32 letters, digits, - or _ (kept in lower case)"})
    name = fields.Str(validate=Length(min=1, max=128))
    kind = fields.Str(validate=OneOf(CARRIER_KINDS))
    base_url = fields.Str(allow_none=True, validate=Length(max=255), metadata={
        "pattern": "^\\s*(https?://[^\\x00]*)?$",
        "description": "the carrier's API root (UPS: https://onlinetools.ups.com, EasyPost: "
                       "https://api.easypost.com); required for every kind but manual"})
    tracking_url = fields.Str(allow_none=True, validate=Length(max=255), metadata={
        "pattern": "^\\s*(https?://[^\\x00]*)?$",
        "description": "the tracking API's root where it is not the base URL (DHL: https://api-eu.dhl.com "
                       "for the Unified Shipment Tracking API); empty: the base URL. Credentials go "
                       "there too: changing it needs them again"})
    account_number = fields.Str(allow_none=True, validate=Length(max=32))
    label_format = fields.Str(validate=OneOf(LABEL_FORMATS))
    enabled = fields.Bool()
    credentials = fields.Dict(keys=fields.Str(), allow_none=True, load_only=True, metadata={
        "description": "write-only (UPS: client_id, client_secret; EasyPost: api_key); never returned",
        "additionalProperties": {"type": "string", "pattern": "^[^\\x00]*$"}})
    webhook_secret = fields.Str(allow_none=True, load_only=True, validate=Length(max=255), metadata={
        "description": "write-only: the UPS Track Alert credential or the EasyPost webhook secret"})


class CarrierAccountAddSchema(CarrierAccountInSchema):
    code = fields.Str(required=True, validate=Length(max=32), metadata={"pattern": CODE_PATTERN})
    name = fields.Str(required=True, validate=Length(min=1, max=128))
    kind = fields.Str(required=True, validate=OneOf(CARRIER_KINDS))
    # What services/fulfilment/carriers.py requires of each kind: a carrier with an API
    # needs its URL (the manual one has none) and its credentials with their keys.
    openapi_extra = {"oneOf": [_kind_rule(kind) for kind in CARRIER_KINDS]}


class CarrierAccountOutSchema(OutSchema):
    """No credentials, no webhook secret, not even encrypted: only whether they are set."""

    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    kind = fields.Str()
    base_url = fields.Str(allow_none=True)
    tracking_url = fields.Str(allow_none=True)
    account_number = fields.Str(allow_none=True)
    label_format = fields.Str()
    enabled = fields.Bool()
    has_credentials = fields.Function(lambda a: bool(a.credentials_encrypted))
    has_webhook_secret = fields.Function(lambda a: bool(a.webhook_secret_encrypted))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


def _measure(limit: int, required: bool = True):
    # the bounds services/fulfilment/labels.py checks (DIMENSION_LIMITS)
    optional = {} if required else {"allow_none": True, "load_default": None}
    return fields.Decimal(required=required, places=3,
                          validate=Range(min=Decimal("0.001"), max=limit), **optional)


class PackageInSchema(InSchema):
    weight_kg = _measure(150)
    length_cm = _measure(300)
    width_cm = _measure(300)
    height_cm = _measure(300)


class RatesInSchema(InSchema):
    order_id = fields.Int(required=True, strict=True, validate=Range(1, INT_MAX))
    packages = fields.List(fields.Nested(PackageInSchema), required=True, validate=Length(min=1, max=20))
    carrier = fields.Str(allow_none=True, load_default=None, metadata={"description": "one account's code"})
    warehouse_id = fields.Int(strict=True, allow_none=True, load_default=None)


class RateOutSchema(OutSchema):
    carrier = fields.Str(attribute="account")
    service = fields.Function(lambda q: q.rate.service)
    service_name = fields.Function(lambda q: q.rate.service_name)
    amount = fields.Function(lambda q: str(q.rate.amount))
    currency = fields.Function(lambda q: q.rate.currency)
    days = fields.Function(lambda q: q.rate.days)


class ShipPackageInSchema(InSchema):
    """A package measured by hand, or a box preset of the warehouse (its dimensions; its weight
    from the items' product weights plus the box's tare when ``weight_kg`` is not given)."""
    box_preset_id = fields.Int(strict=True, allow_none=True, load_default=None,
                               validate=Range(1, INT_MAX))
    weight_kg = _measure(150, required=False)
    length_cm = _measure(300, required=False)
    width_cm = _measure(300, required=False)
    height_cm = _measure(300, required=False)


class ShipWithLabelInSchema(InSchema):
    """Without ``packages``: a shipment typed by hand (carrier name, tracking number). With
    ``packages``: ``carrier`` is a carrier account's code and the label is bought."""

    carrier = fields.Str(allow_none=True, load_default=None, validate=Length(max=32))
    service = fields.Str(allow_none=True, load_default=None, validate=Length(max=64), metadata={
        "description": "the carrier's service code, or \"auto\" (the cheapest); with \"carrier\": \"auto\" "
                       "the shipping rules choose both (rate shopping)"})
    tracking_number = fields.Str(allow_none=True, load_default=None, validate=Length(max=64))
    warehouse_id = fields.Int(strict=True, allow_none=True, load_default=None, metadata={
        "description": "ship only what is reserved in this warehouse"})
    packages = fields.List(fields.Nested(ShipPackageInSchema), allow_none=True, load_default=None,
                           validate=Length(min=1, max=20))
    label_format = fields.Str(allow_none=True, load_default=None, validate=OneOf(LABEL_FORMATS))


class DeliveryExceptionOutSchema(OutSchema):
    id = fields.Int()
    shipment_id = fields.Int()
    order_id = fields.Int()
    order_number = fields.Function(lambda e: e.order.order_number)
    customer_name = fields.Function(lambda e: e.order.customer_name)
    email = fields.Function(lambda e: e.order.email)
    phone = fields.Function(lambda e: e.order.phone)
    tracking_number = fields.Function(lambda e: e.shipment.tracking_number)
    problem = fields.Str()
    status = fields.Str()
    carrier_code = fields.Str(allow_none=True)
    description = fields.Str(allow_none=True)
    occurred_at = fields.DateTime()
    opened_at = fields.DateTime()
    contacted_at = fields.DateTime(allow_none=True)
    notes = fields.Raw()
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.Str(allow_none=True)
    resolution = fields.Str(allow_none=True)


class ExceptionNoteInSchema(InSchema):
    text = fields.Str(allow_none=True, load_default=None, validate=Length(max=2000))


class AddressInSchema(InSchema):
    name = fields.Str(allow_none=True, load_default=None, validate=Length(max=255))
    line1 = fields.Str(required=True, validate=Length(min=1, max=255))
    line2 = fields.Str(allow_none=True, load_default=None, validate=Length(max=255))
    city = fields.Str(required=True, validate=Length(min=1, max=255))
    region = fields.Str(allow_none=True, load_default=None, validate=Length(max=255))
    postcode = fields.Str(required=True, validate=Length(min=1, max=32))
    country = fields.Str(required=True, validate=Length(equal=2))
    phone = fields.Str(allow_none=True, load_default=None, validate=Length(max=64))
