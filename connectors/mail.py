"""SMTP: sending one rendered mail, reusing a connection per worker thread.

``OMS_SMTP_URL`` names the server: ``smtp+starttls://user:pass@host:587`` (STARTTLS),
``smtps://user:pass@host:465`` (TLS from the first byte) or ``smtp://host:25`` (plain, for a
relay on the same host). The query may add ``cafile=/path`` (a private CA: tests use a
self-signed certificate) and ``timeout=<seconds>``. Certificates are always verified.

What a caller gets back: nothing (the server accepted the mail) or an exception:
- ``MailRefused``: the server answered 5xx — it will never take this mail (bad recipient,
  policy): the outbox marks the message dead at once, with the server's reason;
- ``MailDeferred``: 4xx, a dropped or refused connection, a timeout, or our own per-minute
  cap: worth trying later (``retry_after`` when we know how long).

Connections: each thread keeps one open connection per server and sends every mail of a
batch over it (a handshake with STARTTLS and AUTH costs more than a mail); a connection the
server closed while idle is opened again once. ``close_all`` ends the calling thread's.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import Message as MimeMessage
from urllib.parse import parse_qs, unquote, urlsplit

SCHEMES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}


class MailError(Exception):
    def __init__(self, message: str, *, code: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class MailRefused(MailError):
    """5xx: the server will never accept this mail."""


class MailDeferred(MailError):
    """4xx, a connection problem or our cap: try again later."""


@dataclass(frozen=True)
class SmtpConfig:
    security: str  # plain, starttls, tls
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    cafile: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:  # never the password
        return f"SmtpConfig({self.security}://{self.host}:{self.port}, user={self.username!r})"

    @property
    def key(self) -> tuple:
        return (self.security, self.host, self.port, self.username, self.password, self.cafile)


def parse_url(url: str) -> SmtpConfig:
    """``OMS_SMTP_URL`` as a config; ValueError (without the password) when malformed."""
    parts = urlsplit((url or "").strip())
    security = SCHEMES.get(parts.scheme)
    if security is None:
        raise ValueError(f"OMS_SMTP_URL must start with one of {', '.join(SCHEMES)}://")
    if not parts.hostname:
        raise ValueError("OMS_SMTP_URL has no host")
    query = parse_qs(parts.query)
    return SmtpConfig(
        security=security, host=parts.hostname, port=parts.port or DEFAULT_PORTS[security],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        cafile=query.get("cafile", [None])[0],
        timeout=float(query.get("timeout", ["30"])[0]))


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.cafile)


def connect(config: SmtpConfig) -> smtplib.SMTP:
    """An open, authenticated connection (MailRefused on bad credentials)."""
    try:
        if config.security == "tls":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                      context=_tls_context(config))
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            if config.security == "starttls":
                client.starttls(context=_tls_context(config))
        if config.username:
            client.login(config.username, config.password or "")
        return client
    except smtplib.SMTPAuthenticationError as exc:
        raise MailRefused(f"the SMTP server refused our credentials ({exc.smtp_code})",
                          code=exc.smtp_code) from None
    except smtplib.SMTPResponseException as exc:
        raise _by_code(exc.smtp_code, exc.smtp_error) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailDeferred(f"could not connect to {config.host}:{config.port}: "
                           f"{type(exc).__name__}: {exc}") from None


def _text(error) -> str:
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)


def _by_code(code: int, error) -> MailError:
    kind = MailRefused if 500 <= int(code) < 600 else MailDeferred
    return kind(f"{code} {_text(error)}".strip(), code=int(code))


class RateCap:
    """At most ``per_minute`` sends in any 60 s (0: no cap), shared by the threads of a
    process. Over the cap a send is deferred (never a sleep: the outbox waits)."""

    def __init__(self, per_minute: int = 0, clock=time.monotonic):
        self.per_minute = int(per_minute)
        self.clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> None:
        if self.per_minute <= 0:
            return
        with self._lock:
            now = self.clock()
            while self._sent and now - self._sent[0] >= 60:
                self._sent.popleft()
            if len(self._sent) >= self.per_minute:
                wait = 60 - (now - self._sent[0])
                raise MailDeferred(f"over the cap of {self.per_minute} mails a minute",
                                   retry_after=max(wait, 1.0))
            self._sent.append(now)


_local = threading.local()


def _connections() -> dict:
    if not hasattr(_local, "connections"):
        _local.connections = {}
    return _local.connections


def _connection(config: SmtpConfig, fresh: bool = False) -> smtplib.SMTP:
    pool = _connections()
    if fresh:
        _quit(pool.pop(config.key, None))
    if config.key not in pool:
        pool[config.key] = connect(config)
    return pool[config.key]


def _quit(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def close_all() -> None:
    """Close the calling thread's connections (end of a batch, tests)."""
    pool = _connections()
    while pool:
        _quit(pool.popitem()[1])


def send(config: SmtpConfig, message: MimeMessage, *, cap: RateCap | None = None) -> None:
    """Send ``message`` (From, To and Message-ID set by the caller) over the thread's
    connection; a connection the server dropped while idle is opened again once."""
    if cap is not None:
        cap.take()
    for fresh in (False, True):
        client = _connection(config, fresh=fresh)
        try:
            client.send_message(message)
            return
        except smtplib.SMTPServerDisconnected:
            if fresh:
                _connections().pop(config.key, None)
                raise MailDeferred("the SMTP server closed the connection") from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, error = next(iter(exc.recipients.values()))
            _reset(config, client)
            raise _by_code(code, error) from None
        except smtplib.SMTPResponseException as exc:
            _reset(config, client)
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPException) as exc:
            _connections().pop(config.key, None)
            _quit(client)
            raise MailDeferred(f"{type(exc).__name__}: {exc}") from None


def _reset(config: SmtpConfig, client: smtplib.SMTP) -> None:
    """After a refused mail the session must be clean for the next one (RSET), or gone."""
    try:
        client.rset()
    except (OSError, smtplib.SMTPException, socket.error):
        _connections().pop(config.key, None)
        client.close()
