"""channel write-back: what was pushed to a channel per shipment (fulfilment) and per order
(cancel) and what the channel knows of it (channel_pushes); refunds gain the state `sent`,
where they come from (`source`: waybill or channel), their lines, shipping part, the
channel's error and when they last changed.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07 07:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=16, scale=4)


def upgrade():
    op.create_table(
        'channel_pushes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('remote_id', sa.String(length=255), nullable=True),
        sa.Column('tracking_number', sa.String(length=64), nullable=True),
        sa.Column('lines', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('fulfillment', 'cancel')", name=op.f('ck_channel_pushes_kind_valid')),
        sa.CheckConstraint("status IN ('pending', 'sent', 'confirmed', 'failed', 'cancelled')",
                           name=op.f('ck_channel_pushes_status_valid')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_channel_pushes_order_id_orders')),
        sa.ForeignKeyConstraint(['channel_id'], ['channels.id'],
                                name=op.f('fk_channel_pushes_channel_id_channels')),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'],
                                name=op.f('fk_channel_pushes_shipment_id_shipments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_pushes')),
    )
    op.create_index('ix_channel_pushes_order', 'channel_pushes', ['order_id', 'id'], unique=False)
    op.create_index('uq_channel_pushes_shipment', 'channel_pushes', ['kind', 'shipment_id'], unique=True)
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='waybill', nullable=False))
        batch_op.add_column(sa.Column('lines', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('shipping', MONEY, server_default='0', nullable=False))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_refunds_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_refunds_status_valid'), "status IN ('pending', 'sent', 'succeeded', 'failed')")
        batch_op.create_check_constraint(op.f('ck_refunds_source_valid'), "source IN ('waybill', 'channel')")
        batch_op.create_check_constraint(op.f('ck_refunds_shipping_non_negative'), 'shipping >= 0')
    # Refunds read from a channel carry its id; until now nothing was pushed, so those are
    # the channel's own.
    op.execute("UPDATE refunds SET source = 'channel' WHERE external_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_refunds_shipping_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_refunds_source_valid'), type_='check')
        batch_op.drop_constraint(op.f('ck_refunds_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_refunds_status_valid'), "status IN ('pending', 'succeeded', 'failed')")
        batch_op.drop_column('updated_at')
        batch_op.drop_column('error')
        batch_op.drop_column('shipping')
        batch_op.drop_column('lines')
        batch_op.drop_column('source')
    op.drop_index('uq_channel_pushes_shipment', table_name='channel_pushes')
    op.drop_index('ix_channel_pushes_order', table_name='channel_pushes')
    op.drop_table('channel_pushes')
