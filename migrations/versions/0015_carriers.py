"""carriers: carrier accounts (encrypted, write-only credentials), shipment status in DESIGN.md's
vocabulary (pending -> label_created, returned -> returned_to_sender, cancelled -> voided),
shipment packages, labels, carrier fields on tracking events (stored once per carrier, number,
time and code), delivery exceptions.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:10:00.000000

"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

TRACKING = ("pre_transit", "in_transit", "out_for_delivery", "available_for_pickup", "delivered",
            "failed_attempt", "exception", "returned_to_sender", "cancelled", "unknown")
NEW_STATUSES = ("label_created", "label_uncertain", "voided") + TRACKING
OLD_STATUSES = ("pending", "label_created", "in_transit", "out_for_delivery", "delivered", "exception",
                "returned", "cancelled")
FORWARD = {"pending": "label_created", "returned": "returned_to_sender", "cancelled": "voided"}


def _in(values) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _restatus(old_check, new_check, mapping: dict) -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_shipments_status_valid'), type_='check')
    connection = op.get_bind()
    for old, new in mapping.items():
        connection.execute(sa.text("UPDATE shipments SET status = :new WHERE status = :old"),
                           {"new": new, "old": old})
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_shipments_status_valid'), sa.text(new_check))


def upgrade():
    op.create_table(
        'carrier_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('base_url', sa.String(length=255), nullable=True),
        sa.Column('account_number', sa.String(length=32), nullable=True),
        sa.Column('label_format', sa.String(length=8), nullable=False),
        sa.Column('credentials_encrypted', sa.Text(), nullable=True),
        sa.Column('webhook_secret_encrypted', sa.Text(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('manual', 'ups', 'easypost')", name=op.f('ck_carrier_accounts_kind_valid')),
        sa.CheckConstraint("label_format IN ('PDF', 'ZPL')", name=op.f('ck_carrier_accounts_label_format_valid')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_carrier_accounts')),
        sa.UniqueConstraint('code', name=op.f('uq_carrier_accounts_code')),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table('shipments', schema=None) as batch_op:
            batch_op.add_column(sa.Column('carrier_account_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('label_reference', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('carrier_shipment_id', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('label_error', sa.Text(), nullable=True))
            batch_op.add_column(sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('promised_delivery', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('tracked_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('next_track_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.create_foreign_key(op.f('fk_shipments_carrier_account_id_carrier_accounts'),
                                        'carrier_accounts', ['carrier_account_id'], ['id'])
            batch_op.create_index(batch_op.f('ix_shipments_carrier_account_id'), ['carrier_account_id'])
            batch_op.create_index(batch_op.f('ix_shipments_next_track_at'), ['next_track_at'])
            batch_op.create_unique_constraint(op.f('uq_shipments_label_reference'), ['label_reference'])
        _restatus(_in(OLD_STATUSES), _in(NEW_STATUSES), FORWARD)
        with op.batch_alter_table('tracking_events', schema=None) as batch_op:
            batch_op.add_column(sa.Column('carrier', sa.String(length=32), nullable=True))
            batch_op.add_column(sa.Column('tracking_number', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('carrier_code', sa.String(length=32), nullable=True))
            batch_op.add_column(sa.Column('problem', sa.String(length=16), nullable=True))
            batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=True))
            batch_op.add_column(sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.create_unique_constraint('uq_tracking_events_carrier_event',
                                              ['carrier', 'tracking_number', 'occurred_at', 'carrier_code'])
    op.get_bind().execute(sa.text(
        "UPDATE tracking_events SET source = 'manual', "
        "tracking_number = (SELECT tracking_number FROM shipments WHERE shipments.id = tracking_events.shipment_id)"))
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_format', sa.String(length=8), nullable=True))
    op.create_table(
        'shipment_packages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('weight_kg', sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column('length_cm', sa.Numeric(precision=10, scale=1), nullable=False),
        sa.Column('width_cm', sa.Numeric(precision=10, scale=1), nullable=False),
        sa.Column('height_cm', sa.Numeric(precision=10, scale=1), nullable=False),
        sa.Column('tracking_number', sa.String(length=64), nullable=True),
        sa.CheckConstraint('weight_kg >= 0', name=op.f('ck_shipment_packages_weight_kg_non_negative')),
        sa.CheckConstraint('length_cm >= 0', name=op.f('ck_shipment_packages_length_cm_non_negative')),
        sa.CheckConstraint('width_cm >= 0', name=op.f('ck_shipment_packages_width_cm_non_negative')),
        sa.CheckConstraint('height_cm >= 0', name=op.f('ck_shipment_packages_height_cm_non_negative')),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'],
                                name=op.f('fk_shipment_packages_shipment_id_shipments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_packages')),
    )
    op.create_index(op.f('ix_shipment_packages_shipment_id'), 'shipment_packages', ['shipment_id'])
    op.create_table(
        'shipment_labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('carrier', sa.String(length=32), nullable=False),
        sa.Column('service', sa.String(length=64), nullable=True),
        sa.Column('tracking_number', sa.String(length=64), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=True),
        sa.Column('path', sa.String(length=255), nullable=True),
        sa.Column('cost', sa.Numeric(precision=16, scale=4), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=True),
        sa.Column('carrier_shipment_id', sa.String(length=64), nullable=True),
        sa.Column('package_tracking_numbers', sa.JSON(), nullable=True),
        sa.Column('recovered', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("format IN ('PDF', 'ZPL')", name=op.f('ck_shipment_labels_format_valid')),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'],
                                name=op.f('fk_shipment_labels_shipment_id_shipments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_labels')),
    )
    op.create_index(op.f('ix_shipment_labels_shipment_id'), 'shipment_labels', ['shipment_id'])
    op.create_table(
        'delivery_exceptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('problem', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('carrier_code', sa.String(length=32), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('contacted_by', sa.String(length=128), nullable=True),
        sa.Column('notes', sa.JSON(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_by', sa.String(length=128), nullable=True),
        sa.Column('resolution', sa.Text(), nullable=True),
        sa.CheckConstraint("problem IN ('failed_attempt', 'address', 'damage', 'delay', 'returned')",
                           name=op.f('ck_delivery_exceptions_problem_valid')),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_delivery_exceptions_status_valid')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_delivery_exceptions_order_id_orders')),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'],
                                name=op.f('fk_delivery_exceptions_shipment_id_shipments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_exceptions')),
    )
    op.create_index(op.f('ix_delivery_exceptions_order_id'), 'delivery_exceptions', ['order_id'])
    op.create_index(op.f('ix_delivery_exceptions_shipment_id'), 'delivery_exceptions', ['shipment_id'])
    op.create_index('ix_delivery_exceptions_status_opened', 'delivery_exceptions', ['status', 'opened_at'])


def downgrade():
    op.drop_table('delivery_exceptions')
    op.drop_table('shipment_labels')
    op.drop_table('shipment_packages')
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table('tracking_events', schema=None) as batch_op:
            batch_op.drop_constraint('uq_tracking_events_carrier_event', type_='unique')
            for column in ('received_at', 'source', 'problem', 'carrier_code', 'tracking_number', 'carrier'):
                batch_op.drop_column(column)
        back = {"label_uncertain": "pending", "voided": "cancelled", "returned_to_sender": "returned",
                "pre_transit": "label_created", "available_for_pickup": "out_for_delivery",
                "failed_attempt": "exception", "unknown": "in_transit"}
        _restatus(_in(NEW_STATUSES), _in(OLD_STATUSES), back)
        with op.batch_alter_table('shipments', schema=None) as batch_op:
            batch_op.drop_constraint(op.f('uq_shipments_label_reference'), type_='unique')
            batch_op.drop_index(batch_op.f('ix_shipments_next_track_at'))
            batch_op.drop_index(batch_op.f('ix_shipments_carrier_account_id'))
            batch_op.drop_constraint(op.f('fk_shipments_carrier_account_id_carrier_accounts'), type_='foreignkey')
            for column in ('next_track_at', 'tracked_at', 'promised_delivery', 'last_event_at', 'label_error', 'carrier_shipment_id',
                           'label_reference', 'carrier_account_id'):
                batch_op.drop_column(column)
    with op.batch_alter_table('warehouses', schema=None) as batch_op:
        batch_op.drop_column('label_format')
    op.drop_table('carrier_accounts')
