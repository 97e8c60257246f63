"""Shared fixtures: one app per test session on a real database (SQLite by default,
PostgreSQL when OMS_TEST_DATABASE_URL is set), built by the real migrations and role
sync; domain tables are emptied after every test."""
from __future__ import annotations

import os
import re
import tempfile

# config.py reads these at import: point it at a throwaway instance folder first.
os.environ.setdefault("OMS_INSTANCE_DIR", tempfile.mkdtemp(prefix="waybill-test-"))
os.environ.setdefault("OMS_SCHEDULER", "off")

import pytest  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from flask import has_app_context  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.security.roles import ROLES  # noqa: E402

PG_URL = os.environ.get("OMS_TEST_DATABASE_URL")
PASSWORD = "correct-horse-{role}"


def is_postgres() -> bool:
    return bool(PG_URL)


def _fresh_database_url(tmp_dir: str) -> str:
    if not PG_URL:
        return f"sqlite:///{os.path.join(tmp_dir, 'test.db')}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:  # an empty schema: migrations build everything
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        # A test never outlives a crash of PostgreSQL itself, so its commits need not wait
        # for the disk (a crash of *our* processes, which the SIGKILL tests make, loses
        # nothing either way). Set on the database: the tests' subprocesses get it too.
        database = conn.execute(text("SELECT current_database()")).scalar()
        conn.execute(text(f'ALTER DATABASE "{database}" SET synchronous_commit = off'))
    engine.dispose()
    return PG_URL


def test_config(database_url: str) -> dict:
    return dict(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        OMS_DATABASE_URL=database_url,
        SECRET_KEY="test-secret-" + Fernet.generate_key().decode(),
        OMS_CREDENTIALS_KEY=Fernet.generate_key().decode(),
        OMS_ADMIN_USER="admin",
        OMS_ADMIN_PASSWORD=PASSWORD.format(role="admin"),
        AUTH_RATE_LIMITED=False,
        RATELIMIT_ENABLED=False,
        OMS_SCHEDULER=False,
        # tokens are cached per test session (tests/api/conftest.py): a slow machine runs the
        # suite past the production lifetime of 15 minutes
        JWT_ACCESS_TOKEN_EXPIRES=4 * 3600,
    )


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, like a real request.

    Tests keep one app context open (``_app_context``); a request would otherwise reuse it
    and its ``g``, where Flask-Login caches the signed-in user, so a second client would
    act as the first one's user.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        # The test's own session must not keep reading its old snapshot (SQLite WAL) nor
        # stale objects: end its transaction (it never holds uncommitted work here).
        if has_app_context():
            db.session.rollback()
        return response


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url = _fresh_database_url(str(tmp_path_factory.mktemp("db")))
    application = create_app(**test_config(url))
    import jinja2

    application.jinja_env.undefined = jinja2.StrictUndefined
    application.test_client_class = IsolatedClient
    with application.app_context():
        from flask_migrate import upgrade

        from app.security.manager import sync_roles
        from app.services.core import users

        upgrade()
        sync_roles(application.appbuilder)
        sm = application.appbuilder.sm
        users.ensure_admin(sm, "admin", PASSWORD.format(role="admin"))
        for role in ROLES:
            if role != "Admin":
                users.create_user(sm, role.lower(), role, PASSWORD.format(role=role.lower()),
                                  f"{role.lower()}@example.com")
        db.session.remove()
    yield application


DOMAIN_TABLES_SKIP_PREFIX = "ab_"


_PG_CLEANUP: dict = {}


def _empty_postgres_tables(tables) -> None:
    """TRUNCATE only the tables a test wrote to (one query finds them), then restart every
    id sequence: the same end state as truncating all of them, in a few milliseconds
    instead of most of a second (a TRUNCATE replaces each table's files)."""
    names = tuple(t.name for t in tables)
    if _PG_CLEANUP.get("names") != names:
        with db.engine.connect() as conn:
            sequences = [row[0] for row in conn.execute(text(" UNION ALL ".join(
                f"SELECT pg_get_serial_sequence('{t.name}', 'id')" for t in tables
                if "id" in t.c))) if row[0]]
        _PG_CLEANUP.update(names=names, probe=" UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in names),
            restart="SELECT " + ", ".join(f"setval('{seq}', 1, false)" for seq in sequences))
    with db.engine.begin() as conn:
        written = [row[0] for row in conn.execute(text(_PG_CLEANUP["probe"]))]
        if written:
            conn.execute(text(f"TRUNCATE {', '.join(written)} CASCADE"))
        conn.execute(text(_PG_CLEANUP["restart"]))


def _truncate_domain_tables():
    tables = [t for t in reversed(db.metadata.sorted_tables)
              if not t.name.startswith(DOMAIN_TABLES_SKIP_PREFIX)]
    if db.engine.dialect.name == "postgresql":
        _empty_postgres_tables(tables)
    else:
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _app_context(request, app):
    """Every test runs inside an app context and leaves the domain tables empty."""
    with app.app_context():
        yield
        db.session.remove()
        _truncate_domain_tables()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def user(app):
    """user("support") -> the FAB user of that role."""
    def get(name: str):
        return app.appbuilder.sm.find_user(username=name)
    return get


@pytest.fixture
def actor(user):
    from app.services.core.actor import Actor

    def make(name: str = "admin") -> Actor:
        return Actor.for_user(user(name))
    return make


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def login(client, username: str, password: str | None = None):
    page = client.get("/login/")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    response = client.post("/login/", data={
        "username": username, "password": password or PASSWORD.format(role=username),
        "csrf_token": token,
    })
    assert response.status_code == 302, f"login of {username} failed"
    client.csrf_token = token
    return client


@pytest.fixture
def client_for(app):
    """client_for("support") -> a test client signed in as that user (csrf_token set);
    client_for(None) -> an anonymous client."""
    def make(username: str | None):
        client = app.test_client()
        return login(client, username) if username else client
    return make


@pytest.fixture
def api_headers(app):
    """api_headers("support") -> Authorization headers with a JWT for that user."""
    cache = {}

    def make(username: str) -> dict:
        if username not in cache:
            client = app.test_client()
            response = client.post("/api/v1/security/login", json={
                "username": username, "password": PASSWORD.format(role=username),
                "provider": "db", "refresh": False,
            })
            assert response.status_code == 200, response.get_data(as_text=True)
            cache[username] = {"Authorization": f"Bearer {response.json['access_token']}"}
        return cache[username]
    return make


@pytest.fixture
def make(session, actor):
    from tests.factories import Factory

    return Factory(session, actor("admin"))
