"""HTTP posts to endpoints the seller configured: outbound webhooks and chat alerts.

Unlike the channel connectors (``connectors/http.py``: rate limits, retries inside the
call), these posts are tried once per outbox attempt — the outbox retries — and speak a
small vocabulary the services map to the outbox's outcomes:

* :class:`Answer` — the remote answered (any status): its code, headers and the first
  bytes of its body (never more: a receiver cannot make us read a large body);
* :class:`NoAnswer` — the request left but no answer came in time: the outcome is unknown;
* :class:`Unreachable` — it never reached the remote (refused, DNS, TLS): safe to retry.

``post_pinned`` connects to one address checked beforehand, whatever the host name
resolves to at send time (no DNS rebinding between the SSRF check and the request); the
Host header, TLS SNI and certificate check still use the URL's host name. No redirect is
followed and no proxy from the environment is used. Error texts never carry the URL (a
chat webhook's URL is its secret).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Mapping[str, str]
    excerpt: str


class NoAnswer(Exception):
    """The request was sent; no answer within the time limit."""


class Unreachable(Exception):
    """The request did not reach the remote."""


class PinnedAdapter(HTTPAdapter):
    """Connect to one checked address whatever the URL's host resolves to now."""

    def __init__(self, address: str):
        super().__init__(max_retries=0)
        self.address = address

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        hostname = host_params["host"]
        host_params = {**host_params, "host": self.address}
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": hostname,
                           "assert_hostname": hostname}
        return host_params, pool_kwargs


def post_pinned(url: str, address: str, *, body: bytes, headers: Mapping[str, str],
                timeout: tuple[float, float]) -> Answer:
    """POST ``body`` to ``url`` through ``address``."""
    with requests.Session() as http:
        http.trust_env = False  # no proxy from the environment: we connect where we checked
        http.mount(f"{urlsplit(url).scheme}://", PinnedAdapter(address))
        # The pool connects to the address; the Host header names the URL's host.
        return _post(http, url, body, {"Host": urlsplit(url).netloc, **headers}, timeout)


def post(url: str, *, body: bytes, headers: Mapping[str, str],
         timeout: tuple[float, float]) -> Answer:
    """POST ``body`` to ``url`` (a chat webhook whose URL an Admin gave)."""
    with requests.Session() as http:
        http.trust_env = False
        return _post(http, url, body, dict(headers), timeout)


def _post(http: requests.Session, url: str, body: bytes, headers: dict,
          timeout: tuple[float, float]) -> Answer:
    try:
        response = http.post(url, data=body, headers=headers, timeout=timeout,
                             allow_redirects=False, stream=True)
    except requests.ReadTimeout:
        raise NoAnswer(f"no answer within {timeout[1]:g} s") from None
    except requests.RequestException as exc:
        raise Unreachable(f"could not reach it ({type(exc).__name__})") from None
    return Answer(response.status_code, dict(response.headers), _excerpt(response))


def _excerpt(response: requests.Response) -> str:
    try:
        raw = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
    except Exception:  # noqa: BLE001 — a broken body is still an answer
        raw = b""
    finally:
        response.close()
    return raw.decode("utf-8", "replace")
