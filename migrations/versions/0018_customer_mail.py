"""customer mail: the mail log (notifications), edited templates, per-channel mail settings,
opt-outs per channel, and the e-mail recipients of internal alerts.

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-07 07:01:25.688239

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_mail_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_type', sa.String(length=32), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('addresses', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_mail_recipients')),
    sa.UniqueConstraint('alert_type', name=op.f('uq_alert_mail_recipients_alert_type'))
    )
    op.create_table('mail_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=48), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_templates')),
    sa.UniqueConstraint('event', 'language', name=op.f('uq_mail_templates_event_language'))
    )
    op.create_table('channel_mail_settings',
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('sender_name', sa.String(length=128), nullable=True),
    sa.Column('sender_address', sa.String(length=254), nullable=True),
    sa.Column('reply_to', sa.String(length=254), nullable=True),
    sa.Column('logo_url', sa.String(length=1024), nullable=True),
    sa.Column('default_language', sa.String(length=8), nullable=False),
    sa.Column('events', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_mail_settings_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', name=op.f('pk_channel_mail_settings'))
    )
    op.create_table('mail_opt_outs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_mail_opt_outs_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_opt_outs')),
    sa.UniqueConstraint('channel_id', 'email', name=op.f('uq_mail_opt_outs_channel_id_email'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('event', sa.String(length=48), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('logged', 'sent', 'failed')", name=op.f('ck_notifications_status_valid')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_notifications_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_order', ['order_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_order')

    op.drop_table('notifications')
    op.drop_table('mail_opt_outs')
    op.drop_table('channel_mail_settings')
    op.drop_table('mail_templates')
    op.drop_table('alert_mail_recipients')
