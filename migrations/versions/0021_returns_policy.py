"""returns: reason codes admins keep (return_reasons, seeded), the return's life
requested -> authorized -> in_transit -> received -> inspected -> closed (rejected from
requested; today's `refunded` becomes `closed`), where a return came from, its label, extra
items; per line the reason code, a note, units received, grade, disposition and warehouse.

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-07 08:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=16, scale=4)
NEW = "status IN ('requested', 'authorized', 'in_transit', 'received', 'inspected', 'closed', 'rejected')"
OLD = "status IN ('requested', 'authorized', 'received', 'refunded', 'rejected', 'closed')"
REASONS = [  # code, label, our fault, needs a note
    ("damaged", "Damaged", True, False), ("defective", "Defective", True, False),
    ("wrong_item", "Wrong item sent", True, False), ("not_as_described", "Not as described", True, False),
    ("too_small", "Too small", False, False), ("too_large", "Too large", False, False),
    ("changed_mind", "Changed mind", False, False), ("late", "Arrived late", True, False),
    ("other", "Other", False, True),
]


def upgrade():
    reasons = op.create_table(
        'return_reasons',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('label', sa.String(length=100), nullable=False),
        sa.Column('our_fault', sa.Boolean(), nullable=False),
        sa.Column('needs_note', sa.Boolean(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_return_reasons')),
        sa.UniqueConstraint('code', name=op.f('uq_return_reasons_code')),
    )
    op.bulk_insert(reasons, [
        {"code": c, "label": label, "our_fault": fault, "needs_note": note, "active": True, "position": n}
        for n, (c, label, fault, note) in enumerate(REASONS)])
    op.execute("UPDATE returns SET status = 'closed' WHERE status = 'refunded'")
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='staff', nullable=False))
        batch_op.add_column(sa.Column('rejection_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('authorized_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inspected_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('label_carrier', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('label_tracking', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('label_format', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('label_data', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('label_cost', MONEY, nullable=True))
        batch_op.add_column(sa.Column('label_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('extras', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('exchange_order_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_returns_exchange_order_id_orders'), 'orders',
                                    ['exchange_order_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_returns_label_tracking'), ['label_tracking'], unique=False)
        batch_op.drop_constraint(op.f('ck_returns_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_returns_status_valid'), NEW)
        batch_op.create_check_constraint(op.f('ck_returns_source_valid'), "source IN ('staff', 'customer', 'channel')")
    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('quantity_received', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('grade', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('disposition', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('warehouse_id', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_return_lines_quantity_received_non_negative'),
                                         'quantity_received >= 0')


def downgrade():
    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_return_lines_quantity_received_non_negative'), type_='check')
        for column in ('warehouse_id', 'disposition', 'grade', 'quantity_received', 'note', 'reason_code'):
            batch_op.drop_column(column)
    op.execute("UPDATE returns SET status = 'authorized' WHERE status = 'in_transit'")
    op.execute("UPDATE returns SET status = 'received' WHERE status = 'inspected'")
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_returns_source_valid'), type_='check')
        batch_op.drop_constraint(op.f('ck_returns_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_returns_status_valid'), OLD)
        batch_op.drop_index(batch_op.f('ix_returns_label_tracking'))
        batch_op.drop_constraint(op.f('fk_returns_exchange_order_id_orders'), type_='foreignkey')
        for column in ('exchange_order_id', 'extras', 'label_error', 'label_cost', 'label_data', 'label_format',
                       'label_tracking', 'label_carrier', 'closed_at', 'inspected_at', 'authorized_at',
                       'rejection_reason', 'source'):
            batch_op.drop_column(column)
    op.drop_table('return_reasons')
