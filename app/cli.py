"""`flask oms ...`: thin commands over the services."""
from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db


@click.group("oms", help="Waybill commands.")
def oms():
    pass


@oms.command("init")
@click.option("--demo", is_flag=True, help="Load deterministic demo data.")
@click.option("--orders", "order_count", default=1000, show_default=True,
              help="Number of demo orders.")
@with_appcontext
def init(demo: bool, order_count: int):
    """Upgrade the schema, sync roles and permissions, create the admin (and demo data)."""
    from .security.manager import sync_roles
    from app.services.core import users

    started = time.monotonic()
    click.echo(_upgrade_schema())
    counts = sync_roles(current_app.appbuilder)
    click.echo("roles: " + ", ".join(f"{name} ({n} permissions)" for name, n in counts.items()))
    username = current_app.config["OMS_ADMIN_USER"]
    password = current_app.config["OMS_ADMIN_PASSWORD"]
    created, password = users.ensure_admin(current_app.appbuilder.sm, username, password)
    if created:
        click.echo(f"admin user created: {username} / {password}")
    else:
        click.echo(f"admin user exists: {username}")
    if demo:
        from app.services import demo as demo_data

        summary = demo_data.load(db.session, orders=order_count, echo=click.echo)
        click.echo("demo: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    click.echo(f"init done in {time.monotonic() - started:.1f}s")


@oms.command("demo-labels")
@click.option("--count", default=20, show_default=True, help="Packed orders to ship at most.")
@with_appcontext
def demo_labels(count: int):
    """Ship packed demo orders with labels bought from the running carrier sandbox, so that
    their parcels move (run after `flask oms sandbox` has started)."""
    from app.services import demo as demo_data

    bought = demo_data.buy_sandbox_labels(db.session, count, echo=click.echo)
    click.echo(f"demo labels: {bought} bought from the carrier sandbox")


def _upgrade_schema() -> str:
    """Apply the pending migrations without alembic's line per revision; say what changed."""
    import logging

    from alembic import command
    from alembic.runtime.migration import MigrationContext

    logging.getLogger("alembic").setLevel(logging.WARNING)

    def revision():
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    before = revision()
    config = current_app.extensions["migrate"].migrate.get_config()
    config.attributes["quiet"] = True
    command.upgrade(config, "head")
    after = revision()
    if before is None:
        return f"database: schema created (revision {after})"
    if before != after:
        return f"database: schema upgraded from revision {before} to {after}"
    return f"database: schema up to date (revision {after})"


@oms.command("create-user")
@click.option("--username", required=True)
@click.option("--role", required=True)
@click.option("--password", required=True)
@click.option("--email", default=None)
@with_appcontext
def create_user(username, role, password, email):
    """Create a user with one role."""
    from app.services.core import users
    from app.services.core.errors import DomainError

    try:
        user = users.create_user(current_app.appbuilder.sm, username, role, password, email)
    except DomainError as err:
        raise click.ClickException(err.message)
    click.echo(f"user {user.username} created with role {role}")


@oms.command("create-api-key")
@click.option("--username", required=True)
@click.option("--name", required=True)
@with_appcontext
def create_api_key(username, name):
    """Create an API key for a user and print it (shown once)."""
    from app.services.core import users
    from app.services.core.errors import DomainError

    try:
        key = users.create_api_key(current_app.appbuilder.sm, username, name)
    except DomainError as err:
        raise click.ClickException(err.message)
    click.echo(key)


@oms.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8099, show_default=True, type=int)
@click.option("--orders", default=0, show_default=True, help="Orders per channel at start.")
@click.option("--trickle", default=0.0, show_default=True,
              help="Every that many seconds, a new order on each channel (0: none).")
@with_appcontext
def sandbox(host, port, orders, trickle):
    """Serve the Shopify, WooCommerce and Amazon simulators over this catalog."""
    from connectors.sandbox import run_sandbox

    from app.services.inventory import catalog

    products = catalog.sandbox_catalog(db.session)
    db.session.remove()  # the sandbox holds no database of ours
    run_sandbox(host, port, catalog=products or None, orders=orders, trickle=trickle)


@oms.command("poll")
@click.option("--channel", "code", default=None, help="Only this channel (its code).")
@with_appcontext
def poll(code):
    """Pull changed orders from the channels now (each under its job lock)."""
    from jobs import pull_orders
    from jobs.scheduler import run_job

    codes = [code] if code else [c for c, _ in pull_orders.schedule().values()]
    if not codes:
        raise click.ClickException("no enabled channel to poll")
    failed = False
    for channel_code in codes:
        run = run_job(current_app._get_current_object(), f"pull_orders:{channel_code}",
                      pull_orders.run, channel_code)
        if run is None:
            click.echo(f"{channel_code}: skipped (locked by another poller, disabled or unknown)")
            continue
        click.echo(f"{channel_code}: {run.status} — fetched {run.fetched}, created {run.created}, "
                   f"updated {run.updated}, unchanged {run.unchanged}, conflicts {run.conflicts}, "
                   f"errors {run.errors}")
        failed = failed or run.status == "failed"
    if failed:
        sys.exit(1)


