"""Every Waybill setting, read from environment variables with safe defaults.

Flask loads this module with ``app.config.from_object``; ``create_app(**overrides)``
may replace any value (tests do). Secrets are never constants in the code: when
``OMS_SECRET_KEY`` / ``OMS_CREDENTIALS_KEY`` are unset they are generated once and
kept in ``instance/`` with mode 0600.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from flask_appbuilder.const import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("OMS_INSTANCE_DIR", BASE_DIR / "instance"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def instance_secret(filename: str, make) -> str:
    """Read a secret kept in instance/, creating it (mode 0600) on first use."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / filename
    if path.exists():
        return path.read_text().strip()
    value = make()
    # O_EXCL: two processes starting at once must not both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _default_database_url() -> str:
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'waybill.db'}"


# --- Waybill's own settings --------------------------------------------------
OMS_DATABASE_URL = os.environ.get("OMS_DATABASE_URL") or _default_database_url()
OMS_PORT = int(os.environ.get("OMS_PORT", "8080"))
OMS_SCHEDULER = _env_bool("OMS_SCHEDULER", False)
OMS_BASE_CURRENCY = os.environ.get("OMS_BASE_CURRENCY", "USD").upper()
OMS_ADMIN_USER = os.environ.get("OMS_ADMIN_USER", "admin")
OMS_ADMIN_PASSWORD = os.environ.get("OMS_ADMIN_PASSWORD") or None
OMS_CREDENTIALS_KEY = os.environ.get("OMS_CREDENTIALS_KEY") or instance_secret(
    "credentials.key", lambda: Fernet.generate_key().decode()
)
OMS_SQLITE_BUSY_TIMEOUT = int(os.environ.get("OMS_SQLITE_BUSY_TIMEOUT", "30"))
# Order list: no count beyond this many rows (counting 100k+ rows on every page is waste).
OMS_LIST_COUNT_CAP = int(os.environ.get("OMS_LIST_COUNT_CAP", "10000"))

# --- Flask / Flask-SQLAlchemy --------------------------------------------------
SECRET_KEY = os.environ.get("OMS_SECRET_KEY") or instance_secret(
    "secret.key", lambda: secrets.token_urlsafe(48)
)
SQLALCHEMY_DATABASE_URI = OMS_DATABASE_URL
SQLALCHEMY_TRACK_MODIFICATIONS = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _env_bool("OMS_SECURE_COOKIES", False)
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session

# FAB's generic file download route reads these; Waybill stores no uploads.
UPLOAD_FOLDER = str(INSTANCE_DIR / "uploads")
IMG_UPLOAD_FOLDER = str(INSTANCE_DIR / "uploads")

# Where the demo's channels find the sandbox (`flask oms sandbox`).
OMS_SANDBOX_URL = os.environ.get(
    "OMS_SANDBOX_URL", f"http://127.0.0.1:{os.environ.get('OMS_SANDBOX_PORT', '8099')}")

# Where carriers reach Waybill's webhooks (e.g. https://oms.example.com): with it, each UPS label's
# tracking numbers are subscribed to Track Alert (through the outbox, carrier.subscribe); without
# it, parcels are followed by polling only.
OMS_PUBLIC_URL = os.environ.get("OMS_PUBLIC_URL", "").rstrip("/")

# SQLite job leases: how long a killed scheduler can block a job (PostgreSQL's advisory
# locks end with the holder's connection).
OMS_JOB_LOCK_TTL = int(os.environ.get("OMS_JOB_LOCK_TTL", "60"))

# Options for every channel connector (tests shrink waits with a time scale).
OMS_CONNECTOR_OPTIONS = {
    key: cast(os.environ[name])
    for key, name, cast in (("time_scale", "OMS_CONNECTOR_TIME_SCALE", float),
                            ("page_size", "OMS_CONNECTOR_PAGE_SIZE", int))
    if os.environ.get(name)
}

