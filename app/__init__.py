"""The Waybill application factory.

``create_app`` only calls small ``init_*`` steps (Airflow's wiring); each step is one
concern and can be read on its own. A new ``AppBuilder`` is made per app (FAB_NOTES 3.1).
"""
from __future__ import annotations

import logging
import os
import sqlite3

from flask import Flask
from flask_appbuilder import AppBuilder
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import csrf, db, migrate

log = logging.getLogger(__name__)


def create_app(config_object: str = "config", **overrides) -> Flask:
    app = Flask(__name__, instance_path=_instance_path())
    init_config(app, config_object, overrides)
    init_logging(app)
    init_database(app)
    init_domain_events(app)
    csrf.init_app(app)  # before FAB: it exempts API blueprints only if CSRF is set up
    init_security_headers(app)
    with app.app_context():
        init_appbuilder(app)
        init_webhooks(app)
        init_error_handlers(app)
        init_request_guard(app)
        init_cli(app)
    return app


def _instance_path() -> str:
    from config import INSTANCE_DIR

    return str(INSTANCE_DIR)


def init_config(app: Flask, config_object: str, overrides: dict) -> None:
    app.config.from_object(config_object)
    app.config.update(overrides)
    if "OMS_DATABASE_URL" in overrides and "SQLALCHEMY_DATABASE_URI" not in overrides:
        app.config["SQLALCHEMY_DATABASE_URI"] = overrides["OMS_DATABASE_URL"]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault(
            "connect_args", {"timeout": app.config["OMS_SQLITE_BUSY_TIMEOUT"]}
        )


def init_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=os.environ.get("OMS_LOG_LEVEL", "INFO"),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # "Initializing AppBuilder" twice per process, in every CLI command's output.
        logging.getLogger("flask_appbuilder.base").setLevel(logging.WARNING)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL (readers don't block the writer), foreign keys on, and transactions that
    SQLAlchemy controls: pysqlite's own implicit BEGIN breaks SAVEPOINTs, which the
    importer uses to quarantine one bad order without losing its page (SQLAlchemy's
    documented recipe, completed by ``_sqlite_begin``)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    if connection.dialect.name == "sqlite":
        from app.services.core.transaction import WRITE_INTENT

        connection.exec_driver_sql("BEGIN IMMEDIATE" if WRITE_INTENT.get() else "BEGIN")


def init_database(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"),
                     render_as_batch=True, compare_type=True)
    from . import models  # noqa: F401  (registers every table on Model.metadata)


def init_security_headers(app: Flask) -> None:
    """CSP (nonce-based, FAB's templates carry the nonce), frame-ancestors, nosniff,
    Referrer-Policy on every response (app/security/headers.py)."""
    from .security.headers import init_security_headers as init

    init(app)


def init_appbuilder(app: Flask) -> None:
    from .api import register_apis
    from .views import register_views

    appbuilder = AppBuilder(update_perms=False)
    appbuilder.init_app(app, db.session)
    register_views(appbuilder)
    register_apis(appbuilder)
    if app.config.get("RATELIMIT_ENABLED") and "SecurityApi" in app.blueprints:
        # With a shared store (Redis) Flask-Limiter holds the per-address limit. FAB limits
        # only the HTML login form; the JSON login needs the same (FAB_NOTES). Without
        # one, app/services/core/logins.py holds it in the database.
        appbuilder.sm.limiter.limit(app.config["AUTH_RATE_LIMIT"], methods=["POST"])(
            app.blueprints["SecurityApi"]
        )


def init_domain_events(app: Flask) -> None:
    """The higher service packages subscribe to the lower ones' domain events
    (app/services/core/domain_events.py): stock available -> allocate, last hold released
    -> continue the pipeline, ..."""
    from app.services.channels import stock_push, writeback
    from app.services.fulfilment import labels, manifests, packing, printing
    from app.services.lifecycle import subscribers
    from app.services.returns import subscribers as return_subscribers
    from app.services.notify import alert_channels, alert_mail, alerts, customer_mail, return_mail, webhooks

    subscribers.register()
    return_subscribers.register()  # a return label's tracking -> the return in transit
    labels.register()  # the carrier.void outbox topic
    printing.register()  # the label.print outbox topic: ZPL to the warehouse's printer
    manifests.register()  # the carrier.manifest outbox topic; a refused close releases its shipments
    packing.register()  # a cancel or new address voids a live label
    alerts.register()  # outbox.dead -> an alert
    alert_channels.register()  # the notify.alert outbox topic
    webhooks.register()  # public events -> webhook.deliver messages; a dead one pauses
    stock_push.register()  # stock.changed -> channel.inventory messages, sent in batches
    writeback.register()  # shipments, cancels, refunds -> the channel.* outbox topics
    customer_mail.register()  # order and shipment events -> notify.customer mails
    return_mail.register()  # return.changed / return.label_ready -> return mails (label attached)
    alert_mail.register()  # the notify.alert_mail outbox topic


def init_webhooks(app: Flask) -> None:
    """Channel and carrier webhooks: outside FAB, CSRF-exempt, verified by signature; and
    the opt-out link of customer mails (public, reached by a signed link) and the self-service
    return page (public, CSRF-protected, rate-limited)."""
    from . import carrier_webhooks  # noqa: F401 — adds /webhooks/carriers/... to the blueprint
    from .mail_public import bp as mail_bp
    from .returns_public import bp as returns_bp
    from .webhooks import bp

    app.register_blueprint(bp)
    app.register_blueprint(mail_bp)
    app.register_blueprint(returns_bp)


def init_error_handlers(app: Flask) -> None:
    from .errors import register_error_handlers

    register_error_handlers(app)


def init_request_guard(app: Flask) -> None:
    """Ids, text and list arguments no query could use are refused before any view runs."""
    from . import request_guard

    request_guard.install(app)


def init_cli(app: Flask) -> None:
    from .cli import oms

    app.cli.add_command(oms)


def init_scheduler(app: Flask) -> None:
    """Run the job scheduler inside the web process when OMS_SCHEDULER is on (the demo).
    Called by the WSGI entry point (wsgi.py) only, never by CLI commands. Under Flask's
    reloader only the child process (WERKZEUG_RUN_MAIN) starts it."""
    if not app.config.get("OMS_SCHEDULER") or app.config.get("TESTING"):
        return
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return
    from jobs.scheduler import start_scheduler

    app.extensions["oms_scheduler"] = start_scheduler(app)
