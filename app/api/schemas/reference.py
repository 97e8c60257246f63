"""Reference data input: warehouses, products, channels. Types only; the services
(services/inventory/reference.py, services/channels/config.py) validate values, uniqueness and lengths."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length, OneOf, Range, Regexp

from app.models.sync import CHANNEL_KINDS

from app.services.core.validation import HOST_PORT_PATTERN, INT_MAX, MONEY_LIMIT

from .common import InSchema, OutSchema, one_of_keys


# A two-letter country code as services/core/validation.country reads it (trimmed, any case)
COUNTRY = {"pattern": "^\\s*[A-Za-z]{2}\\s*$", "description": "ISO country code, e.g. DE"}


class WarehouseInSchema(InSchema):
    """A warehouse's changes (PUT): the fields sent are changed. The lengths are those of
    the columns, as services/inventory/reference.py checks them."""

    code = fields.Str(validate=Length(min=1, max=32))
    name = fields.Str(validate=Length(min=1, max=128))
    country = fields.Str(metadata=COUNTRY)
    address_line1 = fields.Str(allow_none=True, validate=Length(max=255))
    city = fields.Str(allow_none=True, validate=Length(max=128))
    postcode = fields.Str(allow_none=True, validate=Length(max=32))
    latitude = fields.Decimal(allow_none=True, validate=Range(-90, 90),
                              metadata={"minimum": -90, "maximum": 90})
    longitude = fields.Decimal(allow_none=True, validate=Range(-180, 180),
                               metadata={"minimum": -180, "maximum": 180})
    priority = fields.Int(strict=True, allow_none=True, validate=Range(0, INT_MAX))
    ships_to = fields.List(fields.Str(metadata=COUNTRY), allow_none=True,
                           metadata={"description": "ISO country codes; empty: everywhere"})
    active = fields.Bool()
    label_format = fields.Str(allow_none=True, validate=OneOf(("PDF", "ZPL")), metadata={
        "description": "labels printed here: PDF 4x6 or ZPL; empty: the carrier account's"})
    printer_address = fields.Str(allow_none=True, validate=Length(max=255), metadata={
        "description": "the network label printer ZPL labels are sent to: host or host:port "
                       "(raw TCP, 9100 by default); empty: labels are downloaded",
        "pattern": f"^\\s*({HOST_PORT_PATTERN})?\\s*$"})


class WarehouseAddSchema(WarehouseInSchema):
    """A new warehouse (POST): code, name and country are required."""

    code = fields.Str(required=True, validate=Length(min=1, max=32))
    name = fields.Str(required=True, validate=Length(min=1, max=128))
    country = fields.Str(required=True, metadata=COUNTRY)


class WarehouseCarriersInSchema(InSchema):
    """The carrier accounts a warehouse may ship with (rate shopping asks only these)."""

    carriers = fields.List(fields.Str(validate=Length(min=1, max=32), metadata={
        "pattern": "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{1,31}\\s*$"}), required=True, validate=Length(max=50), metadata={
        "description": "carrier account codes; empty: every enabled account", "maxItems": 50})


class WarehouseCarriersOutSchema(OutSchema):
    warehouse_id = fields.Int()
    carriers = fields.List(fields.Str(), metadata={"description": "empty: every enabled account"})


class ProductInSchema(InSchema):
    """A product's changes (PUT)."""

    sku = fields.Str(validate=Length(min=1, max=64))
    name = fields.Str(validate=Length(min=1, max=255))
    barcode = fields.Str(allow_none=True, validate=Length(max=64))
    weight_kg = fields.Decimal(allow_none=True, validate=Range(0, 10_000_000, min_inclusive=False,
                                                               max_inclusive=False),
                               metadata={"minimum": 0, "maximum": 10_000_000,
                                         "exclusiveMinimum": True, "exclusiveMaximum": True})
    price = fields.Decimal(allow_none=True, validate=Range(0, MONEY_LIMIT, max_inclusive=False),
                           metadata={"minimum": 0, "maximum": int(MONEY_LIMIT),
                                     "exclusiveMaximum": True})
    reorder_point = fields.Int(strict=True, allow_none=True, validate=Range(0, INT_MAX))
    active = fields.Bool()


class ProductAddSchema(ProductInSchema):
    """A new product (POST): SKU and name are required."""

    sku = fields.Str(required=True, validate=Length(min=1, max=64))
    name = fields.Str(required=True, validate=Length(min=1, max=255))


def _api_versions() -> dict:
    """api_version by kind (connectors/registry.API_VERSIONS): one branch per kind."""
    from connectors.registry import API_VERSIONS

    default = {"type": "string", "nullable": True, "pattern": "^\\s*$"}  # empty: the default
    return {"oneOf": [
        {"properties": {"kind": {"enum": [kind]}, "api_version": {
            "anyOf": [{"type": "string", "enum": list(API_VERSIONS[kind])}, default]
            if kind in API_VERSIONS else [default]}}}
        for kind in CHANNEL_KINDS]}


# a shipping method's name as a key: 1-128 characters, the first not an ASCII space, no NUL
# (the class spelt out: Python's \\s and an ECMA pattern's differ beyond ASCII)
SHIPPING_METHOD_KEY = "^[^\\x00\\t\\n\\x0b\\x0c\\r ][^\\x00]{0,127}$"


