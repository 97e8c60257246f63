"""SMTP: sending one rendered mail, reusing a connection per worker thread.

``OMS_SMTP_URL`` names the server: ``smtp+starttls://user:pass@host:587`` (STARTTLS),
``smtps://user:pass@host:465`` (TLS from the first byte) or ``smtp://host:25`` (plain, for a
relay on the same host). The query may add ``cafile=/path`` (a private CA: tests use a
self-signed certificate) and ``timeout=<seconds>``. Certificates are always verified.

What goes on the wire is composed here too (``compose``: the headers, a text and an HTML
part, attachments → the bytes of the message and its envelope), once per mail and by hand:
the stdlib's ``email`` generator (header folding, a regular expression compiled per
boundary) and ``send_message`` (parsing the headers back for the envelope) cost more than
rendering the templates. Tests parse what the server received with ``email`` again.

What a caller gets back: nothing (the server accepted the mail) or an exception:
- ``MailRefused``: the server answered 5xx — it will never take this mail (bad recipient,
  policy): the outbox marks the message dead at once, with the server's reason;
- ``MailDeferred``: 4xx, a dropped or refused connection, a timeout, or our own per-minute
  cap: worth trying later (``retry_after`` when we know how long).

Connections: a sender takes an open connection to the server from the process's pool (or
opens one), sends, and puts it back — so the mails of a batch, and of the next passes, go
over as many connections as threads send at once (a handshake with STARTTLS and AUTH costs
more than a mail); a connection the server closed while idle is opened again once.
``close_all`` says QUIT on the idle ones.
"""
from __future__ import annotations

import base64
import binascii
import re
import smtplib
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, getaddresses
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlsplit

CRLF = "\r\n"
ADDRESS_HEADERS = frozenset({"From", "To", "Cc", "Reply-To"})
_PLAIN_ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]@]+@[^\s<>,;:\"()\[\]@]+")  # a@b, nothing else
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


class _PlainAddresses:
    """``MAIL FROM`` and ``RCPT TO`` without smtplib's ``quoteaddr`` for an address that is
    already bare (``compose`` made the envelope): it runs the RFC 2822 parser on every
    command, the largest part of the client's time per mail after the socket."""

    def mail(self, sender, options=()):
        if not _PLAIN_ADDRESS.fullmatch(sender) or any(o.lower() == "smtputf8" for o in options):
            return super().mail(sender, options)
        self.putcmd("mail", f"FROM:<{sender}>{self._options(options)}")
        return self.getreply()

    def rcpt(self, recip, options=()):
        if not _PLAIN_ADDRESS.fullmatch(recip):
            return super().rcpt(recip, options)
        self.putcmd("rcpt", f"TO:<{recip}>{self._options(options)}")
        return self.getreply()

    def _options(self, options) -> str:
        return " " + " ".join(options) if options and self.does_esmtp else ""


class _Smtp(_PlainAddresses, smtplib.SMTP):
    pass


class _SmtpSsl(_PlainAddresses, smtplib.SMTP_SSL):
    pass


def connect(config: SmtpConfig) -> smtplib.SMTP:
    """An open, authenticated connection (MailRefused on bad credentials)."""
    try:
        if config.security == "tls":
            client = _SmtpSsl(config.host, config.port, timeout=config.timeout,
                              context=_tls_context(config))
        else:
            client = _Smtp(config.host, config.port, timeout=config.timeout)
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


# --- composing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutgoingMail:
    """A message ready for the wire: its envelope and its bytes (CRLF line ends)."""
    sender: str  # MAIL FROM
    recipients: tuple[str, ...]  # RCPT TO
    headers: dict  # as given, unencoded (the mail log keeps them)
    data: bytes

    def __getitem__(self, name: str):
        return self.headers.get(name)


def compose(headers: dict, text: str, html: str | None = None,
            attachments=()) -> OutgoingMail:
    """``headers`` (From, To, Subject, Message-ID, ... in this order) around a plain-text
    part, an HTML alternative when given, and ``attachments`` ([(filename, mime type,
    bytes)]) — multipart/mixed then."""
    body = _text_part("plain", text)
    if html is not None:
        body = _multipart("alternative", [body, _text_part("html", html)])
    if attachments:
        body = _multipart("mixed", [body, *(_attachment(*a) for a in attachments)])
    head = b"".join(_header_line(name, value) for name, value in headers.items()
                    if value is not None)
    return OutgoingMail(_address(headers.get("From") or ""), _recipients(headers.get("To")),
                        dict(headers), head + b"MIME-Version: 1.0\r\n" + body)


