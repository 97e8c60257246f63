"""rules and risk: orders keep the channel's risk signals, when they were screened (rules
on import + risk checks), a shipping-address key for the velocity check and the routing
rules asked for; rules are soft-deleted; each rule version says what changed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 08:13:51.411905

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_signals', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('screened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ship_address_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('routing', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_ship_address_key'), ['ship_address_key'], unique=False)

    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change', sa.String(length=16), nullable=True))

    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')

    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.drop_column('change')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_ship_address_key'))
        batch_op.drop_column('routing')
        batch_op.drop_column('ship_address_key')
        batch_op.drop_column('screened_at')
        batch_op.drop_column('risk_signals')
