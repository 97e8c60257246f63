"""A sign-in while another process writes (SQLite): the login waits its turn for the write
lock instead of failing with "database is locked".

FAB's login reads the user, then records the sign-in. On SQLite (WAL) a transaction that
began as a reader cannot write once another connection has committed since its snapshot:
the write fails at once, whatever the busy timeout. The test makes exactly that happen:
right after the login's first read of ab_user, another connection (a thread with its own
sqlite3 connection, standing for the scheduler) writes and commits.
"""
from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import event

from app.extensions import db
from tests.conftest import CSRF_RE, PASSWORD, is_postgres

pytestmark = pytest.mark.skipif(is_postgres(), reason="SQLite's single writer")


def _other_writer(path: str, outcome: dict) -> None:
    try:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE ab_user SET login_count = coalesce(login_count, 0) + 1 WHERE username = 'viewer'")
        conn.execute("COMMIT")
        conn.close()
        outcome["done"] = True
    except Exception as exc:  # noqa: BLE001 — reported to the test
        outcome["error"] = exc


@pytest.mark.parametrize("path", ["/login/", "/api/v1/security/login"])
def test_login_while_another_connection_writes_waits_instead_of_failing(app, path):
    database = db.engine.url.database
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    outcome: dict = {}
    writers: list[threading.Thread] = []

    def after_read(conn, cursor, statement, parameters, context, executemany):
        if writers or "FROM ab_user" not in statement or not statement.lstrip().startswith("SELECT"):
            return
        writer = threading.Thread(target=_other_writer, args=(database, outcome))
        writers.append(writer)
        writer.start()
        # Without the write lock the other connection commits at once, between the login's
        # read and its write; with it, it waits for the login to commit.
        writer.join(timeout=1.0)

    event.listen(db.engine, "after_cursor_execute", after_read)
    try:
        if path == "/login/":
            response = client.post(path, data={"username": "support", "csrf_token": token,
                                               "password": PASSWORD.format(role="support")})
            assert response.status_code == 302 and "/login" not in response.location
        else:
            response = client.post(path, json={"username": "support", "provider": "db",
                                               "password": PASSWORD.format(role="support")})
            assert response.status_code == 200 and response.get_json()["access_token"]
    finally:
        event.remove(db.engine, "after_cursor_execute", after_read)
    assert writers, "the login did not read ab_user"
    writers[0].join(timeout=10)
    assert outcome == {"done": True}  # the other writer got its turn right after
    user = app.appbuilder.sm.find_user(username="support")
    db.session.refresh(user)
    assert user.last_login is not None and user.login_count >= 1
