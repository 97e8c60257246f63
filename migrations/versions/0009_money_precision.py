"""money to the cent of every currency: amounts keep four decimals (KWD has three, CLF
four; they were rounded to two), unit prices six (Amazon sends a line's total, 17.95 for 2,
whose unit price 8.975 was stored as 8.98 and summed back to 17.96); a line keeps the
channel's own line total (order_lines.subtotal); an order its fees (gift wrap, COD fees,
fee lines: orders.fees_total) and the channel's itemised charges (orders.charges).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OLD = sa.Numeric(precision=14, scale=2)
MONEY = sa.Numeric(precision=16, scale=4)
UNIT_PRICE = sa.Numeric(precision=18, scale=6)

MONEY_COLUMNS = {
    'orders': ['subtotal', 'shipping_total', 'tax_total', 'discount_total', 'total', 'total_base'],
    'order_lines': ['tax', 'discount'],
    'refunds': ['amount'],
    'shipments': ['cost'],
    'products': ['price'],
}


def _sqlite_indexes(table):
    """{name: CREATE INDEX statement} of a table on SQLite (None elsewhere)."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return None
    rows = bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                "AND tbl_name = :t AND sql IS NOT NULL"), {'t': table})
    return dict(rows.fetchall())


def _restore_sqlite_indexes(table, before):
    """SQLite's batch mode rebuilds the table from what it can reflect, which leaves out
    expression indexes (lower(email), the allocation queue) and the WHERE of partial ones:
    every index the table had is put back exactly as it was written."""
    if before is None:
        return
    bind = op.get_bind()
    after = _sqlite_indexes(table)
    for name, sql in before.items():
        if after.get(name) != sql:
            bind.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))
            bind.execute(sa.text(sql))


def upgrade():
    for table, columns in MONEY_COLUMNS.items():
        indexes = _sqlite_indexes(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=OLD, type_=MONEY)
            if table == 'orders':
                batch_op.add_column(sa.Column('fees_total', MONEY, server_default='0', nullable=False))
                batch_op.add_column(sa.Column('charges', sa.JSON(), nullable=True))
            if table == 'order_lines':
                batch_op.alter_column('unit_price', existing_type=OLD, type_=UNIT_PRICE,
                                      existing_nullable=False)
                batch_op.add_column(sa.Column('subtotal', MONEY, nullable=True))
        _restore_sqlite_indexes(table, indexes)


def downgrade():
    for table, columns in MONEY_COLUMNS.items():
        indexes = _sqlite_indexes(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == 'orders':
                batch_op.drop_column('charges')
                batch_op.drop_column('fees_total')
            if table == 'order_lines':
                batch_op.drop_column('subtotal')
                batch_op.alter_column('unit_price', existing_type=UNIT_PRICE, type_=OLD,
                                      existing_nullable=False)
            for column in columns:
                batch_op.alter_column(column, existing_type=MONEY, type_=OLD)
        _restore_sqlite_indexes(table, indexes)
