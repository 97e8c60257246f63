"""The sign-in limits hold across processes: two processes of the app (as two gunicorn
workers are), each with its own app and connection pool on the same PostgreSQL database,
fire sign-ins in parallel; together they let no more than the configured attempts through
(with memory:// storage each worker would have let the full limit through)."""
from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, LoginAttempt
from tests.conftest import PG_URL, is_postgres

pytestmark = pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")

PROCESSES, THREADS, ATTEMPTS_EACH = 2, 6, 12


def _worker(url, settings, usernames, addresses, barrier, results):
    """One app process: waits for the other, then fires its sign-ins from a thread pool."""
    from concurrent.futures import ThreadPoolExecutor

    from app import create_app
    from tests.conftest import test_config

    app = create_app(**{**test_config(url), **settings})

    def attempt(i):
        client = app.test_client()
        response = client.post("/api/v1/security/login", json={
            "username": usernames[i % len(usernames)], "password": "wrong password",
            "provider": "db"}, environ_base={"REMOTE_ADDR": addresses[i % len(addresses)]})
        return response.status_code

    barrier.wait(timeout=60)
    with ThreadPoolExecutor(THREADS) as pool:
        results.put(list(pool.map(attempt, range(ATTEMPTS_EACH))))


def run_processes(settings, usernames, addresses) -> Counter:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(PG_URL, settings, usernames, addresses,
                                                barrier, results))
             for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    statuses = Counter()
    for _ in procs:
        statuses.update(results.get(timeout=100))
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return statuses


def test_two_processes_let_through_no_more_than_the_address_limit():
    settings = dict(AUTH_RATE_LIMITED=True, AUTH_RATE_LIMIT="5 per 60 second",
                    OMS_LOGIN_LOCKOUT_FAILURES=0)
    statuses = run_processes(settings, [f"guess{i}" for i in range(30)], ["203.0.113.9"])
    # 24 attempts from one address: exactly 5 had their password checked (401), the rest
    # were refused before (429); memory:// storage would have let 5 per process through.
    assert statuses == Counter({401: 5, 429: PROCESSES * ATTEMPTS_EACH - 5}), statuses
    db.session.rollback()
    assert len(db.session.scalars(select(LoginAttempt)).all()) == 5


def test_two_processes_lock_an_account_after_exactly_n_failures():
    settings = dict(AUTH_RATE_LIMITED=False, OMS_LOGIN_LOCKOUT_FAILURES=3,
                    OMS_LOGIN_LOCKOUT_SECONDS=600)
    statuses = run_processes(settings, ["viewer"], [f"198.51.100.{i}" for i in range(24)])
    assert statuses == Counter({401: 3, 429: PROCESSES * ATTEMPTS_EACH - 3}), statuses
    db.session.rollback()
    locks = db.session.scalars(select(AuditLog).where(AuditLog.action == "locked")).all()
    assert len(locks) == 1 and locks[0].changes["username"] == "viewer"
