"""Writing the plain column changes of many ORM objects in one statement.

The unit of work writes every changed row of a versioned table (orders) with an UPDATE of
its own, because SQLAlchemy checks a version per row; an allocation batch of a thousand
orders would be a thousand round trips. ``update_rows`` writes them all in one statement
(PostgreSQL: ``UPDATE ... FROM unnest(arrays)``; elsewhere one executemany), with the same
version check (``WHERE version = :seen``, the row count compared with the number of
rows). ``write_column_changes`` does that for ORM objects and marks them as saved so the
flush skips them; objects with other pending changes are left to the unit of work.
``insert_rows`` is the same for new rows (COPY on PostgreSQL); ``insert_many`` too, where
rows that conflict are skipped or the new ids are wanted back (a tracking batch's events).
"""
from __future__ import annotations

import operator
from datetime import datetime

import orjson

from sqlalchemy import ARRAY, JSON, String, TypeDecorator, bindparam, inspect, insert, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app.models.base import utcnow


def write_column_changes(session: Session, objects, columns: frozenset[str]) -> int:
    """Persist the pending changes of ``columns`` on ``objects`` (one mapped class) when
    those are all they have pending. Returns how many rows were written. No commit."""
    objects = [obj for obj in objects if _only_changed(obj, columns)]
    if not objects:
        return 0
    mapper = inspect(objects[0]).mapper
    (pk,) = mapper.primary_key
    version = mapper.version_id_col
    keys = [pk.key] + ([version.key] if version is not None else []) + sorted(columns)
    now = update_rows(session, mapper.local_table, [
        {key: getattr(obj, key) for key in keys} for obj in objects])
    stamped = _stamped(mapper.local_table, columns)
    for obj in objects:
        for key in stamped:
            set_committed_value(obj, key, now)
        if version is not None:
            set_committed_value(obj, version.key, getattr(obj, version.key) + 1)
        state = inspect(obj)
        # What the unit of work does after writing a row: the object is clean again.
        state._commit_all(state.dict, session.identity_map)
    return len(objects)


def update_rows(session: Session, table, rows: list[dict]):
    """UPDATE many rows of ``table``, each row a dict of its primary key, its version (for
    a versioned table: the version it was read at, and the row is written only if it is
    still that one; the version goes up by one) and the new values of the same columns.
    Columns with an ``onupdate`` (updated_at) are stamped. Raises StaleDataError when a
    row was changed meanwhile. Returns the time stamped. No commit."""
    now = utcnow()
    if not rows:
        return now
    keys = list(rows[0])
    stamped = _stamped(table, keys)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        written = _update_from_arrays(conn, table, keys, rows, stamped, now)
    else:
        written = _update_many(conn, table, keys, rows, stamped, now)
    if written is not None and written != len(rows):
        raise StaleDataError(f"{table.name}: {len(rows) - written} row(s) were "
                             "changed by another transaction")
    return now


def _stamped(table, columns) -> list[str]:
    return [c.key for c in table.columns if c.onupdate is not None and c.key not in columns]


def _where_keys(table) -> list[str]:
    """The primary key, and the version column of a versioned table (``version``)."""
    (pk,) = table.primary_key.columns
    return [pk.key] + (["version"] if "version" in table.c else [])


def _update_many(conn, table, keys, rows, stamped, now) -> int | None:
    """One UPDATE executed for every row (executemany). Returns the rows matched, or None
    where the driver cannot count them."""
    where = _where_keys(table)
    stmt = table.update().where(*(table.c[k] == bindparam(f"k_{k}") for k in where))
    values = {key: bindparam(f"v_{key}") for key in keys if key not in where}
    values.update({key: now for key in stamped})
    if "version" in where:
        values["version"] = table.c.version + 1
    params = [{(f"k_{k}" if k in where else f"v_{k}"): v for k, v in row.items()}
              for row in rows]
    result = conn.execute(stmt.values(values), params)
    return result.rowcount if conn.dialect.supports_sane_multi_rowcount else None


def _update_from_arrays(conn, table, keys, rows, stamped, now) -> int:
    """PostgreSQL: one statement for all rows, ``UPDATE ... FROM unnest(arrays)``: one
    parse, one plan and one round trip instead of one execution per row (an allocation
    batch changes a thousand orders). Returns the rows matched."""
    where = _where_keys(table)
    arrays = ", ".join(f"CAST(:a_{k} AS {table.c[k].type.compile(conn.dialect)}[])" for k in keys)
    sets = [f'"{table.c[k].name}" = v.{k}' for k in keys if k not in where]
    sets += [f'"{table.c[k].name}" = :now' for k in stamped]
    if "version" in where:
        sets.append('"version" = t."version" + 1')
    statement = text(
        f'UPDATE "{table.name}" AS t SET {", ".join(sets)} '
        f'FROM unnest({arrays}) AS v({", ".join(keys)}) '
        f'WHERE {" AND ".join(f"t.{table.c[k].name} = v.{k}" for k in where)}'
    )
    params, binds = {}, []
    for k in keys:
        values = [row[k] for row in rows]
        literal = _array_literal(values)
        params[f"a_{k}"] = values if literal is None else literal
        binds.append(bindparam(f"a_{k}", type_=ARRAY(table.c[k].type) if literal is None
                               else String()))
    if stamped:
        params["now"] = now
        binds.append(bindparam("now", type_=table.c[stamped[0]].type))
    return conn.execute(statement.bindparams(*binds), params).rowcount


