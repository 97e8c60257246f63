"""a warehouse's label printer on the network: ZPL labels are sent to it (host:port, raw
TCP as Zebra printers take them on port 9100) through the outbox (services/fulfilment/printing.py).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 10:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('printer_address', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_column('printer_address')
