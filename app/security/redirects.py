"""The one check every redirect to a caller-supplied target goes through (``next=``).

Only a path of this site is accepted: it starts with one "/" and nothing a browser would
read as another host. Browsers drop tabs and newlines inside URLs and read "\\" as "/", so
"/\\t/evil.example/" and "/\\\\evil.example" both mean "//evil.example/": any control
character or backslash refuses the target outright.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import has_request_context, request


def safe_local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if _has_control_or_backslash(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _has_control_or_backslash(target: str) -> bool:
    return "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)


def same_site_path(target: str | None) -> str | None:
    """A path of this site from ``target``: a local path, or an absolute URL of this very
    host (FAB's login links carry ``next=http://host/page``) reduced to its path."""
    if not target or _has_control_or_backslash(target):
        return None
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and has_request_context() \
            and parts.netloc == request.host:
        target = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    return safe_local_path(target)


def safe_next(target: str | None, default: str) -> str:
    """Where to go after a form or a sign-in: ``target`` if it is on this site, else
    ``default``. Every redirect to a caller-supplied target goes through here."""
    return same_site_path(target) or default
