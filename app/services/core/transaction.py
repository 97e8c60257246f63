"""One transaction per service call.

``@transactional`` commits when the outermost decorated call returns and rolls back when
it raises; a service that calls another joins the caller's transaction instead of
committing half-way. Views, APIs, jobs and the CLI therefore never commit themselves.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.exc import StaleDataError

from app.services.core.errors import StaleVersion

_DEPTH = "waybill_tx_depth"

# SQLite allows one writer. A transaction that starts as a reader and later writes fails
# at once ("database is locked") if another connection wrote in between, so a write
# transaction must take the write lock when it begins: BEGIN IMMEDIATE (see the "begin"
# listener in app/__init__.py), which waits its turn under the busy timeout instead.
WRITE_INTENT: ContextVar[bool] = ContextVar("waybill_write_intent", default=False)


@contextmanager
def write_intent():
    token = WRITE_INTENT.set(True)
    try:
        yield
    finally:
        WRITE_INTENT.reset(token)


def _begin_writing(session: Session):
    """On SQLite: end a clean read snapshot, so the next transaction starts fresh, and make
    it begin with the write lock. Returns the WRITE_INTENT token to reset, or None."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    real = session() if isinstance(session, scoped_session) else session
    if real.in_transaction() and not (real.new or real.dirty or real.deleted):
        real.commit()  # end a read snapshot so the write transaction starts fresh
    return WRITE_INTENT.set(True)


@contextmanager
def sqlite_write_lock(session: Session):
    """For code outside the services that reads and then writes in one transaction (FAB's
    login: find the user, then record the sign-in): on SQLite it takes the write lock when
    its transaction begins, waiting its turn under the busy timeout. No commit of its own."""
    token = _begin_writing(session)
    try:
        yield
    finally:
        if token is not None:
            WRITE_INTENT.reset(token)


@contextmanager
def unit_of_work(session: Session):
    depth = session.info.get(_DEPTH, 0)
    token = _begin_writing(session) if depth == 0 else None
    session.info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            session.commit()
    except StaleDataError as exc:
        if depth == 0:
            session.rollback()
        raise StaleVersion(
            "This record was changed by someone else in the meantime; reload and try again."
        ) from exc
    except BaseException:
        if depth == 0:
            session.rollback()
        raise
    finally:
        session.info[_DEPTH] = depth
        if token is not None:
            WRITE_INTENT.reset(token)


def transactional(fn):
    """Decorate a service function whose first argument is the session."""

    @functools.wraps(fn)
    def wrapper(session: Session, *args, **kwargs):
        with unit_of_work(session):
            return fn(session, *args, **kwargs)

    return wrapper
