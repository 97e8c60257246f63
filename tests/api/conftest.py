"""Helpers for the REST API tests: a JSON client per role, a query counter, and a small
world (two warehouses, products with stock, a channel, orders) made through the services."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.extensions import db


def isolated(app, client, method, url, **kw):
    """One request in its own app context, as in production. (Inside the tests' outer app
    context Flask would reuse that context — and its ``g``, where FAB, Flask-Login and
    Flask-JWT-Extended keep the signed-in user — for every request of a test.)
    The test's own session ends its transaction before and after, so each side sees what
    the other committed (SQLite keeps a snapshot per transaction)."""
    db.session.commit()
    with app.app_context():
        response = client.open(url, method=method, **kw)
    db.session.commit()
    return response


class Api:
    """``api.get("/api/v1/order/", as_="support")`` -> response (JWT of that user)."""

    def __init__(self, app, api_headers):
        self.app = app
        self.client = app.test_client()
        self._headers = api_headers

    def headers(self, as_):
        return dict(self._headers(as_)) if as_ else {}

    def open(self, method, url, as_="admin", headers=None, **kw):
        return isolated(self.app, self.client, method, url,
                        headers={**self.headers(as_), **(headers or {})}, **kw)

    def get(self, url, as_="admin", **kw):
        return self.open("GET", url, as_, **kw)

    def post(self, url, json=None, as_="admin", **kw):
        return self.open("POST", url, as_, json=json, **kw)

    def put(self, url, json=None, as_="admin", **kw):
        return self.open("PUT", url, as_, json=json, **kw)

    def delete(self, url, as_="admin", **kw):
        return self.open("DELETE", url, as_, **kw)


@pytest.fixture(scope="session")
def _jwt_cache():
    return {}


@pytest.fixture
def jwt_headers(app, _jwt_cache):
    """Like conftest's api_headers, but one sign-in per user for the whole run (a password
    check costs a scrypt hash; tokens live 15 minutes)."""
    from tests.conftest import PASSWORD

    def make(username: str) -> dict:
        if username not in _jwt_cache:
            response = isolated(app, app.test_client(), "POST", "/api/v1/security/login", json={
                "username": username, "password": PASSWORD.format(role=username),
                "provider": "db", "refresh": False})
            assert response.status_code == 200, response.get_data(as_text=True)
            _jwt_cache[username] = {"Authorization": f"Bearer {response.json['access_token']}"}
        return _jwt_cache[username]
    return make


@pytest.fixture
def api(app, jwt_headers):
    return Api(app, jwt_headers)


class CookieClient:
    """A browser session (cookie login through the HTML form) for the API."""

    def __init__(self, app, client):
        self.app, self.client, self.csrf_token = app, client, client.csrf_token

    def open(self, method, url, **kw):
        return isolated(self.app, self.client, method, url, **kw)

    def get(self, url, **kw):
        return self.open("GET", url, **kw)

    def post(self, url, **kw):
        return self.open("POST", url, **kw)


@pytest.fixture
def browser(app, client_for):
    """browser("support") -> CookieClient signed in as that user."""
    return lambda username: CookieClient(app, client_for(username))


def assert_error(response, status, field=None, code=None):
    """The DESIGN.md error body, with the field named when given."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"message", "code", "errors"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    if field is not None:
        assert field in body["errors"], body
        assert all(isinstance(m, str) for m in body["errors"][field])
    if code is not None:
        assert body["code"] == code, body
    return body


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, _conn, _cursor, statement, *_args):
        self.statements.append(statement)

    def domain(self) -> list[str]:
        """Statements on Waybill's tables (FAB's permission checks and BEGIN left out)."""
        return [s for s in self.statements
                if "ab_" not in s and s.split()[0].upper() in ("SELECT", "INSERT", "UPDATE",
                                                               "DELETE", "WITH")]


@pytest.fixture
def count_queries(app):
    @contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
    return counting


class World:
    pass


@pytest.fixture
def world(make):
    """Two warehouses, two products with stock, a channel, one allocated order."""
    w = World()
    w.wh1 = make.warehouse("WH1", priority=10)
    w.wh2 = make.warehouse("WH2", priority=20)
    w.p1 = make.product("SKU-1", stock={w.wh1: 10})
    w.p2 = make.product("SKU-2", stock={w.wh1: 5, w.wh2: 5})
    w.channel = make.channel("shop")
    w.order = make.order(w.channel, [("sku-1", 2, "9.99"), ("SKU-2", 1, "5.00")])
    w.order_id = w.order.id
    w.make = make
    return w
