"""Sign-in limits and server-side sessions, held in the database so that every web
process (gunicorn worker) sees the same figures.

- **Limiter.** Each sign-in writes a ``login_attempts`` row *before* its password is
  checked, under one lock (a PostgreSQL advisory lock; SQLite's single writer), after
  counting the recent attempts of the client's address: parallel attempts in several
  processes therefore count each other and no more than the limit get through. A success
  deletes its row; failures stay for the window. When ``OMS_RATELIMIT_STORAGE_URI`` names
  Redis, Flask-Limiter holds the per-address limit instead (``address_limit`` is None).
- **Lockout.** After ``lockout_failures`` failures of one account within
  ``lockout_seconds`` the account is refused (even with its password) until the oldest of
  those failures is that old; the moment it locks is audited. A success clears the
  account's failures.
- **Sessions.** A browser sign-in stores a random token's hash (``login_sessions``) and
  the token in the signed session cookie; every request checks it, and signing out
  deletes it, so a copy of the old cookie signs nobody in.
"""
from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import parse as parse_rate
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from app.models import LoginAttempt, LoginSession
from app.models.base import utcnow
from app.services.core import audit
from app.services.core.actor import Actor
from app.services.core.errors import DomainError
from app.services.core.transaction import transactional

# Any constant: the one advisory lock that serialises the count-and-insert of sign-ins.
_ADVISORY_LOCK_KEY = 0x57_42_4C_47  # "WBLG"
SESSION_MAX_AGE = timedelta(days=31)
STALE_ATTEMPTS = timedelta(days=1)  # longer than any window; a success deletes older rows


class LoginRefused(DomainError):
    """A sign-in refused before its password is checked (429 with Retry-After)."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))


@dataclass(frozen=True)
class LoginPolicy:
    address_limit: int | None  # attempts per address and window; None: not held here
    address_window: int  # seconds
    lockout_failures: int  # 0: no lockout
    lockout_seconds: int

    @classmethod
    def from_config(cls, config) -> "LoginPolicy":
        amount, window = None, 1
        if config.get("AUTH_RATE_LIMITED") and not config.get("OMS_RATELIMIT_SHARED"):
            rate = parse_rate(config["AUTH_RATE_LIMIT"])
            amount, window = rate.amount, rate.get_expiry()
        return cls(address_limit=amount, address_window=window,
                   lockout_failures=int(config.get("OMS_LOGIN_LOCKOUT_FAILURES") or 0),
                   lockout_seconds=int(config.get("OMS_LOGIN_LOCKOUT_SECONDS") or 0))


def normalize_username(username: str | None) -> str:
    return (username or "").strip().lower()[:256]


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _ADVISORY_LOCK_KEY})
    # SQLite: the transaction began with BEGIN IMMEDIATE (one writer at a time).


def _wait(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    if seconds <= 90:
        return f"{math.ceil(seconds)} seconds"
    return f"{minutes} minutes"


def lock_ends_at(session: Session, policy: LoginPolicy, username: str,
                 now: datetime) -> datetime | None:
    """When the account's lock ends, or None if it is not locked."""
    if policy.lockout_failures <= 0:
        return None
    since = now - timedelta(seconds=policy.lockout_seconds)
    recent = session.scalars(
        select(LoginAttempt.attempted_at)
        .where(LoginAttempt.username == username, LoginAttempt.cleared.is_(False),
               LoginAttempt.attempted_at > since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(policy.lockout_failures)
    ).all()
    if len(recent) < policy.lockout_failures:
        return None
    return recent[-1] + timedelta(seconds=policy.lockout_seconds)


@transactional
def begin_attempt(session: Session, policy: LoginPolicy, username: str | None,
                  remote_addr: str | None) -> int:
    """Count the attempt in before its password is checked; refuse it when the account is
    locked or its address is over the limit. Returns the attempt's id."""
    name, address = normalize_username(username), (remote_addr or "-")[:64]
    now = utcnow()
    _lock(session)
    locked_until = lock_ends_at(session, policy, name, now)
    if locked_until is not None:
        wait = (locked_until - now).total_seconds()
        raise LoginRefused(
            f"This account is locked after {policy.lockout_failures} failed sign-ins; "
            f"try again in {_wait(wait)}.", wait, code="account_locked")
    if policy.address_limit is not None:
        since = now - timedelta(seconds=policy.address_window)
        recent = session.scalars(
            select(LoginAttempt.attempted_at)
            .where(LoginAttempt.remote_addr == address, LoginAttempt.attempted_at > since)
            .order_by(LoginAttempt.attempted_at.desc())
            .limit(policy.address_limit)
        ).all()
        if len(recent) >= policy.address_limit:
            wait = (recent[-1] + timedelta(seconds=policy.address_window) - now).total_seconds()
            raise LoginRefused(
                f"Too many sign-in attempts from your address; try again in {_wait(wait)}.",
                wait)
    attempt = LoginAttempt(username=name, remote_addr=address, attempted_at=now,
                           pending=True, cleared=False)
    session.add(attempt)
    session.flush()
    return attempt.id


@transactional
def attempt_failed(session: Session, policy: LoginPolicy, attempt_id: int, username: str | None,
                   user_id: int | None = None) -> None:
    """The password was wrong: the attempt stays as a failure. If it is the failure that
    locks the account, say so in the audit log."""
    name, now = normalize_username(username), utcnow()
    _lock(session)
    session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id)
                    .values(pending=False))
    if policy.lockout_failures <= 0:
        return
    since = now - timedelta(seconds=policy.lockout_seconds)
    failures = session.scalar(
        select(func.count()).select_from(LoginAttempt)
        .where(LoginAttempt.username == name, LoginAttempt.cleared.is_(False),
               LoginAttempt.pending.is_(False), LoginAttempt.attempted_at > since))
    # Finished failures only: under the lock they are counted one by one, so exactly one
    # call sees the count reach the limit (pending ones already keep others out).
    if failures == policy.lockout_failures:
        audit.record(session, Actor.system(), "user", user_id, "locked", {
            "username": name, "failures": failures,
            "until": now + timedelta(seconds=policy.lockout_seconds)})


@transactional
def attempt_succeeded(session: Session, attempt_id: int, username: str | None) -> None:
    """The password was right: the attempt is no failure, and the account's earlier
    failures no longer count towards its lockout (they still count for the address)."""
    session.execute(delete(LoginAttempt).where(
        (LoginAttempt.id == attempt_id) | (LoginAttempt.attempted_at < utcnow() - STALE_ATTEMPTS)))
    session.execute(update(LoginAttempt)
                    .where(LoginAttempt.username == normalize_username(username),
                           LoginAttempt.cleared.is_(False))
                    .values(cleared=True))


# --- sessions ------------------------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transactional
def start_session(session: Session, user_id: int) -> str:
    """A new server-side session for a browser sign-in; returns the token for the cookie.
    Sessions older than SESSION_MAX_AGE are dropped on the way."""
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.created_at < now - SESSION_MAX_AGE))
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_hash(token), user_id=user_id, created_at=now))
    return token


def session_is_live(session: Session, user_id: int, token: str | None) -> bool:
    if not token:
        return False
    # A query, not session.get(): another process may have ended it a moment ago.
    owner = session.scalar(select(LoginSession.user_id).where(
        LoginSession.token_hash == _hash(token),
        LoginSession.created_at > utcnow() - SESSION_MAX_AGE))
    return owner == user_id


@transactional
def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(token)))


@transactional
def end_sessions_of_user(session: Session, user_id: int) -> int:
    """Sign a user out everywhere (deactivated, password reset by an admin)."""
    result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return result.rowcount or 0
