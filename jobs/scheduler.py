"""The scheduler: build it, register the jobs from code, run each job safely.

``run_job`` gives every job an app context, the database lock of its name (so two
scheduler processes never run it at once) and a clean session afterwards. Per-channel
jobs (``pull_orders:<code>``) are re-registered every minute, so a channel added or
re-timed in the UI is picked up without a restart.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from app.extensions import db

from .locks import LockBusy, job_lock

log = logging.getLogger(__name__)


def run_job(app, name: str, fn, *args, exclusive=True) -> object | None:
    """Run ``fn(*args)`` under the job's database lock; skip quietly if it is held.
    ``exclusive`` (a bool, or a function of the engine) False: no lock (the job
    coordinates itself, e.g. send_outbox on PostgreSQL)."""
    with app.app_context():
        try:
            if callable(exclusive):
                exclusive = exclusive(db.engine)
            if not exclusive:
                return fn(*args)
            with job_lock(db.engine, name):
                return fn(*args)
        except LockBusy:
            log.info("job %s is running elsewhere: skipped", name)
            return None
        except Exception:  # noqa: BLE001 — a failing job must not kill the scheduler
            log.exception("job %s failed", name)
            db.session.rollback()
            return None
        finally:
            db.session.remove()


def register_jobs(scheduler, app) -> None:
    from . import (alert_digest, allocate_backorders, check_alerts, poll_tracking, pull_orders, pull_returns,
                   send_outbox, sla_watch, stock_drift, sync_listings)

    common = dict(max_instances=1, coalesce=True, misfire_grace_time=60, replace_existing=True)
    scheduler.add_job(_sync_channel_jobs, "interval", seconds=60, args=[scheduler, app],
                      id="sync_channel_jobs", **common)
    scheduler.add_job(run_job, "interval", seconds=120,
                      args=[app, "allocate_backorders", allocate_backorders.run],
                      id="allocate_backorders", **common)
    scheduler.add_job(_sync_all_listings, "interval", seconds=sync_listings.INTERVAL_SECONDS, args=[app],
                      id="sync_listings", **common)
    scheduler.add_job(_pull_all_returns, "interval", seconds=pull_returns.INTERVAL_SECONDS, args=[app],
                      id=pull_returns.JOB, **common)
    scheduler.add_job(run_job, "interval", seconds=app.config.get("OMS_OUTBOX_INTERVAL", 1),
                      args=[app, send_outbox.NAME, send_outbox.run],
                      kwargs={"exclusive": send_outbox.exclusive}, id=send_outbox.NAME,
                      **common)
    scheduler.add_job(run_job, "interval", seconds=60,
                      args=[app, "check_alerts", check_alerts.run], id="check_alerts", **common)
    scheduler.add_job(run_job, "interval", seconds=sla_watch.INTERVAL_SECONDS,
                      args=[app, sla_watch.NAME, sla_watch.run], id=sla_watch.NAME, **common)
    scheduler.add_job(run_job, "interval", seconds=poll_tracking.INTERVAL_SECONDS,
                      args=[app, poll_tracking.NAME, poll_tracking.run], id=poll_tracking.NAME, **common)
    scheduler.add_job(_check_all_drift, "interval", seconds=stock_drift.INTERVAL_SECONDS, args=[app],
                      id=stock_drift.JOB, **common)
    scheduler.add_job(run_job, "cron", hour=7, minute=0,
                      args=[app, alert_digest.NAME, alert_digest.run], id=alert_digest.NAME,
                      **common)
    _sync_channel_jobs(scheduler, app)
    _ = pull_orders  # registered per channel by _sync_channel_jobs


def _sync_all_listings(app) -> None:
    from . import sync_listings

    with app.app_context():
        codes = sync_listings.codes()
    for code in codes:
        run_job(app, f"sync_listings:{code}", sync_listings.run, code)


def _pull_all_returns(app) -> None:
    from . import pull_returns

    with app.app_context():
        codes = pull_returns.codes()
    for code in codes:
        run_job(app, f"{pull_returns.JOB}:{code}", pull_returns.run, code)


def _check_all_drift(app) -> None:
    from . import stock_drift

    with app.app_context():
        codes = stock_drift.codes()
    for code in codes:
        run_job(app, f"stock_drift:{code}", stock_drift.run, code)


def _sync_channel_jobs(scheduler, app) -> None:
    from . import pull_orders

    with app.app_context():
        try:
            wanted = pull_orders.schedule()
        finally:
            db.session.remove()
    existing = {job.id for job in scheduler.get_jobs() if job.id.startswith("pull_orders:")}
    for job_id, (code, interval) in wanted.items():
        job = scheduler.get_job(job_id)
        if job is None or job.trigger.interval.total_seconds() != interval:
            # A new channel is pulled a few seconds from now, then at its interval.
            first = datetime.now(timezone.utc) + timedelta(seconds=5)
            scheduler.add_job(run_job, "interval", seconds=interval,
                              args=[app, job_id, pull_orders.run, code], id=job_id,
                              max_instances=1, coalesce=True, misfire_grace_time=interval,
                              replace_existing=True, next_run_time=first)
    for job_id in existing - set(wanted):
        scheduler.remove_job(job_id)


class _DropStillRunning(logging.Filter):
    """A job still running at its next tick (the outbox's 1 s pass, a slow tracking pass) is
    skipped by design (max_instances=1): APScheduler says so as a warning every tick."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_STILL_RUNNING = _DropStillRunning()


def start_scheduler(app, *, blocking: bool = False):
    logging.getLogger("apscheduler.scheduler").addFilter(_STILL_RUNNING)
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    register_jobs(scheduler, app)
    log.info("scheduler starting with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    scheduler.start()
    return scheduler