class ChannelInSchema(InSchema):
    """A channel's changes (PUT), as services/channels/config.py checks them."""

    code = fields.Str(validate=Length(max=32), metadata={
        "pattern": "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{1,31}\\s*$",
        "description": "2-32 letters, digits, - or _ (stored in lower case)"})
    name = fields.Str(validate=Length(min=1, max=128))
    kind = fields.Str(validate=OneOf(CHANNEL_KINDS))
    base_url = fields.Str(allow_none=True, validate=Length(max=255), metadata={
        "pattern": "^\\s*(https?://[^\\x00]*)?$", "description": "http:// or https://"})
    api_version = fields.Str(allow_none=True, metadata={
        "description": "the API version to read (Amazon: 2026-01-01 or v0); empty: the default"})
    poll_interval_seconds = fields.Int(strict=True, allow_none=True, validate=Range(0, INT_MAX))
    backfill_days = fields.Int(strict=True, allow_none=True, validate=Range(0, INT_MAX))
    stock_buffer = fields.Int(strict=True, allow_none=True, validate=Range(0, INT_MAX))
    stock_buffer_percent = fields.Int(strict=True, allow_none=True, validate=Range(0, 100))
    stock_cap = fields.Int(strict=True, allow_none=True, validate=Range(0, INT_MAX),
                           metadata={"description": "at most this many shown on the channel; null: no cap"})
    stock_warehouse_ids = fields.List(fields.Int(strict=True, validate=Range(1, INT_MAX)), allow_none=True, metadata={
        "description": "the warehouses whose stock the channel sells; null: every active one"})
    location_warehouses = fields.Dict(keys=fields.Str(), values=fields.List(fields.Int(strict=True, validate=Range(1, INT_MAX))),
                                      allow_none=True, metadata={
                                          "description": "Shopify: {location id: [warehouse ids]} stocked there"})
    ship_by_days = fields.Int(strict=True, allow_none=True, validate=Range(0, 90), metadata={
        "description": "business days to ship the channel's orders in; null: the ship_by_days setting"})
    sla_cutoff_hour = fields.Int(strict=True, allow_none=True, validate=Range(0, 23), metadata={
        "description": "orders after this hour (warehouse time) count from the next business day; "
                       "null: the sla_cutoff_hour setting"})
    ship_by_methods = fields.Dict(
        keys=fields.Str(validate=Regexp(SHIPPING_METHOD_KEY)), values=fields.Int(strict=True, validate=Range(0, 90)),
        allow_none=True, metadata={
            "description": "business days per shipping method as the channel names it "
                           '({"Express": 1}, matched without case; at most 50); over ship_by_days',
            "maxProperties": 50, "x-key-pattern": SHIPPING_METHOD_KEY})
    enabled = fields.Bool()
    credentials = fields.Dict(keys=fields.Str(), allow_none=True, load_only=True, metadata={
        "description": "write-only: replaces the stored credentials; never returned. Each "
                       "value a text or a list of texts (Amazon's marketplace_ids)",
        "additionalProperties": {"anyOf": [
            {"type": "string", "pattern": "^[^\\x00]*$"},
            {"type": "array", "items": {"type": "string", "pattern": "^[^\\x00]*$"}}]}})
    webhook_secret = fields.Str(allow_none=True, load_only=True, validate=Length(max=255),
                                metadata={"description": "write-only: replaces the stored "
                                                         "webhook secret; never returned"})


class ChannelAddSchema(ChannelInSchema):
    """A new channel (POST): code, name and kind are required; the API version must be
    one the kind's connector reads."""

    code = fields.Str(required=True, validate=Length(max=32), metadata={
        "pattern": "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{1,31}\\s*$",
        "description": "2-32 letters, digits, - or _ (stored in lower case)"})
    name = fields.Str(required=True, validate=Length(min=1, max=128))
    kind = fields.Str(required=True, validate=OneOf(CHANNEL_KINDS))
    openapi_extra = _api_versions()


class ChannelOutSchema(OutSchema):
    """A channel as the API shows it: no credentials, no webhook secret, not even
    encrypted — only whether they are set."""

    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    kind = fields.Str()
    base_url = fields.Str(allow_none=True)
    api_version = fields.Str(allow_none=True)
    poll_interval_seconds = fields.Int()
    backfill_days = fields.Int()
    stock_buffer = fields.Int()
    stock_buffer_percent = fields.Int()
    stock_cap = fields.Int(allow_none=True)
    stock_warehouse_ids = fields.List(fields.Int(), allow_none=True)
    location_warehouses = fields.Dict(allow_none=True)
    ship_by_days = fields.Int(allow_none=True)
    sla_cutoff_hour = fields.Int(allow_none=True)
    ship_by_methods = fields.Dict(keys=fields.Str(), values=fields.Int(), allow_none=True)
    enabled = fields.Bool()
    has_credentials = fields.Function(lambda c: bool(c.credentials_encrypted))
    has_webhook_secret = fields.Function(lambda c: bool(c.webhook_secret_encrypted))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SkuAliasInSchema(InSchema):
    alias = fields.Str(validate=Length(min=1), metadata={"description": "the channel's SKU string"})
    product_id = fields.Int(strict=True, allow_none=True, load_default=None)
    sku = fields.Str(allow_none=True, load_default=None,
                     metadata={"description": "our product's SKU (instead of product_id)"})
    channel_id = fields.Int(strict=True, allow_none=True, load_default=None, metadata={
        "description": "only for this channel; empty: every channel"})
    # the product by id or by SKU: one of the two
    openapi_extra = {"required": ["alias"], **one_of_keys("product_id", "sku")}
