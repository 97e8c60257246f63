"""What the carrier modules share: the HTTP session (connectors/http.py) with carrier error
types, an OAuth token cache fetched under one lock, and time parsing."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from ..errors import ChannelAuthError, ChannelError, ChannelNotFound, ChannelRateLimited, ChannelUnavailable
from ..http import ChannelSession, make_session
from .base import Account, CarrierNotFound, CarrierOutcomeUnknown, CarrierPermanent, CarrierRetryable


def session(account: Account, *, max_retries: int = 3) -> ChannelSession:
    return make_session(f"carrier:{account.code}", time_scale=account.time_scale,
                        timeout=account.timeout, max_retries=max_retries)


def purchase_session(account: Account) -> ChannelSession:
    """A label costs money: a purchase is sent once, never retried by the session (a retry
    after a timeout could buy a second label); the caller recovers instead."""
    return session(account, max_retries=0)


def call(http: ChannelSession, method: str, url: str, *, carrier: str, purchase: bool = False,
         errors: Callable[[Any], tuple[Optional[str], str]] = lambda body: (None, ""),
         **kwargs) -> Any:
    """Send a request, answer its JSON; map failures to carrier errors. ``purchase``: a
    failure after the request may have left (timeout, 5xx, unreadable answer) is
    ``CarrierOutcomeUnknown``. ``errors(body)`` -> (code, message) of the carrier's error body."""
    try:
        body, _ = http.request_json(method, url, **kwargs)
        return body
    except ChannelNotFound as exc:
        code, message = _error_of(exc, errors)
        raise CarrierNotFound(f"{carrier}: {message or 'not found'}", carrier=carrier, status=404,
                              code=code) from None
    except ChannelRateLimited as exc:
        raise CarrierRetryable(f"{carrier}: rate limited", carrier=carrier, status=429) from exc
    except ChannelUnavailable as exc:
        cls = CarrierOutcomeUnknown if purchase else CarrierRetryable
        raise cls(f"{carrier}: {exc.message}", carrier=carrier, status=exc.status) from None
    except ChannelAuthError as exc:
        code, message = _error_of(exc, errors)
        raise CarrierPermanent(f"{carrier}: credentials refused ({message or exc.status})",
                               carrier=carrier, status=exc.status, code=code) from None
    except ChannelError as exc:
        code, message = _error_of(exc, errors)
        cls = CarrierRetryable if exc.status in (408, 409) else CarrierPermanent
        raise cls(f"{carrier}: {message or exc.message}", carrier=carrier, status=exc.status,
                  code=code) from None


def _error_of(exc: ChannelError, errors) -> tuple[Optional[str], str]:
    import json

    try:
        return errors(json.loads(exc.body or ""))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None, (exc.body or "")[:200]


class TokenCache:
    """OAuth tokens per account, kept until shortly before they expire. One lock per
    account: a cold start with many workers fetches one token, not one each."""

    MARGIN = 60.0  # nominal seconds before expiry when a token is renewed

    def __init__(self):
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, key: str, fetch: Callable[[], tuple[str, float]], time_scale: float = 1.0) -> str:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            token = self._tokens.get(key)
            if token and time.monotonic() < token[1]:
                return token[0]
            value, expires_in = fetch()
            ttl = max(0.0, expires_in - self.MARGIN) * time_scale
            self._tokens[key] = (value, time.monotonic() + ttl)
            return value

    def forget(self, key: str) -> None:
        self._tokens.pop(key, None)


def utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


def parse_offset(text: Optional[str]) -> Optional[timezone]:
    """'-05:00', '+0100', 'Z' -> a timezone; None when absent or unreadable."""
    if not text:
        return None
    text = text.strip()
    if text in ("Z", "z"):
        return timezone.utc
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").replace(":", "")
    if not digits.isdigit() or len(digits) not in (2, 4):
        return None
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def iso_utc(text: Optional[str]) -> Optional[datetime]:
    """An ISO time with or without an offset (without: read as UTC) -> aware UTC; None when unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def money(value: Any) -> Optional["Decimal"]:
    """A carrier's amount (number or text) as Decimal to the cent; None when unreadable."""
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return None


def with_fresh_token(send: Callable[[], Any], forget: Callable[[], None]) -> Any:
    """Send; a 401 (a token refused before its time: revoked, the server restarted) was not
    acted on, so one more try with a fresh token is safe, purchases included."""
    try:
        return send()
    except CarrierPermanent as exc:
        if exc.status != 401:
            raise
        forget()
        return send()
