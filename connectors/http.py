"""The one HTTP session factory every connector uses.

``make_session(channel, ...)`` returns a :class:`ChannelSession` (a ``requests.Session``) that

* always sends connect/read timeouts;
* retries connection errors, timeouts, broken bodies, 5xx and unreadable JSON with exponential
  backoff and jitter; on 429 and 503 it honours ``Retry-After`` (seconds, possibly fractional,
  or an HTTP date);
* waits for a per-channel rate limiter before every request: token buckets per operation
  (:class:`TokenBucket`, e.g. SP-API getOrders 0.0167 req/s burst 20) and Shopify's leaky
  bucket (:class:`ShopifyCallLimiter`), which follows ``X-Shopify-Shop-Api-Call-Limit: used/limit``
  and slows down before the bucket is full;
* maps failures to typed errors (:mod:`connectors.errors`): 401/403 -> ``ChannelAuthError``,
  404 -> ``ChannelNotFound``, throttled to the end -> ``ChannelRateLimited``, 5xx/timeouts to
  the end -> ``ChannelUnavailable``, any other 4xx -> ``ChannelError``;
* never writes a credential in a log line or an error message: query parameters and URL
  user-info that look secret are replaced by ``***`` (urllib3's own debug lines are filtered too).

Time scale: ``time_scale`` multiplies every wait (backoff, rate limiter, Retry-After). Protocol
values stay nominal: a ``Retry-After: 2`` from a server means "2 nominal seconds", i.e.
``2 * time_scale`` real seconds. The sandbox uses the same convention, so a client and a sandbox
at the same scale agree on time while tests run hundreds of times faster.
"""
from __future__ import annotations

import email.utils
import logging
import os
import random
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies
from requests.exceptions import ChunkedEncodingError, ConnectionError as RequestsConnectionError, Timeout

from .errors import (
    ChannelAuthError,
    ChannelError,
    ChannelNotFound,
    ChannelRateLimited,
    ChannelUnavailable,
)

__all__ = [
    "ChannelSession", "EnvironmentOnceSession", "make_session", "TokenBucket", "ShopifyCallLimiter", "redact_url", "redact_text",
    "parse_retry_after", "ChannelError", "ChannelAuthError", "ChannelNotFound", "ChannelRateLimited",
    "ChannelUnavailable", "SP_API_RATES",
]

log = logging.getLogger("connectors.http")

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds; real seconds, never scaled
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# SP-API usage plans: operation -> (rate per second, burst). Orders v0 and 2026-01-01 have
# their own (getOrder2026 is 2026-01-01's getOrder).
SP_API_RATES: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder2026": (0.5, 30),
    "createRestrictedDataToken": (1.0, 10),
    "searchListingsItems": (5.0, 5),
    "patchListingsItem": (5.0, 5),
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "getOrderBuyerInfo": (0.5, 30),
    "getMarketplaceParticipations": (0.016, 15),
    "confirmShipment": (2.0, 10),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeeds": (0.0222, 10),
    "getFeedDocument": (0.0222, 10),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}

# ---------------------------------------------------------------------------------------------
# Redaction

_SECRET_KEY_RE = re.compile(
    r"(token|secret|password|passwd|signature|sig|key|auth|code|credential|session|nonce)", re.I
)
_QUERY_PAIR_RE = re.compile(r"(?P<key>[A-Za-z0-9_.\-\[\]%]+)=(?P<value>[^&\s#\"'<>]*)")
_USERINFO_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)[^/@\s]+@", re.I)


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(key))


def redact_url(url: str) -> str:
    """The URL with user-info and secret-looking query values replaced by ``***``.

    ``page_info``/``NextToken``-style cursors are not secrets, but ``*token*`` is treated as one
    anyway except for the well-known paging cursors, which are kept for debugging.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [(k, "***" if _is_secret_key(k) and k not in _CURSOR_KEYS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*:,"), ""))


_CURSOR_KEYS = frozenset({"NextToken", "nextToken", "page_info", "paginationToken"})


def redact_text(text: str) -> str:
    """Redact URL user-info and ``secretkey=value`` pairs anywhere in a free text."""
    text = _USERINFO_RE.sub(lambda m: m.group("scheme") + "***@", text)

    def repl(m: re.Match) -> str:
        key = m.group("key")
        if _is_secret_key(key) and key not in _CURSOR_KEYS:
            return f"{key}=***"
        return m.group(0)

    return _QUERY_PAIR_RE.sub(repl, text)


class RedactingFilter(logging.Filter):
    """Redacts a record's message in place (used on urllib3's logger, which logs full URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - malformed record: leave it
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, RedactingFilter) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(RedactingFilter())


