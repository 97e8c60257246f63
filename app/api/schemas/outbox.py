"""Outbox action bodies."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length

from app.services.core.outbox import BULK_ACTIONS, MAX_BULK
from .common import InSchema, OutSchema


class OutboxActionInSchema(InSchema):
    note = fields.Str(allow_none=True, load_default=None, metadata={
        "description": "why (kept in the audit log and on the order's timeline)"})


class OutboxBulkInSchema(InSchema):
    action = fields.Str(required=True, metadata={"enum": list(BULK_ACTIONS)})
    ids = fields.List(fields.Int(strict=True), required=True,
                      validate=Length(min=1, max=MAX_BULK))
    note = fields.Str(allow_none=True, load_default=None)


class OutboxBulkResultOutSchema(OutSchema):
    action = fields.Str()
    succeeded = fields.List(fields.Int())
    failed = fields.Function(lambda r: [{"id": i, "message": m} for i, m in r.failed])
