"""the warehouse floor: pick list lines, the pick list's filters and start, the SLA state and
on-time flag of orders, the warehouse's time zone and holidays.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 08:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pick_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filters', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('pick_list_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pick_list_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('allocation_id', sa.Integer(), nullable=False),
    sa.Column('stock_level_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('bin', sa.String(length=32), nullable=True),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('barcode', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('quantity_picked', sa.Integer(), nullable=False),
    sa.Column('quantity_short', sa.Integer(), nullable=False),
    sa.Column('quantity_packed', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_pick_list_lines_quantity_non_negative')),
    sa.CheckConstraint('quantity_picked >= 0', name=op.f('ck_pick_list_lines_quantity_picked_non_negative')),
    sa.CheckConstraint('quantity_short >= 0', name=op.f('ck_pick_list_lines_quantity_short_non_negative')),
    sa.CheckConstraint('quantity_packed >= 0', name=op.f('ck_pick_list_lines_quantity_packed_non_negative')),
    sa.ForeignKeyConstraint(['allocation_id'], ['allocations.id'], name=op.f('fk_pick_list_lines_allocation_id_allocations')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_pick_list_lines_order_id_orders')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_pick_list_lines_order_line_id_order_lines')),
    sa.ForeignKeyConstraint(['pick_list_id'], ['pick_lists.id'], name=op.f('fk_pick_list_lines_pick_list_id_pick_lists')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_pick_list_lines_product_id_products')),
    sa.ForeignKeyConstraint(['stock_level_id'], ['stock_levels.id'], name=op.f('fk_pick_list_lines_stock_level_id_stock_levels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pick_list_lines'))
    )
    with op.batch_alter_table('pick_list_lines', schema=None) as batch_op:
        batch_op.create_index('ix_pick_list_lines_list_order', ['pick_list_id', 'order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pick_list_lines_order_id'), ['order_id'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_state', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('shipped_on_time', sa.Boolean(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_sla_state'), ['sla_state'], unique=False)
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('holidays', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_column('holidays')
        batch_op.drop_column('timezone')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_sla_state'))
        batch_op.drop_column('shipped_on_time')
        batch_op.drop_column('sla_state')
    with op.batch_alter_table('pick_list_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pick_list_lines_order_id'))
        batch_op.drop_index('ix_pick_list_lines_list_order')
    op.drop_table('pick_list_lines')
    with op.batch_alter_table('pick_lists', schema=None) as batch_op:
        batch_op.drop_column('started_at')
        batch_op.drop_column('filters')
