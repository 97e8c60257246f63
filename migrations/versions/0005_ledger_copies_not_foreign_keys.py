"""the copies in the stock ledger and the allocations are no longer foreign keys:
stock_movements.warehouse_id and .product_id (the level's), allocations.order_id (the
line's order) and .warehouse_id (the level's). The level and the line stay foreign keys
and imply them; each check cost a lookup per inserted row (about 5 µs), and allocation
inserts two such rows per order line.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:15:00.000000

"""
import warnings

from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

DROPPED = [
    ('stock_movements', 'warehouse_id', 'warehouses'),
    ('stock_movements', 'product_id', 'products'),
    ('allocations', 'order_id', 'orders'),
    ('allocations', 'warehouse_id', 'warehouses'),
]


def upgrade():
    with warnings.catch_warnings():
        # SQLite's batch mode reflects the referenced tables too; their expression indexes
        # (lower(name)) cannot be reflected, and need not be: those tables are not rebuilt.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        for table, column, parent in DROPPED:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_constraint(f'fk_{table}_{column}_{parent}', type_='foreignkey')


def downgrade():
    for table, column, parent in DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(f'fk_{table}_{column}_{parent}', parent, [column], ['id'])
