"""Helpers for the REST API tests: a JSON client per role, a query counter, and a small
world (two warehouses, products with stock, a channel, orders) made through the services."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.extensions import db


class Api:
    """``api.get("/api/v1/order/", as_="support")`` -> response (JWT of that user)."""

    def __init__(self, app, api_headers):
        self.client = app.test_client()
        self._headers = api_headers

    def headers(self, as_):
        return self._headers(as_) if as_ else {}

    def get(self, url, as_="admin", **kw):
        return self.client.get(url, headers=self.headers(as_), **kw)

    def post(self, url, json=None, as_="admin", **kw):
        return self.client.post(url, json=json, headers=self.headers(as_), **kw)

    def put(self, url, json=None, as_="admin", **kw):
        return self.client.put(url, json=json, headers=self.headers(as_), **kw)

    def delete(self, url, as_="admin", **kw):
        return self.client.delete(url, headers=self.headers(as_), **kw)


@pytest.fixture
def api(app, api_headers):
    return Api(app, api_headers)


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
        """Statements on Waybill's tables (FAB's permission checks left out)."""
        return [s for s in self.statements if "ab_" not in s]


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
