"""Outbound webhook subscriptions: what comes in and what is shown (never the secret,
except once in the answer that creates or rotates it)."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length, Range

from .common import InSchema, OutSchema


class WebhookSubscriptionInSchema(InSchema):
    url = fields.Str(required=True, validate=Length(min=1, max=2048))
    events = fields.List(fields.Str(validate=Length(max=64)), required=True,
                         validate=Length(min=1, max=20))


class WebhookRotateInSchema(InSchema):
    grace_hours = fields.Float(load_default=24.0, validate=Range(min=0, max=24 * 30))


class WebhookSubscriptionOutSchema(OutSchema):
    id = fields.Int()
    url = fields.Str()
    events = fields.List(fields.Str())
    status = fields.Str()
    status_reason = fields.Str(allow_none=True)
    consecutive_failures = fields.Int()
    previous_secret_until = fields.DateTime(allow_none=True)
    created_by = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookDeliveryOutSchema(OutSchema):
    id = fields.Int()
    event_id = fields.Str()
    event_type = fields.Str()
    attempt = fields.Int()
    outcome = fields.Str()
    status_code = fields.Int(allow_none=True)
    duration_ms = fields.Int(allow_none=True)
    response_excerpt = fields.Str(allow_none=True)
    error = fields.Str(allow_none=True)
    outbox_message_id = fields.Int(allow_none=True)
    created_at = fields.DateTime()