# The outbox (app/services/core/outbox_sender.py): how often the send_outbox job runs,
# how many attempts before a message is dead, the backoff (doubling from BASE seconds up
# to CAP, with jitter; a Retry-After wins), claims per batch and sending threads per
# runner. OMS_OUTBOX_TIME_SCALE shrinks every wait (tests, benchmarks).
OMS_OUTBOX_INTERVAL = float(os.environ.get("OMS_OUTBOX_INTERVAL", "1"))
OMS_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OMS_OUTBOX_MAX_ATTEMPTS", "10"))
OMS_OUTBOX_BACKOFF_BASE = float(os.environ.get("OMS_OUTBOX_BACKOFF_BASE", "10"))
OMS_OUTBOX_BACKOFF_CAP = float(os.environ.get("OMS_OUTBOX_BACKOFF_CAP", "3600"))
OMS_OUTBOX_TIME_SCALE = float(os.environ.get("OMS_OUTBOX_TIME_SCALE", "1"))
OMS_OUTBOX_BATCH = int(os.environ.get("OMS_OUTBOX_BATCH", "200"))
OMS_OUTBOX_WORKERS = int(os.environ.get("OMS_OUTBOX_WORKERS", "8"))

# Outbound webhooks and alert channels (app/services/notify/): http://127.0.0.1 URLs only
# when this is set (development, tests); otherwise https to public addresses only. A
# receiver has OMS_WEBHOOK_TIMEOUT seconds to answer (DESIGN: a 2xx within 10 s).
OMS_WEBHOOKS_ALLOW_LOCAL_HTTP = _env_bool("OMS_WEBHOOKS_ALLOW_LOCAL_HTTP", False)
OMS_WEBHOOK_TIMEOUT = float(os.environ.get("OMS_WEBHOOK_TIMEOUT", "10"))

# Customer mails and alert mails (app/services/notify/customer_mail.py, connectors/mail.py):
# smtp+starttls://user:pass@host:587, smtps://user:pass@host:465 or smtp://host:25 (query:
# cafile=, timeout=). Unset: mails are kept in Waybill's mail log only (the demo).
# OMS_MAIL_FROM is the sender of channels without their own; OMS_PUBLIC_URL starts the
# opt-out link in every mail.
OMS_SMTP_URL = os.environ.get("OMS_SMTP_URL") or None
OMS_MAIL_FROM = os.environ.get("OMS_MAIL_FROM", "Waybill <no-reply@localhost>")
OMS_PUBLIC_URL = os.environ.get("OMS_PUBLIC_URL", f"http://localhost:{OMS_PORT}")
OMS_MAIL_PUBLIC_LIMIT = int(os.environ.get("OMS_MAIL_PUBLIC_LIMIT", "20"))  # opt-out page, a minute

# --- Flask-AppBuilder ------------------------------------------------------------
APP_NAME = "Waybill"
APP_THEME = ""
AUTH_TYPE = AUTH_DB
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
AUTH_USER_REGISTRATION = False
FAB_CREATE_DB = False  # Alembic owns every table (FAB_NOTES 3.2)
FAB_UPDATE_PERMS = False  # permissions are synced by `flask oms init`
FAB_API_SWAGGER_UI = True
FAB_ADD_SECURITY_API = False
FAB_API_KEY_ENABLED = True
FAB_API_KEY_PREFIXES = ["wb_"]
FAB_PASSWORD_HASH_METHOD = "scrypt"
FAB_API_MAX_PAGE_SIZE = 200
FAB_SECURITY_MANAGER_CLASS = "app.security.manager.WaybillSecurityManager"
FAB_INDEX_VIEW = "app.views.dashboard.WaybillIndexView"  # "/" leads to the dashboard
# Sign-in limits (app/services/core/logins.py). The per-address limit is held by Flask-Limiter
# when OMS_RATELIMIT_STORAGE_URI names a shared store (Redis); otherwise by the database's
# table of failed sign-ins, which every process shares (memory:// is per process).
AUTH_RATE_LIMITED = _env_bool("OMS_LOGIN_RATE_LIMITED", True)
AUTH_RATE_LIMIT = os.environ.get("OMS_LOGIN_RATE_LIMIT", "10 per 20 second")
RATELIMIT_STORAGE_URI = os.environ.get("OMS_RATELIMIT_STORAGE_URI", "memory://")
OMS_RATELIMIT_SHARED = RATELIMIT_STORAGE_URI.split(":", 1)[0].startswith(("redis", "rediss"))
RATELIMIT_ENABLED = AUTH_RATE_LIMITED and OMS_RATELIMIT_SHARED
OMS_LOGIN_LOCKOUT_FAILURES = int(os.environ.get("OMS_LOGIN_LOCKOUT_FAILURES", "5"))
OMS_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("OMS_LOGIN_LOCKOUT_SECONDS", "900"))
JWT_ACCESS_TOKEN_EXPIRES = int(os.environ.get("OMS_JWT_ACCESS_SECONDS", "900"))
