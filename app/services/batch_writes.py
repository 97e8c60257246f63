"""Writing the plain column changes of many ORM objects in one statement.

The unit of work writes every changed row of a versioned table (orders) with an UPDATE of
its own, because SQLAlchemy checks a version per row; an allocation batch of a thousand
orders would be a thousand round trips. ``write_column_changes`` sends one executemany
UPDATE instead, with the same version check (``WHERE version = :seen``, the row count
compared with the number of rows), then marks the objects as saved so the flush skips
them. Objects with other pending changes are left to the unit of work.
"""
from __future__ import annotations

import json

from sqlalchemy import JSON, TypeDecorator, bindparam, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..models.base import utcnow


def write_column_changes(session: Session, objects, columns: frozenset[str]) -> int:
    """Persist the pending changes of ``columns`` on ``objects`` (one mapped class) when
    those are all they have pending. Returns how many rows were written. No commit."""
    objects = [obj for obj in objects if _only_changed(obj, columns)]
    if not objects:
        return 0
    mapper = inspect(objects[0]).mapper
    table = mapper.local_table
    (pk,) = mapper.primary_key
    version = mapper.version_id_col
    now = utcnow()
    stamped = [c.key for c in table.columns
               if c.onupdate is not None and c.key not in columns]  # updated_at
    values = {key: bindparam(f"v_{key}") for key in columns}
    values.update({key: bindparam(f"v_{key}") for key in stamped})
    stmt = table.update().where(pk == bindparam("k_id"))
    if version is not None:
        stmt = stmt.where(version == bindparam("k_version"))
        values[version.key] = version + 1
    rows = []
    for obj in objects:
        row = {"k_id": getattr(obj, pk.key), **{f"v_{k}": getattr(obj, k) for k in columns},
               **{f"v_{k}": now for k in stamped}}
        if version is not None:
            row["k_version"] = getattr(obj, version.key)
        rows.append(row)
    result = session.connection().execute(stmt.values(values), rows)
    if version is not None and session.get_bind().dialect.supports_sane_multi_rowcount \
            and result.rowcount != len(rows):
        raise StaleDataError(f"{table.name}: {len(rows) - result.rowcount} row(s) were "
                             "changed by another transaction")
    for obj in objects:
        for key in stamped:
            set_committed_value(obj, key, now)
        if version is not None:
            set_committed_value(obj, version.key, getattr(obj, version.key) + 1)
        state = inspect(obj)
        # What the unit of work does after writing a row: the object is clean again.
        state._commit_all(state.dict, session.identity_map)
    return len(rows)


COPY_FROM_ROWS = 50  # fewer rows are quicker as one executemany than as a COPY


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    """INSERT many rows (every row with the same keys): COPY on PostgreSQL, which takes a
    batch's thousands of rows in one stream, executemany for a few rows and elsewhere.
    No commit."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        conn.execute(table.insert(), rows)
        return
    keys = list(rows[0])
    convert = [_copy_converter(table.c[k].type, conn.dialect) for k in keys]
    columns = ", ".join(f'"{table.c[k].name}"' for k in keys)
    driver = conn.connection.driver_connection  # psycopg, in this transaction
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([value if f is None or value is None else f(value)
                                for f, value in zip(convert, (row[k] for k in keys))])
    except conn.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would raise it
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _copy_converter(type_, dialect):
    """What SQLAlchemy would do to a value before binding it, for the types we use: COPY
    takes plain values, so JSON is serialized and TypeDecorators (UTCDateTime) applied."""
    if isinstance(type_, TypeDecorator):
        return lambda value: type_.process_bind_param(value, dialect)
    if isinstance(type_, JSON):
        return json.dumps
    return None


def _only_changed(obj, columns: frozenset[str]) -> bool:
    state = inspect(obj)
    if not state.persistent:
        return False
    changed = set(state.committed_state)
    return bool(changed) and changed <= columns
