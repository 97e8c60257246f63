"""listings synced from every channel: a listing is one sellable item on a channel, keyed by
the channel's own id (external_key), with the ids a stock push needs (inventory item, ASIN,
productType) and the channel's SKU and title; product_id is empty while unmatched (several
listings may now point at one product, and none at an unmatched one). channels.locations keeps
the channel's stock locations.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locations', sa.JSON(), nullable=True))
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_constraint('uq_listings_channel_id_product_id', type_='unique')
        batch_op.alter_column('product_id', existing_type=sa.Integer(), nullable=True)
        # the table was never written to before this revision: a key column needs no back-fill
        batch_op.add_column(sa.Column('external_key', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('inventory_item_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sku', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('title', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('asin', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('product_type', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('matched_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_listings_channel_id_external_key'),
                                          ['channel_id', 'external_key'])
        batch_op.create_index(batch_op.f('ix_listings_sku'), ['sku'], unique=False)
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.alter_column('external_key', existing_type=sa.String(length=128), server_default=None)


def downgrade():
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listings_sku'))
        batch_op.drop_constraint(batch_op.f('uq_listings_channel_id_external_key'), type_='unique')
        for column in ('synced_at', 'matched_by', 'product_type', 'asin', 'title', 'sku', 'inventory_item_id',
                       'external_key'):
            batch_op.drop_column(column)
        batch_op.alter_column('product_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_listings_channel_id_product_id', ['channel_id', 'product_id'])
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('locations')
