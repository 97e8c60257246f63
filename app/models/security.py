"""Sign-in state that must hold across processes: failed sign-ins (the login limiter and
account lockout) and signed-in browser sessions (so that signing out ends a session on the
server, not only in the browser)."""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import UTCDateTime


class LoginAttempt(Model):
    """A sign-in that failed, or is being checked right now (``pending``): a row is written
    before the password is checked, so parallel attempts count each other. A successful
    sign-in deletes its own row and clears the account's earlier failures (``cleared``)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username", "username", "attempted_at"),
        Index("ix_login_attempts_address", "remote_addr", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(256), nullable=False)
    remote_addr: Mapped[str] = mapped_column(String(64), nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    pending: Mapped[bool] = mapped_column(nullable=False, default=True)
    cleared: Mapped[bool] = mapped_column(nullable=False, default=False)


class LoginSession(Model):
    """A signed-in browser session. The cookie carries a random token; this row holds its
    hash. Signing out deletes the row, so the old cookie no longer signs anyone in."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
