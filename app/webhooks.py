"""Incoming channel webhooks: the only unauthenticated endpoints.

Each request is verified by its HMAC signature against the channel's (encrypted) webhook
secret before anything is read: a bad or missing signature gets 401 and nothing is
stored. A verified order goes through the same import as a poll, so a replay creates no
duplicate and a payload that cannot be normalised or stored is quarantined as a sync
conflict (200, code "quarantined"). A signed body that cannot be read at all (not JSON,
nested too deeply) is kept as a conflict too and answered 422. Never a 500.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from .extensions import csrf, db
from .models import Channel
from app.services.channels import config as channels
from app.services.channels import sync
from app.services.core.actor import Actor

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)

# kind -> (signature header, topic header, topics that carry an order)
SOURCES = {
    "shopify": ("X-Shopify-Hmac-Sha256", "X-Shopify-Topic",
                {"orders/create", "orders/updated", "orders/cancelled", "orders/paid",
                 "orders/fulfilled", "orders/partially_fulfilled"}),
    "woocommerce": ("X-WC-Webhook-Signature", "X-WC-Webhook-Topic",
                    {"order.created", "order.updated", "order.deleted", "order.restored"}),
}
MAX_BODY = 2 * 1024 * 1024


def signature_of(secret: str, body: bytes) -> str:
    """Both Shopify and WooCommerce sign the raw body: base64(HMAC-SHA256(secret, body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _error(status: int, message: str, code: str):
    return jsonify({"message": message, "code": code, "errors": {}}), status


@bp.post("/<kind>/<code>")
def receive(kind: str, code: str):
    if kind not in SOURCES:
        return _error(404, f"no webhooks for '{kind}'", "not_found")
    signature_header, topic_header, order_topics = SOURCES[kind]
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return _error(413, "payload too large", "too_large")
    channel = db.session.scalar(select(Channel).where(Channel.code == code, Channel.kind == kind))
    secret = channels.webhook_secret_of(channel) if channel is not None else None
    given = request.headers.get(signature_header, "")
    # The same answer for an unknown channel and a bad signature: nothing to probe.
    if not secret or not given or not hmac.compare_digest(signature_of(secret, body), given):
        log.warning("webhook for %s/%s refused: bad or missing signature", kind, code)
        return _error(401, "invalid or missing webhook signature", "bad_signature")
    topic = request.headers.get(topic_header, "")
    if topic not in order_topics:  # e.g. WooCommerce's ping when a webhook is created
        return jsonify({"message": f"topic '{topic or 'none'}' ignored", "code": "ignored"}), 200
    raw, error = _parse(body)
    if error is not None:
        # Signed, so it is the channel's: kept as a conflict, and answered 422 so the
        # sender sees that this body was not accepted as an order.
        sync.receive_webhook_order(db.session, channel, raw, Actor.channel(channel.code),
                                   parse_error=error)
        return _error(422, f"the body is not a readable order ({error}); it is kept as a "
                           "sync conflict", "invalid_payload")
    outcome = sync.receive_webhook_order(db.session, channel, raw, Actor.channel(channel.code))
    return jsonify({"message": f"order {outcome}", "code": outcome}), 200


def _parse(body: bytes):
    """(payload, None), or ({"body": the text as received}, why it cannot be read)."""
    try:
        return json.loads(body), None
    except RecursionError:
        error = "nested too deeply to read"
    except ValueError as exc:  # not JSON, not UTF-8
        error = f"not JSON: {str(exc)[:200]}"
    return {"body": body.decode("utf-8", "replace")}, error
