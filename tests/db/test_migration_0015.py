"""Migration 0015 moves shipment statuses to DESIGN.md's vocabulary (pending -> label_created,
returned -> returned_to_sender, cancelled -> voided) and back on downgrade. Run with
``flask db`` on a throwaway SQLite file (the schema path is the same on PostgreSQL)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import is_postgres

ROOT = Path(__file__).resolve().parents[2]


def flask_db(tmp_path, *args):
    env = dict(os.environ, OMS_INSTANCE_DIR=str(tmp_path), OMS_DATABASE_URL=f"sqlite:///{tmp_path}/m.db",
               OMS_SCHEDULER="off")
    env.pop("OMS_TEST_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def insert(db, table: str, values: dict) -> None:
    """Row 1 of a table: the given values, and for every other NOT NULL column without a
    default a plain one (a date for *_at, else 0)."""
    for _, name, type_, notnull, default, pk in db.execute(f"PRAGMA table_info({table})"):
        if notnull and default is None and not pk and name not in values:
            values[name] = "2026-01-01 00:00:00" if name.endswith("_at") else 0
    db.execute(f"INSERT INTO {table} (id, {', '.join(values)}) VALUES (1, {', '.join('?' * len(values))})",
               list(values.values()))


@pytest.mark.skipif(is_postgres(), reason="one run is enough: the SQL is the same")
def test_shipment_statuses_migrate_both_ways(tmp_path):
    flask_db(tmp_path, "upgrade", "0014")
    db = sqlite3.connect(tmp_path / "m.db")
    insert(db, "channels", {"code": "c", "name": "c", "kind": "manual"})
    insert(db, "orders", {"channel_id": 1, "external_id": "E1", "order_number": "#1", "currency": "USD",
                          "status": "shipped", "financial_status": "paid", "fulfillment_status": "fulfilled"})
    for n, status in enumerate(("pending", "returned", "cancelled", "in_transit"), start=1):
        db.execute("INSERT INTO shipments (id, order_id, status, created_by, created_at) "
                   "VALUES (?, 1, ?, 'system', '2026-01-01')", (n, status))
    db.commit()
    db.close()
    flask_db(tmp_path, "upgrade")
    db = sqlite3.connect(tmp_path / "m.db")
    assert [r[0] for r in db.execute("SELECT status FROM shipments ORDER BY id")] == [
        "label_created", "returned_to_sender", "voided", "in_transit"]
    db.close()
    flask_db(tmp_path, "downgrade", "0014")
    db = sqlite3.connect(tmp_path / "m.db")
    assert [r[0] for r in db.execute("SELECT status FROM shipments ORDER BY id")] == [
        "label_created", "returned", "cancelled", "in_transit"]
