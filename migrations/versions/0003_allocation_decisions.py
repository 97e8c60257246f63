"""allocation decisions: the record of every routing decision (candidates, why each was
excluded, scores, the chosen plan) that the order page shows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('allocation_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('split', sa.Boolean(), nullable=False),
    sa.Column('chosen', sa.String(length=32), nullable=True),
    sa.Column('destination', sa.JSON(), nullable=True),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('backordered', sa.JSON(), nullable=False),
    sa.Column('shipments', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_allocation_decisions_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocation_decisions'))
    )
    with op.batch_alter_table('allocation_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_allocation_decisions_order_created', ['order_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('allocation_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_allocation_decisions_order_created')

    op.drop_table('allocation_decisions')
