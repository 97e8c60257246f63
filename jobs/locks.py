"""Database locks for jobs.

PostgreSQL: a session-level advisory lock held on a connection of its own; if the holder
dies its connection closes and the lock is gone at once.
SQLite: a lease row in ``job_locks`` taken with a conditional write and kept alive by a
heartbeat thread; a killed holder stops renewing, so its lease expires after ``ttl``.
"""
from __future__ import annotations

import hashlib
import os
import socket
import threading
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, insert, text, update
from sqlalchemy.exc import IntegrityError

from app.models import JobLock
from app.models.base import utcnow
from app.services.core.transaction import write_intent

DEFAULT_TTL = timedelta(seconds=60)


class LockBusy(Exception):
    """Another process holds the lock."""


def _configured_ttl() -> timedelta:
    from flask import current_app, has_app_context

    if has_app_context():
        return timedelta(seconds=current_app.config.get("OMS_JOB_LOCK_TTL", 60))
    return DEFAULT_TTL


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(engine, name: str, ttl: timedelta | None = None):
    """Hold the named lock for the block, or raise LockBusy at once."""
    ttl = ttl or _configured_ttl()
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name):
            yield
    else:
        with _lease(engine, name, ttl):
            yield


@contextmanager
def _advisory(engine, name: str):
    key = _advisory_key(name)
    connection = engine.connect()
    try:
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        connection.commit()
        if not got:
            raise LockBusy(name)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()
    finally:
        connection.close()


def try_acquire_lease(engine, name: str, holder: str, ttl: timedelta) -> bool:
    now = utcnow()
    with write_intent(), engine.begin() as connection:
        taken = connection.execute(
            update(JobLock).where(JobLock.name == name, JobLock.expires_at < now)
            .values(holder=holder, acquired_at=now, expires_at=now + ttl)
        ).rowcount
        if taken:
            return True
    try:
        with write_intent(), engine.begin() as connection:
            connection.execute(insert(JobLock).values(name=name, holder=holder, acquired_at=now,
                                                      expires_at=now + ttl))
        return True
    except IntegrityError:
        return False


def _renew(engine, name: str, holder: str, ttl: timedelta) -> bool:
    with write_intent(), engine.begin() as connection:
        return bool(connection.execute(
            update(JobLock).where(JobLock.name == name, JobLock.holder == holder)
            .values(expires_at=utcnow() + ttl)).rowcount)


@contextmanager
def _lease(engine, name: str, ttl: timedelta):
    holder = holder_id()
    if not try_acquire_lease(engine, name, holder, ttl):
        raise LockBusy(name)
    stop = threading.Event()

    def heartbeat():
        while not stop.wait(ttl.total_seconds() / 3):
            try:
                _renew(engine, name, holder, ttl)
            except Exception:  # noqa: BLE001 — a missed beat only shortens the lease
                pass

    beat = threading.Thread(target=heartbeat, name=f"lease:{name}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=5)
        with write_intent(), engine.begin() as connection:
            connection.execute(delete(JobLock).where(JobLock.name == name, JobLock.holder == holder))
