"""One transaction per service call.

``@transactional`` commits when the outermost decorated call returns and rolls back when
it raises; a service that calls another joins the caller's transaction instead of
committing half-way. Views, APIs, jobs and the CLI therefore never commit themselves.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .errors import StaleVersion

_DEPTH = "waybill_tx_depth"


@contextmanager
def unit_of_work(session: Session):
    depth = session.info.get(_DEPTH, 0)
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


def transactional(fn):
    """Decorate a service function whose first argument is the session."""

    @functools.wraps(fn)
    def wrapper(session: Session, *args, **kwargs):
        with unit_of_work(session):
            return fn(session, *args, **kwargs)

    return wrapper
