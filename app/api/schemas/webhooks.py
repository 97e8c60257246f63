"""Outbound webhook subscriptions: what comes in and what is shown (never the secret,
except once in the answer that creates or rotates it)."""
from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length, Range

from app.services.core.domain_events import PUBLIC_EVENTS
from .common import InSchema, OutSchema

# What the spec can say of the URL rule (notify/webhooks.py): https, a host, no user or
# password. That the host resolves, and only to public addresses, is checked when saved
# (422 on `url`) — no schema can say it.
HTTPS_URL = "^\\s*https://[A-Za-z0-9.-]+(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?\\s*$"


class WebhookSubscriptionInSchema(InSchema):
    url = fields.Str(required=True, validate=Length(min=1, max=2048), metadata={
        "pattern": HTTPS_URL,
        "description": "an https:// URL whose host resolves to public addresses only "
                       "(http://127.0.0.1 when OMS_WEBHOOKS_ALLOW_LOCAL_HTTP is set)"})
    events = fields.List(fields.Str(metadata={"enum": list(PUBLIC_EVENTS)}), required=True,
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
