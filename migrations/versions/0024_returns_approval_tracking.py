"""returns: refunds above the asker's limit wait for an Admin (refund statuses
pending_approval and rejected); a return label's parcel is tracked by the tracking pass
(its status, the time of its latest event, when to look again).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 10:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

NEW = "status IN ('pending_approval', 'pending', 'sent', 'succeeded', 'failed', 'rejected')"
OLD = "status IN ('pending', 'sent', 'succeeded', 'failed')"


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_refunds_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_refunds_status_valid'), NEW)
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parcel_status', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('parcel_event_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_track_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('returns', schema=None) as batch_op:
        for column in ('next_track_at', 'parcel_event_at', 'parcel_status'):
            batch_op.drop_column(column)
    # an approval nobody gave is no refund; a rejected one never was
    op.execute("DELETE FROM refunds WHERE status IN ('pending_approval', 'rejected')")
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_refunds_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_refunds_status_valid'), OLD)