def _array_literal(values: list) -> str | None:
    """A PostgreSQL array literal ('{1,2,NULL}', '{"a","b"}') for a list of ints, of
    strings or of aware datetimes, built at C speed (the driver adapts a list element by element in Python);
    None for other types, which are bound as an ARRAY."""
    if all(type(v) is int or v is None for v in values):
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    if all(type(v) is str or v is None for v in values):
        return "{" + ",".join("NULL" if v is None else
                              '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                              for v in values) + "}"
    if all(v is None or (type(v) is datetime and v.tzinfo is not None) for v in values):
        # aware times as ISO text (with their offset) for a timestamptz[]: a tracking
        # batch binds thousands, and a driver adapts a list of datetimes one by one
        return "{" + ",".join("NULL" if v is None else '"' + v.isoformat() + '"' for v in values) + "}"
    return None


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
    columns = ", ".join(f'"{table.c[k].name}"' for k in keys)
    converters = [(i, f) for i, k in enumerate(keys)
                  if (f := _copy_converter(table.c[k].type, conn.dialect)) is not None]
    values_of = operator.itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    driver = conn.connection.driver_connection  # psycopg, in this transaction
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = list(values_of(row))
                for i, convert in converters:
                    if values[i] is not None:
                        values[i] = convert(values[i])
                copy.write_row(values)
    except conn.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would raise it
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def insert_many(session: Session, table, rows: list[dict], *, returning: tuple[str, ...] = (),
                conflict: tuple[str, ...] = (), conflict_where: str | None = None) -> list:
    """INSERT many rows (every row with the same keys) in one statement, in their order (ids
    ascending), skipping those that conflict with a row already there on the unique index of
    ``conflict`` (``conflict_where``: a partial index's predicate, as SQL); returns the
    ``returning`` columns of the rows inserted (in no set order). PostgreSQL: ``INSERT ... SELECT FROM
    unnest(arrays)``, one statement of one parameter per column however many rows (a
    multi-row VALUES of thousands of parameters is converted anew by psycopg on every run:
    1.3 s of a 2,000-shipment tracking pass). Elsewhere executemany. No commit."""
    if not rows:
        return []
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        statement = (sqlite.insert(table) if conn.dialect.name == "sqlite" else insert(table))
        if conflict:
            statement = statement.on_conflict_do_nothing(
                index_elements=list(conflict), index_where=text(conflict_where) if conflict_where else None)
        if not returning:
            conn.execute(statement, rows)
            return []
        return conn.execute(statement.returning(*(table.c[k] for k in returning)), rows).all()
    keys = list(rows[0])
    arrays = ", ".join(f"CAST(:a_{k} AS {table.c[k].type.compile(conn.dialect)}[])" for k in keys)
    names = ", ".join(f'"{table.c[k].name}"' for k in keys)
    sql = (f'INSERT INTO "{table.name}" ({names}) SELECT {", ".join(f"v.{k}" for k in keys)} '
           f'FROM unnest({arrays}) WITH ORDINALITY AS v({", ".join(keys)}, n) ORDER BY v.n')
    if conflict:
        sql += f' ON CONFLICT ({", ".join(conflict)})' + (f" WHERE {conflict_where}" if conflict_where else "")
        sql += " DO NOTHING"
    if returning:
        sql += f' RETURNING {", ".join(table.c[k].name for k in returning)}'
    params, binds = {}, []
    for k in keys:
        column_type = table.c[k].type
        values = [row[k] for row in rows]
        if isinstance(column_type, JSON):
            values = [None if v is None else _json_text(v) for v in values]
        literal = _array_literal(values)
        params[f"a_{k}"] = values if literal is None else literal
        binds.append(bindparam(f"a_{k}", type_=ARRAY(column_type) if literal is None else String()))
    statement = text(sql).bindparams(*binds)
    if not returning:
        conn.execute(statement, params)
        return []
    return conn.execute(statement.columns(*(table.c[k] for k in returning)), params).all()


def _json_text(value) -> str:
    """JSON as COPY takes it. orjson: a batch serializes thousands of decision records and
    event payloads, several times quicker than the json module (same JSON, compact)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _copy_converter(type_, dialect):
    """What SQLAlchemy would do to a value before binding it, for the types we use: COPY
    takes plain values, so JSON is serialized and TypeDecorators (UTCDateTime) applied."""
    if isinstance(type_, TypeDecorator):
        last = [None, None]  # a batch's rows share one timestamp: convert it once

        def convert(value):
            if value is not last[0]:
                last[0], last[1] = value, type_.process_bind_param(value, dialect)
            return last[1]
        return convert
    if isinstance(type_, JSON):
        return _json_text
    return None


def _only_changed(obj, columns: frozenset[str]) -> bool:
    state = inspect(obj)
    if not state.persistent:
        return False
    changed = set(state.committed_state)
    return bool(changed) and changed <= columns