@oms.command("sync-listings")
@click.option("--channel", "code", default=None, help="Only this channel (its code).")
@with_appcontext
def sync_listings_command(code):
    """Read the channels' products and variants into listings now (each under its job lock)."""
    from jobs import sync_listings

    _per_channel([code] if code else sync_listings.codes(), "sync_listings", sync_listings.run,
                 lambda run: f"{run.fetched} listings, {run.created} new, {run.conflicts} unmatched")


@oms.command("pull-returns")
@click.option("--channel", "code", default=None, help="Only this channel (its code).")
@with_appcontext
def pull_returns_command(code):
    """Read the returns of the channels that run their own (Amazon) now (each under its job lock)."""
    from jobs import pull_returns

    _per_channel([code] if code else pull_returns.codes(), pull_returns.JOB, pull_returns.run,
                 lambda run: f"{run.fetched} returned items, {run.created} new returns, {run.conflicts} skipped")


def _per_channel(codes, job: str, fn, figures) -> None:
    """Run a channel job for each channel under its job lock; exit 1 when one failed."""
    from jobs.scheduler import run_job

    failed = False
    for channel_code in codes:
        run = run_job(current_app._get_current_object(), f"{job}:{channel_code}", fn, channel_code)
        if run is None:
            click.echo(f"{channel_code}: skipped (locked, disabled or unknown)")
            continue
        click.echo(f"{channel_code}: {run.status} — {figures(run)}"
                   + (f" ({run.error_message})" if run.error_message else ""))
        failed = failed or run.status == "failed"
    if failed:
        sys.exit(1)


@oms.command("scheduler")
@with_appcontext
def scheduler():
    """Run the job scheduler in this process (production: exactly one such process)."""
    from jobs.scheduler import start_scheduler

    click.echo("scheduler running; Ctrl-C stops it")
    start_scheduler(current_app._get_current_object(), blocking=True)


@oms.command("allocate")
@with_appcontext
def allocate():
    """Allocate every order that waits for stock or has not been allocated yet."""
    from jobs import allocate_backorders

    changed = allocate_backorders.run()
    click.echo(f"{changed} order(s) changed status")


@oms.command("sla-watch")
@with_appcontext
def sla_watch_command():
    """Flag orders at risk (within sla_warning_hours of ship-by) and late."""
    from jobs import sla_watch

    counts = sla_watch.run()
    click.echo(f"{counts['at_risk']} at risk, {counts['late']} late, {counts['cleared']} cleared")


@oms.command("track")
@click.option("--carrier", "carrier", default=None, help="A carrier account code or kind (ups, easypost).")
@with_appcontext
def track(carrier):
    """One tracking pass: ask the carriers about open shipments that are due a look."""
    from jobs import poll_tracking
    from jobs.scheduler import run_job

    summary = run_job(current_app._get_current_object(), poll_tracking.NAME, poll_tracking.run, carrier)
    if summary is None:
        click.echo("track: skipped (another run holds the lock) or failed: see the log")
        return
    click.echo(f"track: {summary.line()}")
    for error in summary.errors:
        click.echo(f"  {error}")


@oms.command("push-stock")
@click.option("--channel", "code", default=None, help="Only this channel (its code).")
@with_appcontext
def push_stock(code):
    """Push every matched listing's stock (its ATP) to the channels now."""
    from jobs import push_stock as job

    try:
        queued, left = job.run(code)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"push-stock: {queued} listing(s) queued, {left} still pending"
               + (" (held back by a channel's limits or failures: see Channels & Sync → Outbox)" if left else ""))


@oms.command("stock-drift")
@click.option("--channel", "code", default=None, help="Only this channel (its code).")
@with_appcontext
def stock_drift_command(code):
    """Read back what each channel shows and open stock_drift conflicts (one job pass)."""
    from jobs import stock_drift

    _per_channel([code] if code else stock_drift.codes(), "stock_drift", stock_drift.run,
                 lambda run: f"{run.fetched} listings read, {run.conflicts} drift conflict(s) opened")


@oms.command("send-outbox")
@with_appcontext
def send_outbox():
    """Deliver the outbox messages that are due, once (one pass of the send_outbox job)."""
    from jobs import send_outbox as job
    from jobs.scheduler import run_job

    summary = run_job(current_app._get_current_object(), job.NAME, job.run,
                      exclusive=job.exclusive)
    if summary is None:
        click.echo("send-outbox: skipped (another runner holds the lease) or failed: see the log")
        return
    click.echo(f"send-outbox: {summary.status} — {summary.line()}")
    for error in summary.errors:
        click.echo(f"  {error}")
