"""Helpers for the admin UI tests: a small shop built through the services, and a counter
of SQL statements."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from app.extensions import db

ROLES = ("admin", "support", "warehouse", "operations", "viewer")


@pytest.fixture
def shop(make):
    """One warehouse, two products, one channel, one allocated order."""
    wh = make.warehouse("WH1")
    p1 = make.product("SKU-1", stock={wh: 10})
    p2 = make.product("SKU-2", stock={wh: 5})
    channel = make.channel("shop")
    order = make.order(channel, [("sku-1", 2, "9.99")], email="ada@example.com",
                       name="Ada Lovelace")
    return type("Shop", (), dict(warehouse=wh, p1=p1, p2=p2, channel=channel, order=order))


class QueryCounter:
    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _record(self, _conn, _cursor, statement, *_args):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)

    def matching(self, pattern: str) -> list[str]:
        return [s for s in self.statements if re.search(pattern, s, re.I | re.S)]


@pytest.fixture
def count_queries():
    return lambda: QueryCounter(db.engine)


def post(client, url, data=None, **kwargs):
    """POST a form with the client's CSRF token."""
    return client.post(url, data={"csrf_token": client.csrf_token, **(data or {})}, **kwargs)


def flashes(response) -> str:
    return response.get_data(as_text=True)
