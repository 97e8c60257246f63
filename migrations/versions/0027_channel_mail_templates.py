"""mail templates per channel: a channel may have its own template of an event and language,
which wins for its orders over the one for every channel (``channel_id`` empty) and the
shipped default. The unique (event, language) becomes one partial unique index for the
general templates and one on (event, language, channel).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 10:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

GENERAL = "channel_id IS NULL"


def upgrade():
    with op.batch_alter_table('mail_templates') as batch:
        batch.drop_constraint('uq_mail_templates_event_language', type_='unique')
        batch.add_column(sa.Column('channel_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_mail_templates_channel_id_channels'), 'channels',
                                 ['channel_id'], ['id'], ondelete='CASCADE')
    op.create_index('uq_mail_templates_general', 'mail_templates', ['event', 'language'],
                    unique=True, postgresql_where=sa.text(GENERAL),
                    sqlite_where=sa.text(GENERAL))
    op.create_index('uq_mail_templates_channel', 'mail_templates',
                    ['event', 'language', 'channel_id'], unique=True)


def downgrade():
    op.execute("DELETE FROM mail_templates WHERE channel_id IS NOT NULL")
    op.drop_index('uq_mail_templates_channel', table_name='mail_templates')
    op.drop_index('uq_mail_templates_general', table_name='mail_templates')
    with op.batch_alter_table('mail_templates') as batch:
        batch.drop_constraint(op.f('fk_mail_templates_channel_id_channels'), type_='foreignkey')
        batch.drop_column('channel_id')
        batch.create_unique_constraint('uq_mail_templates_event_language',
                                       ['event', 'language'])
