"""a partial index of the order lines waiting for stock, by product: the allocation queue
finds the backorders of products in stock from it, once per claim.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_order_lines_backordered', 'order_lines', ['product_id'], unique=False,
                    postgresql_where=sa.text('quantity_backordered > 0'),
                    sqlite_where=sa.text('quantity_backordered > 0'))


def downgrade():
    op.drop_index('ix_order_lines_backordered', table_name='order_lines')
