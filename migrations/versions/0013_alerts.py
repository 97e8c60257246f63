"""internal alerts: one open alert per (type, key) with a counter, first and last seen,
when it was told, acknowledged and resolved; alert channels (a Slack-compatible incoming
webhook, its URL encrypted) with a quiet period.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 04:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

OPEN = sa.text("resolved_at IS NULL")
TYPES = ("'channel_sync_failing', 'channel_sync_lagging', 'outbox_dead', "
         "'delivery_exception', 'sla_at_risk', 'low_stock'")


def upgrade():
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"type IN ({TYPES})", name=op.f('ck_alerts_type_valid')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    )
    op.create_index('ix_alerts_last_seen', 'alerts', ['last_seen_at'], unique=False)
    op.create_index('ux_alerts_open', 'alerts', ['type', 'key'], unique=True,
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_table(
        'alert_channels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('url_encrypted', sa.Text(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('quiet_minutes', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('slack')", name=op.f('ck_alert_channels_kind_valid')),
        sa.CheckConstraint('quiet_minutes >= 0',
                           name=op.f('ck_alert_channels_quiet_minutes_non_negative')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_channels')),
        sa.UniqueConstraint('name', name=op.f('uq_alert_channels_name')),
    )


def downgrade():
    op.drop_table('alert_channels')
    op.drop_index('ux_alerts_open', table_name='alerts')
    op.drop_index('ix_alerts_last_seen', table_name='alerts')
    op.drop_table('alerts')
