"""Stored credentials go only where the person who entered them sent them.

A connector with a URL and stored credentials (channels now; carriers and outbound
webhooks later) sends those credentials to that URL. Whoever may edit the URL could
otherwise point it at a server of theirs and press "test connection": the stored token
would leave with the next request. So changing *where credentials go* — the scheme, host,
port, path or query of the URL (not letter case, a default port or a trailing slash) —
requires entering the credentials again in the same change (clearing the URL does not:
it sends nothing); without them the change is refused (422 naming the credentials field, nothing saved). Every such change is audited
(``credentials_destination``: who, the old and the new URL with any user-info or secret
query value redacted, whether credentials were re-entered; never a secret).

Each service that saves such a connector calls ``guard`` before it changes anything::

    credential_targets.guard(session, actor, "channel", channel.id,
                             old_url=channel.base_url, new_url=clean["base_url"],
                             has_stored_credentials=bool(channel.credentials_encrypted),
                             credentials_given=credentials is not None)
"""
from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from connectors.http import redact_url

from app.services.core import audit
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed

DEFAULT_PORTS = {"http": 80, "https": 443}


def destination(url: str | None) -> tuple | None:
    """Where a URL sends what goes to it, comparable: (scheme, user-info, host, port, path,
    query), or None for no URL. A URL without a scheme is https, as the connectors read it."""
    if not url or not url.strip():
        return None
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # not a URL at all: compare it as it is
        return ("", url)
    scheme = parts.scheme.lower()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return (scheme, userinfo, (parts.hostname or "").lower(),
            port or DEFAULT_PORTS.get(scheme), parts.path.rstrip("/"), parts.query)


def moves(old_url: str | None, new_url: str | None) -> bool:
    """Whether changing the URL from old to new changes where credentials are sent."""
    return destination(old_url) != destination(new_url)


def guard(session: Session, actor: Actor, entity: str, entity_id, *, old_url: str | None,
          new_url: str | None, has_stored_credentials: bool, credentials_given: bool,
          url_field: str = "base_url", credentials_field: str = "credentials") -> bool:
    """Refuse a change of where credentials go unless they are entered again with it;
    audit the change when allowed. Returns whether the destination changed. No commit."""
    if not moves(old_url, new_url):
        return False
    # No URL sends nothing anywhere; the next URL set needs the credentials again.
    if has_stored_credentials and not credentials_given and destination(new_url) is not None:
        message = (f"enter the credentials again to change the {url_field.replace('_', ' ')}: "
                   "stored credentials are only ever sent where they were entered for")
        raise ValidationFailed(f"{credentials_field}: {message}",
                               errors={credentials_field: [message]})
    audit.record(session, actor, entity, entity_id, "credentials_destination", {
        url_field: {"old": _shown(old_url), "new": _shown(new_url)},
        credentials_field: "re-entered" if credentials_given else "none stored",
    })
    return True


def _shown(url: str | None) -> str | None:
    return redact_url(url) if url else url
