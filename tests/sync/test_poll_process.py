"""`flask oms poll` as a real process: killed with SIGKILL at random moments, then a clean
run — every order exactly once. Two pollers of one channel at once: no duplicate."""
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Order, SyncRun
from tests.conftest import is_postgres
from tests.services.test_invariants import assert_invariants
from tests.sync.conftest import TIME_SCALE
from tests.sync.test_pull_orders import assert_exactly_once

ROOT = Path(__file__).resolve().parents[2]
LOCK_TTL = 1


def poll_command(app, code: str) -> tuple[list[str], dict]:
    env = {
        **os.environ,
        "FLASK_APP": "app:create_app",
        "OMS_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "OMS_SECRET_KEY": app.config["SECRET_KEY"],
        "OMS_CREDENTIALS_KEY": app.config["OMS_CREDENTIALS_KEY"],
        "OMS_CONNECTOR_TIME_SCALE": str(TIME_SCALE),
        "OMS_CONNECTOR_PAGE_SIZE": "10",
        "OMS_JOB_LOCK_TTL": str(LOCK_TTL),
        "OMS_SCHEDULER": "off",
        "OMS_LOG_LEVEL": "WARNING",
    }
    return [sys.executable, "-m", "flask", "oms", "poll", "--channel", code], env


def _last_run_id() -> int:
    db.session.remove()
    return db.session.scalar(select(func.coalesce(func.max(SyncRun.id), 0)))


def _wait_for_run_after(run_id: int, process, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _last_run_id() > run_id:
            db.session.remove()
            return
        time.sleep(0.05)
    db.session.remove()


def test_sigkilled_poller_loses_and_duplicates_nothing(app, session, sandbox, sandbox_channels):
    state, _root = sandbox
    kind = "woocommerce"
    channel = sandbox_channels[kind]
    # Enough orders that the (bulk) import cannot finish before the kills.
    state.create_orders(kind, 900)
    state.set_faults(kind, {"slow": 0.2, "slow_seconds": 0.05, "seed": 3})
    command, env = poll_command(app, channel.code)
    db.session.remove()  # hold no connection or lock while the processes write
    rng = random.Random(42)
    kills = 0
    for _ in range(6):
        last_run = _last_run_id()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        _wait_for_run_after(last_run, process)  # start-up time varies with the machine's load
        time.sleep(rng.uniform(0.05, 1.5))  # then a random moment of the import
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
        time.sleep(LOCK_TTL + 0.5)  # SQLite: the dead poller's lease runs out
    assert kills >= 5, "the poller finished before it could be killed: make the import longer"
    # Processes died in the middle of runs, after importing part of the orders.
    killed_runs = session.scalar(select(func.count(SyncRun.id))
                                 .where(SyncRun.status.in_(("running", "failed"))))
    assert killed_runs >= 3
    imported_before = session.scalar(select(func.count(Order.id)))
    assert 0 < imported_before < len(state.list_orders(kind, "demo"))
    print(f"{kills} SIGKILLs; {killed_runs} interrupted runs; {imported_before} of "
          f"{len(state.list_orders(kind, 'demo'))} orders imported before the clean run")
    db.session.remove()

    clean = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "succeeded" in clean.stdout, clean.stdout
    db.session.remove()
    assert_exactly_once(db.session, state, kind, channel)
    assert_invariants(db.session)
    statuses = db.session.scalars(select(SyncRun.status)).all()
    assert "running" not in statuses  # the clean run marked the killed ones failed
    assert statuses.count("failed") >= 1


@pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")
def test_two_pollers_at_once_create_no_duplicate(app, session, sandbox, sandbox_channels):
    state, _root = sandbox
    kind = "shopify"
    channel = sandbox_channels[kind]
    state.create_orders(kind, 300)
    command, env = poll_command(app, channel.code)
    db.session.remove()
    processes = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert_exactly_once(db.session, state, kind, channel)


@pytest.mark.skipif(not is_postgres(), reason="concurrency is proven on PostgreSQL")
def test_two_pulls_without_the_lock_still_create_no_duplicate(app, sandbox, sandbox_channels):
    """Even if two imports of one channel overlap (the lock bypassed), the unique key and
    the importer's retry keep every order exactly once."""
    from app.services.channels import sync
    from app.services.core.actor import Actor
    from jobs.pull_orders import connector_for

    state, _root = sandbox
    kind = "shopify"
    channel_id = sandbox_channels[kind].id
    state.create_orders(kind, 200)
    db.session.remove()
    errors = []

    def pull():
        with app.app_context():
            try:
                from app.models import Channel

                channel = db.session.get(Channel, channel_id)
                sync.pull_orders(db.session, channel, connector_for(channel), Actor.job("test"))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    from app.models import Channel, SyncConflict

    channel = db.session.get(Channel, channel_id)
    assert_exactly_once(db.session, state, kind, channel)
    assert db.session.scalar(select(func.count(SyncConflict.id))) == 0
