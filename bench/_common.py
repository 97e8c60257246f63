"""What the PostgreSQL benchmarks share (run as scripts: bench/ is on sys.path)."""
from __future__ import annotations

from sqlalchemy import create_engine, text


def fresh_database(url: str) -> None:
    """Drop and create the benchmark's own database (never the test or app database)."""
    base, name = url.rsplit("/", 1)
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
