"""manifests: a status — a carrier's close goes through the outbox (carrier.manifest), so a
manifest is `pending` until the carrier answers, `closed` then (every manifest so far), or
`refused` when the carrier refused it (its shipments wait for the next close).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 11:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='closed', nullable=False))
        batch_op.create_check_constraint(op.f('ck_manifests_status_valid'),
                                         "status IN ('pending', 'closed', 'refused')")


def downgrade():
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_manifests_status_valid'), type_='check')
        batch_op.drop_column('status')
