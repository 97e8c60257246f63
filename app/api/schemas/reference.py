"""Reference data input: warehouses, products, channels. Types only; the services
(services/inventory/reference.py, services/channels/config.py) validate values, uniqueness and lengths."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Range

from .common import InSchema, OutSchema


class WarehouseInSchema(InSchema):
    code = fields.Str(allow_none=True)
    name = fields.Str(allow_none=True)
    country = fields.Str(allow_none=True)
    address_line1 = fields.Str(allow_none=True)
    city = fields.Str(allow_none=True)
    postcode = fields.Str(allow_none=True)
    latitude = fields.Decimal(allow_none=True, validate=Range(-90, 90),
                              metadata={"minimum": -90, "maximum": 90})
    longitude = fields.Decimal(allow_none=True, validate=Range(-180, 180),
                               metadata={"minimum": -180, "maximum": 180})
    priority = fields.Int(strict=True, allow_none=True)
    ships_to = fields.List(fields.Str(), allow_none=True,
                           metadata={"description": "ISO country codes; empty: everywhere"})
    active = fields.Bool()


class ProductInSchema(InSchema):
    sku = fields.Str(allow_none=True)
    name = fields.Str(allow_none=True)
    barcode = fields.Str(allow_none=True)
    weight_kg = fields.Decimal(allow_none=True, validate=Range(0, 10_000_000, min_inclusive=False,
                                                               max_inclusive=False),
                               metadata={"minimum": 0, "maximum": 10_000_000,
                                         "exclusiveMinimum": True, "exclusiveMaximum": True})
    price = fields.Decimal(allow_none=True)
    reorder_point = fields.Int(strict=True, allow_none=True)
    active = fields.Bool()


class ChannelInSchema(InSchema):
    code = fields.Str(allow_none=True)
    name = fields.Str(allow_none=True)
    kind = fields.Str(allow_none=True)
    base_url = fields.Str(allow_none=True)
    api_version = fields.Str(allow_none=True, metadata={
        "description": "the API version to read (Amazon: 2026-01-01 or v0); empty: the default"})
    poll_interval_seconds = fields.Int(strict=True, allow_none=True)
    backfill_days = fields.Int(strict=True, allow_none=True)
    stock_buffer = fields.Int(strict=True, allow_none=True)
    enabled = fields.Bool()
    credentials = fields.Dict(keys=fields.Str(), allow_none=True, load_only=True, metadata={
        "description": "write-only: replaces the stored credentials; never returned"})
    webhook_secret = fields.Str(allow_none=True, load_only=True, metadata={
        "description": "write-only: replaces the stored webhook secret; never returned"})


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
    enabled = fields.Bool()
    has_credentials = fields.Function(lambda c: bool(c.credentials_encrypted))
    has_webhook_secret = fields.Function(lambda c: bool(c.webhook_secret_encrypted))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SkuAliasInSchema(InSchema):
    alias = fields.Str(allow_none=True, metadata={"description": "the channel's SKU string"})
    product_id = fields.Int(strict=True, allow_none=True, load_default=None)
    sku = fields.Str(allow_none=True, load_default=None,
                     metadata={"description": "our product's SKU (instead of product_id)"})
    channel_id = fields.Int(strict=True, allow_none=True, load_default=None, metadata={
        "description": "only for this channel; empty: every channel"})
