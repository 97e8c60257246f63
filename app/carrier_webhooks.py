"""Incoming carrier webhooks (unauthenticated, CSRF-exempt, checked before anything is read):

- ``POST /webhooks/carriers/ups/<account_code>``: UPS Track Alert events, carrying the
  ``credential`` header we gave UPS when subscribing (the account's webhook secret);
- ``POST /webhooks/carriers/easypost/<account_code>``: EasyPost ``tracker.updated`` events,
  ``X-Hmac-Signature: hmac-sha256-hex=...`` over the raw body with the account's webhook secret.

A checked body goes through the carrier's ``parse_tracking``, the same as a poll's answer, and
``tracking.record`` stores each event once whichever way it came. A bad or missing check is a
401 (the same for an unknown account), a body that is not tracking a 422; never a 500.
"""
from __future__ import annotations

import hmac
import json
import logging

from flask import jsonify, request
from sqlalchemy import select

from connectors import carriers as carrier_connectors
from connectors.carriers.base import CarrierError
from connectors.carriers.easypost import verify_signature

from .extensions import db
from .models import CarrierAccount
from .webhooks import bp
from app.services.core.actor import Actor
from app.services.fulfilment import carriers, tracking

log = logging.getLogger(__name__)
# the channel webhooks' blueprint (unauthenticated, CSRF-exempt), under /webhooks/carriers/
MAX_BODY = 1024 * 1024


def _error(status: int, message: str, code: str):
    return jsonify({"message": message, "code": code, "errors": {}}), status


def _checked(kind: str, secret: str | None, body: bytes) -> bool:
    if not secret:
        return False
    if kind == "ups":
        return hmac.compare_digest(request.headers.get("credential", ""), secret)
    return verify_signature(body, request.headers.get("X-Hmac-Signature"), secret)


@bp.post("/carriers/<kind>/<code>")
def receive_carrier(kind: str, code: str):
    if kind not in ("ups", "easypost"):
        return _error(404, f"no carrier webhooks for '{kind}'", "not_found")
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return _error(413, "payload too large", "too_large")
    account = db.session.scalar(select(CarrierAccount).where(CarrierAccount.code == code,
                                                             CarrierAccount.kind == kind))
    secret = carriers.webhook_secret_of(account) if account is not None else None
    if not _checked(kind, secret, body):
        log.warning("carrier webhook for %s/%s refused: bad or missing credential", kind, code)
        return _error(401, "invalid or missing webhook credential", "bad_signature")
    try:
        raw = json.loads(body)
        if kind == "easypost" and isinstance(raw, dict) and raw.get("description") not in (None, "tracker.updated",
                                                                                          "tracker.created"):
            return jsonify({"message": f"event '{raw.get('description')}' ignored", "code": "ignored"}), 200
        updates = carrier_connectors.module(kind).parse_tracking(raw)
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError, CarrierError) as exc:
        return _error(422, f"the body is not a tracking event ({type(exc).__name__})", "invalid_payload")
    actor = Actor.job(f"carrier_webhook:{code}")
    stored = sum(tracking.record(db.session, account.id, update, source="webhook", actor=actor)
                 for update in updates)
    return jsonify({"message": f"{stored} new event(s)", "code": "ok"}), 200
