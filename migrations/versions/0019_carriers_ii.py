"""carriers II: FedEx, USPS and DHL accounts; shipping rules, the channel shipping-method map and
the carriers each warehouse may use (rate shopping, "why this carrier" on the shipment); box
presets; customs and packing data on products; carrier manifests.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 08:01:36.997609

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

OLD_KINDS = ('manual', 'ups', 'easypost')
NEW_KINDS = ('manual', 'ups', 'fedex', 'usps', 'dhl', 'easypost')


def upgrade():
    op.create_table('shipping_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('service_level', sa.String(length=16), nullable=True),
    sa.Column('countries', sa.JSON(), nullable=True),
    sa.Column('min_weight_kg', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('max_weight_kg', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('min_value', sa.Numeric(precision=16, scale=4), nullable=True),
    sa.Column('max_value', sa.Numeric(precision=16, scale=4), nullable=True),
    sa.Column('carriers', sa.JSON(), nullable=True),
    sa.Column('services', sa.JSON(), nullable=True),
    sa.Column('strategy', sa.String(length=16), nullable=False),
    sa.Column('use_promise', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("strategy IN ('cheapest', 'fastest')", name=op.f('ck_shipping_rules_strategy_valid')),
    sa.CheckConstraint('priority >= 0', name=op.f('ck_shipping_rules_priority_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_rules'))
    )
    op.create_table('box_presets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('length_cm', sa.Numeric(precision=10, scale=1), nullable=False),
    sa.Column('width_cm', sa.Numeric(precision=10, scale=1), nullable=False),
    sa.Column('height_cm', sa.Numeric(precision=10, scale=1), nullable=False),
    sa.Column('tare_kg', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('max_weight_kg', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.CheckConstraint('height_cm >= 0', name=op.f('ck_box_presets_height_cm_non_negative')),
    sa.CheckConstraint('length_cm >= 0', name=op.f('ck_box_presets_length_cm_non_negative')),
    sa.CheckConstraint('max_weight_kg >= 0', name=op.f('ck_box_presets_max_weight_kg_non_negative')),
    sa.CheckConstraint('tare_kg >= 0', name=op.f('ck_box_presets_tare_kg_non_negative')),
    sa.CheckConstraint('width_cm >= 0', name=op.f('ck_box_presets_width_cm_non_negative')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_box_presets_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_box_presets')),
    sa.UniqueConstraint('warehouse_id', 'name', name=op.f('uq_box_presets_warehouse_id_name'))
    )
    with op.batch_alter_table('box_presets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_box_presets_warehouse_id'), ['warehouse_id'], unique=False)

    op.create_table('manifests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('carrier_account_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('tracking_numbers', sa.JSON(), nullable=False),
    sa.Column('shipment_count', sa.Integer(), nullable=False),
    sa.Column('document', sa.LargeBinary(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('scan_form', 'ground_close', 'local')", name=op.f('ck_manifests_kind_valid')),
    sa.ForeignKeyConstraint(['carrier_account_id'], ['carrier_accounts.id'], name=op.f('fk_manifests_carrier_account_id_carrier_accounts')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_manifests_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifests'))
    )
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifests_carrier_account_id'), ['carrier_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifests_warehouse_id'), ['warehouse_id'], unique=False)

    op.create_table('shipping_method_maps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=128), nullable=False),
    sa.Column('service_level', sa.String(length=16), nullable=False),
    sa.Column('promise_days', sa.Integer(), nullable=True),
    sa.CheckConstraint("service_level IN ('standard', 'expedited', 'express', 'economy')", name=op.f('ck_shipping_method_maps_service_level_valid')),
    sa.CheckConstraint('promise_days >= 0', name=op.f('ck_shipping_method_maps_promise_days_non_negative')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_shipping_method_maps_channel_id_channels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_method_maps')),
    sa.UniqueConstraint('channel_id', 'method', name=op.f('uq_shipping_method_maps_channel_id_method'))
    )
    with op.batch_alter_table('shipping_method_maps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipping_method_maps_channel_id'), ['channel_id'], unique=False)

    op.create_table('warehouse_carriers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('carrier_account_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_account_id'], ['carrier_accounts.id'], name=op.f('fk_warehouse_carriers_carrier_account_id_carrier_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_warehouse_carriers_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouse_carriers')),
    sa.UniqueConstraint('warehouse_id', 'carrier_account_id', name=op.f('uq_warehouse_carriers_warehouse_id_carrier_account_id'))
    )
    with op.batch_alter_table('warehouse_carriers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warehouse_carriers_warehouse_id'), ['warehouse_id'], unique=False)

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hs_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('origin_country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('length_cm', sa.Numeric(precision=10, scale=1), nullable=True))
        batch_op.add_column(sa.Column('width_cm', sa.Numeric(precision=10, scale=1), nullable=True))
        batch_op.add_column(sa.Column('height_cm', sa.Numeric(precision=10, scale=1), nullable=True))

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate_decision', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('manifest_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_shipments_manifest_id'), ['manifest_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_shipments_manifest_id_manifests'), 'manifests', ['manifest_id'], ['id'])

    _carrier_kinds(NEW_KINDS)


def _carrier_kinds(kinds) -> None:
    with op.batch_alter_table('carrier_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_carrier_accounts_kind_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_carrier_accounts_kind_valid'),
                                         sa.text("kind IN (%s)" % ", ".join(f"'{k}'" for k in kinds)))


def downgrade():
    op.execute("DELETE FROM carrier_accounts WHERE kind IN ('fedex', 'usps', 'dhl')"
               " AND id NOT IN (SELECT carrier_account_id FROM shipments WHERE carrier_account_id IS NOT NULL)")
    _carrier_kinds(OLD_KINDS)
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_shipments_manifest_id_manifests'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_shipments_manifest_id'))
        batch_op.drop_column('manifest_id')
        batch_op.drop_column('rate_decision')

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('height_cm')
        batch_op.drop_column('width_cm')
        batch_op.drop_column('length_cm')
        batch_op.drop_column('origin_country')
        batch_op.drop_column('hs_code')

    with op.batch_alter_table('warehouse_carriers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warehouse_carriers_warehouse_id'))

    op.drop_table('warehouse_carriers')
    with op.batch_alter_table('shipping_method_maps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipping_method_maps_channel_id'))

    op.drop_table('shipping_method_maps')
    with op.batch_alter_table('manifests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifests_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_manifests_carrier_account_id'))

    op.drop_table('manifests')
    with op.batch_alter_table('box_presets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_box_presets_warehouse_id'))

    op.drop_table('box_presets')
    op.drop_table('shipping_rules')
