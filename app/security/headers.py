"""Security headers on every response, and the per-request CSP nonce.

FAB 5.3's templates mark their inline scripts with ``baselib.get_nonce()``, which calls a
``csp_nonce()`` template global when there is one: this module provides it, and the policy
allows scripts from this site and those carrying the request's nonce only. Waybill's own
pages have no inline script or event handler (app/static/js/oms.js does that work).
Inline ``style=""`` attributes (FAB's templates have many) stay allowed for styles only.
"""
from __future__ import annotations

import secrets

from flask import Flask, g

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers without CSP frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
}


def csp_nonce() -> str:
    if "_csp_nonce" not in g:
        g._csp_nonce = secrets.token_urlsafe(16)
    return g._csp_nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(add_security_headers)
