"""ship-by per channel: a channel may promise its own number of business days and cut-off
hour, and its own days per shipping method ({"Express": 1}), over the shop-wide settings
(services/orders/ship_by.py). Empty: the settings.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 10:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ship_by_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sla_cutoff_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ship_by_methods', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('ship_by_methods')
        batch_op.drop_column('sla_cutoff_hour')
        batch_op.drop_column('ship_by_days')