# ---------------------------------------------------------------------------------------------
# Rate limiters

class TokenBucket:
    """Token bucket: ``rate`` tokens per nominal second, at most ``burst`` saved up.

    ``acquire()`` takes one token, sleeping first if none is left; waiting callers reserve
    their token (the count goes negative), so concurrent callers queue fairly.
    """

    def __init__(self, rate: float, burst: int, *, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self.time_scale = float(time_scale)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = (now - self._stamp) / self.time_scale if self.time_scale > 0 else float("inf")
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._stamp = now

    def acquire(self) -> float:
        """Take a token; returns the real seconds slept."""
        with self._lock:
            self._refill()
            self._tokens -= 1
            deficit = -self._tokens
        if deficit <= 0:
            return 0.0
        wait = deficit / self.rate * self.time_scale
        self._sleep(wait)
        return wait

    def throttled(self, response: Optional[requests.Response] = None) -> None:
        """The server said 429: whatever we believed, there is no token left."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    def observe(self, response: requests.Response) -> None:
        """Nothing to learn from a token-bucket response (SP-API's x-amzn-RateLimit-Limit is the rate)."""

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens


class ShopifyCallLimiter:
    """Shopify's leaky bucket (40 calls, leaking 2/s on standard plans), driven by the
    ``X-Shopify-Shop-Api-Call-Limit: used/limit`` header of every response.

    Before a call it estimates the current fill (last reported fill minus what leaked since) and
    sleeps while that estimate is above ``threshold`` of the bucket, so we slow down near the
    limit instead of running into 429s.
    """

    HEADER = "X-Shopify-Shop-Api-Call-Limit"

    def __init__(self, capacity: int = 40, leak_rate: float = 2.0, *, threshold: float = 0.8,
                 time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.capacity = capacity
        self.leak_rate = leak_rate
        self.threshold = threshold
        self.time_scale = float(time_scale)
        self._clock, self._sleep = clock, sleep
        self._used = 0.0
        self._stamp = clock()
        self._lock = threading.Lock()

    def _leak(self) -> None:
        now = self._clock()
        elapsed = (now - self._stamp) / self.time_scale if self.time_scale > 0 else float("inf")
        self._used = max(0.0, self._used - elapsed * self.leak_rate)
        self._stamp = now

    def acquire(self) -> float:
        with self._lock:
            self._leak()
            limit = max(1.0, self.capacity * self.threshold)
            self._used += 1
            excess = self._used - limit
        if excess <= 0:
            return 0.0
        wait = excess / self.leak_rate * self.time_scale
        self._sleep(wait)
        return wait

    def observe(self, response: requests.Response) -> None:
        value = response.headers.get(self.HEADER)
        if not value:
            return
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
        if not m:
            return
        with self._lock:
            self._leak()
            self._used = float(m.group(1))
            self.capacity = int(m.group(2)) or self.capacity

    def throttled(self, response: Optional[requests.Response] = None) -> None:
        with self._lock:
            self._leak()
            self._used = float(self.capacity)

    @property
    def used(self) -> float:
        with self._lock:
            self._leak()
            return self._used


Limiter = Union[TokenBucket, ShopifyCallLimiter]


def parse_retry_after(value: Optional[str], *, now: Optional[datetime] = None) -> Optional[float]:
    """Nominal seconds from a Retry-After header: ``"2"``, ``"1.5"`` or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        now = now or datetime.now(timezone.utc)
        return max(0.0, (when - now).total_seconds())
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


# ---------------------------------------------------------------------------------------------
# Session

class EnvironmentOnceSession(requests.Session):
    """A ``requests.Session`` that reads the environment's proxies and CA bundle once per
    host, not on every request: requests walks ``os.environ`` twice a request for them,
    about 0.4 ms of CPU, more than a tracking call's own parsing. They do not change while
    a session lives (a new session reads them anew); what is merged is what requests merges."""

    def __init__(self):
        super().__init__()
        self._environment: dict[tuple[str, str], tuple[dict, Optional[str]]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env or proxies is None or "no_proxy" in proxies:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environment.get(key)
        if found is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            found = self._environment[key] = (get_environ_proxies(url), bundle)
        env_proxies, bundle = found
        for name, value in env_proxies.items():
            proxies.setdefault(name, value)
        if verify is True or verify is None:
            verify = bundle or verify
        return {"proxies": merge_setting(proxies, self.proxies), "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify), "cert": merge_setting(cert, self.cert)}


class ChannelSession(EnvironmentOnceSession):
    """A ``requests.Session`` with timeouts, retries, rate limiting and typed errors.

    Extra keyword arguments of ``request()`` (and so ``get()``, ``post()``...):
    ``operation`` picks the rate limiter (e.g. ``"getOrderItems"``; default: the session's
    ``default_operation``). Use :meth:`request_json` to also retry unreadable (truncated) JSON.
    """

    def __init__(self, channel: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 max_retries: int = 5, backoff: float = 0.5, max_backoff: float = 60.0,
                 max_retry_after: float = 300.0, time_scale: float = 1.0,
                 limiters: Optional[Mapping[str, Limiter]] = None, default_operation: str = "default",
                 sleep: Callable[[float], None] = time.sleep, rng: Optional[random.Random] = None):
        super().__init__()
        self.channel = channel
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.time_scale = float(time_scale)
        self.limiters: dict[str, Limiter] = dict(limiters or {})
        self.default_operation = default_operation
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = {"requests": 0, "retries": 0, "throttled": 0, "waited": 0.0}
        self._stats_lock = threading.Lock()
        self.headers["User-Agent"] = f"Waybill/0.1 ({channel} connector) python-requests/{requests.__version__}"

    # -- helpers -----------------------------------------------------------------------------
    def _count(self, key: str, amount: float = 1) -> None:
        with self._stats_lock:
            self.stats[key] += amount

    def _wait(self, nominal_seconds: float) -> None:
        real = max(0.0, nominal_seconds) * self.time_scale
        if real > 0:
            self._count("waited", real)
            self._sleep(real)

    def _backoff_delay(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base * (0.5 + self._rng.random() / 2)  # jitter in [base/2, base]

    def _limiter(self, operation: Optional[str]) -> Optional[Limiter]:
        return self.limiters.get(operation or self.default_operation) or self.limiters.get("default")

    # -- the request loop --------------------------------------------------------------------
    def request(self, method: str, url: str, *args: Any, operation: Optional[str] = None,
                **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response, _ = self._send(method, url, args, kwargs, operation=operation, parse_json=False)
        return response

    def request_json(self, method: str, url: str, *, operation: Optional[str] = None,
                     retries: Optional[int] = None, **kwargs: Any) -> tuple[Any, requests.Response]:
        """Like ``request`` but the body must be JSON; an unreadable body counts as a transient
        failure (a proxy or the server cut it) and is retried. Returns ``(data, response)``.
        ``retries=0``: one attempt only — a write that creates something is never repeated
        here, where nobody looks first whether the first attempt got through (the outbox
        does: core.idempotency.create_once)."""
        response, data = self._send(method, url, (), kwargs, operation=operation, parse_json=True,
                                    retries=retries)
        return data, response

    def get_json(self, url: str, **kwargs: Any) -> tuple[Any, requests.Response]:
        return self.request_json("GET", url, **kwargs)

    def _send(self, method: str, url: str, args: tuple, kwargs: dict, *, operation: Optional[str],
              parse_json: bool, retries: Optional[int] = None) -> tuple[requests.Response, Any]:
        max_retries = self.max_retries if retries is None else retries
        kwargs.setdefault("timeout", self.timeout)
        limiter = self._limiter(operation)
        safe_url = redact_url(url)
        op = operation or self.default_operation
        last_error: Optional[ChannelError] = None
        for attempt in range(max_retries + 1):
            if limiter is not None:
                waited = limiter.acquire()
                if waited:
                    self._count("waited", waited)
            self._count("requests")
            started = time.monotonic()
            retry_after: Optional[float] = None
            try:
                response = super().request(method, url, *args, **kwargs)
            except (RequestsConnectionError, Timeout, ChunkedEncodingError) as exc:
                last_error = ChannelUnavailable(
                    f"{self.channel}: {type(exc).__name__} on {method} {safe_url}: {redact_text(str(exc))}",
                    channel=self.channel, url=safe_url)
            else:
                elapsed = time.monotonic() - started
                shown_url = redact_url(response.url or url)
                log.debug("%s %s %s -> %s in %.3fs (%s)", self.channel, method, shown_url,
                          response.status_code, elapsed, op)
                if limiter is not None:
                    limiter.observe(response)
                status = response.status_code
                if status < 400:
                    if not parse_json:
                        return response, None
                    try:
                        return response, response.json()
                    except ValueError:
                        last_error = ChannelUnavailable(
                            f"{self.channel}: unreadable JSON from {method} {shown_url} "
                            f"({len(response.content)} bytes, maybe truncated)",
                            channel=self.channel, status=status, url=shown_url,
                            body=response.text[:200])
                elif status in (401, 403):
                    raise ChannelAuthError(
                        f"{self.channel}: {status} {response.reason or ''} on {method} {shown_url}: "
                        f"credentials refused ({_excerpt(response)})",
                        channel=self.channel, status=status, url=shown_url, body=_excerpt(response))
                elif status == 404:
                    raise ChannelNotFound(
                        f"{self.channel}: 404 on {method} {shown_url}", channel=self.channel,
                        status=status, url=shown_url, body=_excerpt(response))
                elif status in RETRY_STATUSES:
                    if status in (429, 503):
                        retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if status == 429:
                        self._count("throttled")
                        if limiter is not None:
                            limiter.throttled(response)
                        error_cls: type[ChannelError] = ChannelRateLimited
                    else:
                        error_cls = ChannelUnavailable
                    last_error = error_cls(
                        f"{self.channel}: {status} {response.reason or ''} on {method} {shown_url} "
                        f"({_excerpt(response)})",
                        channel=self.channel, status=status, url=shown_url, body=_excerpt(response))
                else:
                    raise ChannelError(
                        f"{self.channel}: {status} {response.reason or ''} on {method} {shown_url}: "
                        f"{_excerpt(response)}",
                        channel=self.channel, status=status, url=shown_url, body=_excerpt(response))
                response.close()
            if attempt >= max_retries:
                break
            self._count("retries")
            if retry_after is not None:
                delay = min(retry_after, self.max_retry_after)
            elif last_error is not None and last_error.status == 429 and limiter is not None:
                delay = 0.0  # the limiter, now drained, decides how long the next acquire() waits
            else:
                delay = self._backoff_delay(attempt)
            log.warning("%s: retry %d/%d of %s %s in %.3fs nominal: %s", self.channel, attempt + 1,
                        max_retries, method, safe_url, delay, last_error)
            self._wait(delay)
        assert last_error is not None
        last_error.message = f"{last_error.message} (gave up after {max_retries + 1} attempts)"
        raise last_error


def _excerpt(response: requests.Response, limit: int = 300) -> str:
    try:
        body = response.text
    except Exception:  # pragma: no cover
        return ""
    body = " ".join(body.split())
    return redact_text(body[:limit])


def make_session(channel: str, *, rate_limits: Optional[Mapping[str, tuple[float, int]]] = None,
                 shopify_call_limit: bool = False, time_scale: float = 1.0,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, max_retries: int = 5,
                 backoff: float = 0.5, default_operation: str = "default",
                 sleep: Callable[[float], None] = time.sleep) -> ChannelSession:
    """The session factory. ``rate_limits`` maps operation -> (rate/s, burst), e.g.
    :data:`SP_API_RATES`; ``shopify_call_limit`` puts Shopify's header-driven leaky bucket on
    every request."""
    limiters: dict[str, Limiter] = {}
    for operation, (rate, burst) in (rate_limits or {}).items():
        limiters[operation] = TokenBucket(rate, burst, time_scale=time_scale, sleep=sleep)
    if shopify_call_limit:
        limiters["default"] = ShopifyCallLimiter(time_scale=time_scale, sleep=sleep)
    return ChannelSession(channel, timeout=timeout, max_retries=max_retries, backoff=backoff,
                          time_scale=time_scale, limiters=limiters,
                          default_operation=default_operation, sleep=sleep)
