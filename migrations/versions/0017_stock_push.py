"""stock pushes (issue 20): a channel's stock rules beside its absolute buffer — a buffer in
percent, an optional cap, the warehouses that serve it (none: every active one) and, for a
channel with locations (Shopify), which of our warehouses stock each location; per listing what
the channel last showed when read back (quantity and time) and the per-location quantities last
pushed (the total and its time were already kept).

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-07 07:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stock_buffer_percent', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('stock_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stock_warehouse_ids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('location_warehouses', sa.JSON(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_channels_stock_buffer_percent_range'),
                                         'stock_buffer_percent >= 0 AND stock_buffer_percent <= 100')
        batch_op.create_check_constraint(op.f('ck_channels_stock_cap_non_negative'), 'stock_cap >= 0')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_pushed_locations', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('channel_quantity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('channel_read_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('listings', schema=None) as batch_op:
        for column in ('channel_read_at', 'channel_quantity', 'last_pushed_locations'):
            batch_op.drop_column(column)
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_channels_stock_cap_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_channels_stock_buffer_percent_range'), type_='check')
        for column in ('location_warehouses', 'stock_warehouse_ids', 'stock_cap', 'stock_buffer_percent'):
            batch_op.drop_column(column)
