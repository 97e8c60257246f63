"""Typed errors raised by the connectors.

``InvalidPayload`` is a ``ValueError``: the channel sent something we cannot turn into a
``NormalizedOrder``. The ``ChannelError`` family is about talking to the channel (HTTP).
Messages never contain credentials: URLs in them are redacted.
"""
from __future__ import annotations

from typing import Optional


class InvalidPayload(ValueError):
    """A channel payload that cannot be normalised (missing id, bad money, unknown status...)."""


class ChannelError(Exception):
    """Talking to a channel failed (after the retries the session allows)."""

    def __init__(self, message: str, *, channel: Optional[str] = None, status: Optional[int] = None,
                 url: Optional[str] = None, body: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.channel = channel
        self.status = status
        self.url = url  # redacted
        self.body = body  # first characters of the response body, if any

    def __str__(self) -> str:
        return self.message


class ChannelAuthError(ChannelError):
    """401/403, or the token endpoint refused the credentials: retrying will not help."""


class ChannelNotFound(ChannelError):
    """404 on a resource (e.g. fetch_order of an id the channel does not know)."""


class ChannelRateLimited(ChannelError):
    """Still throttled (429) after every retry the session allows."""


class ChannelUnavailable(ChannelError):
    """5xx, timeouts, broken connections or unreadable bodies after every retry."""
