"""channels.api_version: the API version a channel's connector reads (Amazon: the Orders API
2026-01-01 by default, v0 as a fallback until Amazon removes it); empty is the default.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_version', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('api_version')
