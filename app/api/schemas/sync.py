"""Sync conflict and channel operation bodies."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length

from app.services.channels.conflicts import BULK_ACTIONS, MAX_BULK, NOTE_MAX
from .common import InSchema, OutSchema, required_for

RESOLUTIONS = ("take_remote", "keep_local", "map_sku", "retry", "discard", "close")


class ResolveInSchema(InSchema):
    resolution = fields.Str(load_default="close", metadata={
        "enum": list(RESOLUTIONS),
        "description": "take_remote / keep_local (local_edit), map_sku (unknown_sku), retry "
                       "(invalid_payload), discard (any; note says why), close (any: "
                       "resolved by hand, the note says how)"})
    note = fields.Str(allow_none=True, load_default=None, metadata={
        "description": "what was done, or why nothing is needed (required to discard)"})
    product_id = fields.Int(strict=True, allow_none=True, load_default=None, metadata={
        "description": "map_sku: the product the channel SKU means"})
    product_sku = fields.Str(allow_none=True, load_default=None, metadata={
        "description": "map_sku: that product by its SKU (instead of product_id)"})
    all_channels = fields.Bool(load_default=False, metadata={
        "description": "map_sku: the alias holds for every channel, not only this one"})
    # A note is required to discard; without a resolution it is "close".
    openapi_extra = {"oneOf": [
        {**required_for("resolution", ["discard"], [], "note", NOTE_MAX)["oneOf"][0],
         "required": ["resolution", "note"]},
        {"anyOf": [{"required": ["resolution"], "properties": {"resolution": {
                        "enum": [r for r in RESOLUTIONS if r != "discard"]}}},
                   {"not": {"required": ["resolution"]}}]}]}


class BulkResolveInSchema(InSchema):
    action = fields.Str(required=True, metadata={"enum": list(BULK_ACTIONS)})
    ids = fields.List(fields.Int(strict=True), required=True,
                      validate=Length(min=1, max=MAX_BULK))
    reason = fields.Str(allow_none=True, load_default=None, validate=Length(max=NOTE_MAX),
                        metadata={"description": "the note (required to discard)"})
    openapi_extra = required_for("action", ["discard"],
                                 [a for a in BULK_ACTIONS if a != "discard"], "reason", NOTE_MAX)


class BulkResultOutSchema(OutSchema):
    action = fields.Str()
    succeeded = fields.List(fields.Int())
    failed = fields.Function(lambda r: [{"id": i, "message": m} for i, m in r.failed])


class RepullInSchema(InSchema):
    external_id = fields.Str(required=True, validate=Length(min=1, max=255), metadata={
        "description": "the channel's order id"})
