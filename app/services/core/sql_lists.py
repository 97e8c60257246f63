"""``column IN (ids)`` for lists of ids that may be long (a batch's orders, levels, products).

psycopg turns a statement's ``%(name)s`` placeholders into ``$n`` once and caches the
result, but only for statements of at most 50 parameters and 4 KB (psycopg/_queries.py).
An IN list of a few hundred ids is one parameter each, so its statement was converted
again on every execution, at a cost above the query's own: 8% of the allocation
benchmark's CPU went to twenty such reads of a batch's stock levels. On PostgreSQL the
list is bound as one array instead (``column = ANY(:ids)``); SQLite takes the IN list.
"""
from __future__ import annotations

from sqlalchemy import Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def in_ids(session: Session, column, ids) -> object:
    """The condition ``column IN ids`` (ids: integers), as the session's database takes a
    long list best."""
    ids = list(ids)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    return column.in_(ids)
