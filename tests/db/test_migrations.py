"""The Alembic history builds the whole schema, and the models agree with it."""
import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db


def test_models_and_migrations_agree(app):
    # The session's database was built by `flask db upgrade` (tests/conftest.py).
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "render_as_batch": True})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLite cannot reflect expression indexes
            diff = compare_metadata(context, db.metadata)
    assert diff == []


def index_names(table: str) -> set[str]:
    """Index names as the database lists them (expression indexes included, which
    SQLAlchemy's SQLite inspector leaves out)."""
    from sqlalchemy import text

    if db.engine.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE tablename = :t"
    with db.engine.connect() as connection:
        return set(connection.execute(text(sql), {"t": table}).scalars())


def test_schema_has_every_table_and_search_index(app):
    inspector = inspect(db.engine)
    tables = set(inspector.get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables
    order_indexes = index_names("orders")
    assert {"ix_orders_order_number", "ix_orders_external_id", "ix_orders_status_placed_at",
            "ix_orders_email_lower", "ix_orders_customer_name_lower",
            "ix_orders_email_domain"} <= order_indexes
    shipment_indexes = index_names("shipments")
    assert "ix_shipments_tracking_number" in shipment_indexes


def test_database_enforces_stock_constraints(app, make):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from app.models import StockLevel

    wh = make.warehouse()
    make.product("C-1", stock={wh: 2})
    level = db.session.query(StockLevel).one()
    level.reserved = 3  # more than on hand: the CHECK constraint refuses it
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
