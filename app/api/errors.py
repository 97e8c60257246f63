"""One error body for the whole REST API (DESIGN.md "Interfaces"):

    {"message": "...", "code": "...", "errors": {"field": ["...", ...]}}

``error_response`` builds it; ``flatten_messages`` turns marshmallow's nested messages
into dotted field names; ``install`` makes every other error under ``/api/`` (FAB's own
JSON, Flask-JWT-Extended's ``{"msg": ...}``, werkzeug's HTML 404/405, CSRF failures) use
the same shape, so a client needs one error parser only.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, make_response, request
from werkzeug.http import HTTP_STATUS_CODES

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited",
    500: "internal_error",
}


def code_for(status: int) -> str:
    return CODES.get(status, "error" if status >= 500 else "bad_request")


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's ``{"a": {"b": ["x"]}, "c": {0: ["y"]}}`` -> ``{"a.b": ["x"], "c.0": ["y"]}``;
    schema-level errors (``_schema``) are reported on ``body``."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            key = "body" if key == "_schema" else str(key)
            name = f"{prefix}.{key}" if prefix else key
            for field, msgs in flatten_messages(value, name).items():
                out.setdefault(field, []).extend(msgs)
        return out
    if isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            return {prefix or "body": [str(m) for m in messages]}
        out = {}
        for value in messages:
            for field, msgs in flatten_messages(value, prefix).items():
                out.setdefault(field, []).extend(msgs)
        return out
    return {prefix or "body": [str(messages)]}


# marshmallow's stock messages, as the rest of Waybill says them (field_sentence adds the
# field's name in front).
MARSHMALLOW_WORDS = {
    "Missing data for required field.": "is required",
    "Unknown field.": "is not something this accepts",
    "Field may not be null.": "must not be empty",
    "Not a valid integer.": "must be a whole number",
    "Not a valid number.": "must be a number",
    "Not a valid string.": "must be text",
    "Not a valid boolean.": "must be true or false",
    "Not a valid list.": "must be a list",
    "Not a valid mapping type.": "must be an object",
    "Not a valid datetime.": "must be a date and time",
    "Invalid input type.": "has the wrong type",
    "Invalid value.": "is not valid",
    "Special numeric values (nan or infinity) are not permitted.": "must be a number",
}


def in_words(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Field errors (marshmallow's or ours) as sentences, keyed by the same field names."""
    from app.services.core.errors import field_sentence

    return {field: [field_sentence(field, MARSHMALLOW_WORDS.get(m, _lower_first(m)))
                    for m in messages]
            for field, messages in errors.items()}


def _lower_first(message: str) -> str:
    # marshmallow's "Must be greater than or equal to 1." reads as "Ids must be ..."
    if message.startswith(("Must ", "Length ", "Longer ", "Shorter ")):
        return message[0].lower() + message[1:].rstrip(".")
    return message


def summary(errors: dict[str, list[str]], lead: str = "") -> str:
    from app.services.core.errors import join_sentences

    return join_sentences(errors, lead)


def error_body(status: int, message: Any = None, code: str | None = None,
               errors: dict | None = None) -> dict:
    errors = dict(errors or {})
    if isinstance(message, (dict, list)):
        errors = {**in_words(flatten_messages(message)), **errors}
        message = summary(errors)
    if not message:
        message = HTTP_STATUS_CODES.get(status, "Error")
    return {"message": str(message), "code": code or code_for(status), "errors": errors}


def error_response(status: int, message: Any = None, code: str | None = None,
                   errors: dict | None = None, headers: dict | None = None) -> Response:
    response = make_response(jsonify(error_body(status, message, code, errors)), status)
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _is_api_path() -> bool:
    return request.path.startswith("/api/")


def _already_shaped(data: Any) -> bool:
    return isinstance(data, dict) and {"message", "code", "errors"} <= set(data)


def normalize_error_response(response: Response) -> Response:
    """after_request: give any non-conforming error answer under /api/ the error body."""
    if response.status_code < 400 or not _is_api_path() or response.direct_passthrough:
        return response
    data = response.get_json(silent=True) if response.is_json else None
    if _already_shaped(data):
        return response
    message = None
    if isinstance(data, dict):
        message = data.get("message") or data.get("msg") or data.get("error")
    elif response.status_code in (404, 405):
        message = ("No such API endpoint" if response.status_code == 404
                   else f"Method {request.method} is not allowed here")
    body = error_body(response.status_code, message)
    response.set_data(json.dumps(body))
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    return response


def _unauthorized(message: str):
    return error_response(401, message, "unauthorized")


def configure_jwt_errors(jwt_manager) -> None:
    """Flask-JWT-Extended answers ``{"msg": ...}`` and 422 for a malformed token; Waybill
    answers every token problem with 401 and the common error body."""
    jwt_manager.unauthorized_loader(lambda reason: _unauthorized(f"Not authenticated: {reason}"))
    jwt_manager.invalid_token_loader(lambda reason: _unauthorized(f"Invalid token: {reason}"))
    jwt_manager.expired_token_loader(lambda _h, _p: _unauthorized("Token has expired"))
    jwt_manager.needs_fresh_token_loader(lambda _h, _p: _unauthorized("A fresh token is required"))
    jwt_manager.revoked_token_loader(lambda _h, _p: _unauthorized("Token has been revoked"))
    jwt_manager.user_lookup_error_loader(lambda _h, _p: _unauthorized("Unknown or inactive user"))


def install(app: Flask, appbuilder) -> None:
    app.after_request(normalize_error_response)
    jwt_manager = getattr(appbuilder.sm, "jwt_manager", None)
    if jwt_manager is not None:
        configure_jwt_errors(jwt_manager)
