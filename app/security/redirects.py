"""The one check every redirect to a caller-supplied target goes through (``next=``).

Only a path of this site is accepted: it starts with one "/" and nothing a browser would
read as another host. Browsers drop tabs and newlines inside URLs and read "\\" as "/", so
"/\\t/evil.example/" and "/\\\\evil.example" both mean "//evil.example/": any control
character or backslash refuses the target outright.
"""
from __future__ import annotations

from urllib.parse import urlsplit


def safe_local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def safe_next(target: str | None, default: str) -> str:
    return safe_local_path(target) or default
