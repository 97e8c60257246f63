"""a carrier account's tracking API may live on its own host (DHL: the Unified Shipment
Tracking API at api-eu.dhl.com, labels at express.api.dhl.com): carrier_accounts.tracking_url,
empty for the base URL. Like the base URL, it is where credentials go: changing it needs them
entered again.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 11:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('carrier_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tracking_url', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('carrier_accounts', schema=None) as batch_op:
        batch_op.drop_column('tracking_url')
