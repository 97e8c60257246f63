"""The scheduler registers a pull job per enabled channel, and run_job skips a job whose
lock another process holds."""
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from app.extensions import db
from jobs import locks
from jobs.scheduler import register_jobs, run_job


def test_jobs_are_registered_from_code_per_channel(app, sandbox_channels, session):
    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, app)
    ids = {job.id for job in scheduler.get_jobs()}
    assert {"sync_channel_jobs", "allocate_backorders", "pull_orders:sb-shopify",
            "pull_orders:sb-woocommerce", "pull_orders:sb-amazon", "pull_returns"} <= ids


def test_a_held_lock_makes_the_job_skip(app):
    calls = []
    with locks.job_lock(db.engine, "demo-job", ttl=timedelta(seconds=30)):
        assert run_job(app, "demo-job", lambda: calls.append(1)) is None
    assert run_job(app, "demo-job", lambda: calls.append(2) or "ran") == "ran"
    assert calls == [2]


def test_an_expired_lease_is_taken_over(app):
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL advisory locks end with their connection instead
    assert locks.try_acquire_lease(db.engine, "lease-job", "dead-process", timedelta(seconds=-1))
    assert locks.try_acquire_lease(db.engine, "lease-job", "new-process", timedelta(seconds=30))
    assert not locks.try_acquire_lease(db.engine, "lease-job", "third", timedelta(seconds=30))