@lru_cache(maxsize=256)
def _address(value: str) -> str:
    found = getaddresses([value])
    return found[0][1] if found else ""


def _recipients(to: str | None) -> tuple[str, ...]:
    """The envelope's recipients: a bare address as it is (a customer mail), a list
    parsed."""
    to = (to or "").strip()
    if _PLAIN_ADDRESS.fullmatch(to):
        return (to,)
    return tuple(a for _, a in getaddresses([to]) if a)


def _header_line(name: str, value) -> bytes:
    """ASCII as it is (folded at spaces past 78 characters), anything else RFC 2047."""
    value = str(value)
    if len(name) + len(value) < 77 and value.isascii():  # most headers: one short line
        return f"{name}: {value}{CRLF}".encode("ascii")
    if not value.isascii() and name in ADDRESS_HEADERS:  # encode the names, not the addresses
        value = ", ".join(formataddr(pair) for pair in getaddresses([value]))
    if not value.isascii():
        encoded = Header(value, "utf-8", header_name=name).encode(linesep=CRLF)
        return f"{name}: {encoded}{CRLF}".encode("ascii")
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > 78 and len(line) > len(name) + 1:
            lines.append(line)
            line = ""
        line += " " + word
    return (CRLF.join([*lines, line]) + CRLF).encode("ascii")


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _text_part(subtype: str, text: str) -> bytes:
    """Quoted-printable UTF-8: readable in the raw mail, unlike base64."""
    encoded = binascii.b2a_qp(_crlf(text.encode("utf-8")), istext=True)
    return (f"Content-Type: text/{subtype}; charset=\"utf-8\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode() \
        + _crlf(encoded) + b"\r\n"


def _attachment(filename: str, mime: str, data: bytes) -> bytes:
    name = Header(filename, "utf-8").encode() if not filename.isascii() else filename
    return (f"Content-Type: {mime}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n").encode() \
        + _crlf(base64.encodebytes(data))


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    # "=_" never occurs in quoted-printable ("=" is followed by hex digits or a line end)
    # nor in base64: the boundary cannot be inside a part, no need to search for it.
    boundary = f"=_waybill_{uuid.uuid4().hex}"
    delimiter = f"--{boundary}\r\n".encode()
    return (f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n").encode() \
        + b"".join(delimiter + part for part in parts) + f"--{boundary}--\r\n".encode()


# --- connections and sending ---------------------------------------------------------------------

_pool: dict[tuple, list[smtplib.SMTP]] = {}  # idle connections per server
_pool_lock = threading.Lock()


def _take(config: SmtpConfig) -> smtplib.SMTP:
    with _pool_lock:
        idle = _pool.get(config.key)
        if idle:
            return idle.pop()
    return connect(config)


def _give_back(config: SmtpConfig, client: smtplib.SMTP) -> None:
    with _pool_lock:
        _pool.setdefault(config.key, []).append(client)


def _quit(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def close_all() -> None:
    """QUIT the idle connections (the end of a runner, tests)."""
    with _pool_lock:
        idle = [client for clients in _pool.values() for client in clients]
        _pool.clear()
    for client in idle:
        _quit(client)


def send(config: SmtpConfig, mail: OutgoingMail, *, cap: RateCap | None = None) -> None:
    """Send ``mail`` over a pooled connection; a connection the server dropped while idle
    is opened again once."""
    if cap is not None:
        cap.take()
    client = _take(config)
    for fresh in (False, True):
        if fresh:
            _quit(client)
            client = connect(config)
        try:
            client.sendmail(mail.sender, list(mail.recipients), mail.data)
        except smtplib.SMTPServerDisconnected:
            if fresh:
                client.close()
                raise MailDeferred("the SMTP server closed the connection") from None
            continue
        except smtplib.SMTPRecipientsRefused as exc:
            code, error = next(iter(exc.recipients.values()))
            _reset(config, client)
            raise _by_code(code, error) from None
        except smtplib.SMTPResponseException as exc:
            _reset(config, client)
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPException) as exc:
            _quit(client)
            raise MailDeferred(f"{type(exc).__name__}: {exc}") from None
        _give_back(config, client)
        return


def _reset(config: SmtpConfig, client: smtplib.SMTP) -> None:
    """After a refused mail the session must be clean for the next one (RSET), or gone."""
    try:
        client.rset()
    except (OSError, smtplib.SMTPException, socket.error):
        client.close()
        return
    _give_back(config, client)
