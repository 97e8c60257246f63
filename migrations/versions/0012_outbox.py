"""the outbox becomes the one mechanism of every external effect (DESIGN.md "Outbox"):
a target, a dedupe key unique among the messages not yet sent (a partial unique index),
a group key whose messages go in order (a partial index on the open ones), the stable
message id the receiver sees on every attempt, the remote id a send produced, who claimed
it and when; statuses pending, sending, sent, dead, uncertain, discarded. Today's rows
keep their topic, payload and times: ``kind`` and ``channel_id`` become the target (the
channel's code, else the kind), ``failed`` becomes ``dead``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:30:00.000000

"""
import uuid
import warnings

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'sending', 'dead', 'uncertain')")
NEW_STATUSES = "status IN ('pending', 'sending', 'sent', 'dead', 'uncertain', 'discarded')"
OLD_STATUSES = "status IN ('pending', 'sent', 'failed')"


def upgrade():
    with warnings.catch_warnings():
        # SQLite's batch mode reflects the referenced tables too; their expression indexes
        # cannot be reflected, and need not be: those tables are not rebuilt.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            for name, type_ in (('message_id', sa.String(length=36)),
                                ('target', sa.String(length=128)),
                                ('dedupe_key', sa.String(length=255)),
                                ('group_key', sa.String(length=255)),
                                ('remote_id', sa.String(length=255)),
                                ('claimed_at', sa.DateTime(timezone=True)),
                                ('claimed_by', sa.String(length=64))):
                batch_op.add_column(sa.Column(name, type_, nullable=True))
            batch_op.drop_constraint(op.f('ck_outbox_status_valid'), type_='check')

    connection = op.get_bind()
    connection.execute(sa.text(
        "UPDATE outbox SET target = COALESCE((SELECT code FROM channels "
        "WHERE channels.id = outbox.channel_id), kind)"))
    connection.execute(sa.text("UPDATE outbox SET status = 'dead' WHERE status = 'failed'"))
    for (row_id,) in connection.execute(sa.text("SELECT id FROM outbox")).all():
        connection.execute(sa.text("UPDATE outbox SET message_id = :m WHERE id = :i"),
                           {"m": str(uuid.uuid4()), "i": row_id})

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            batch_op.drop_constraint(op.f('ck_outbox_kind_valid'), type_='check')
            batch_op.drop_constraint(op.f('fk_outbox_channel_id_channels'), type_='foreignkey')
            batch_op.drop_column('kind')
            batch_op.drop_column('channel_id')
            batch_op.alter_column('message_id', existing_type=sa.String(length=36),
                                  nullable=False)
            batch_op.alter_column('target', existing_type=sa.String(length=128), nullable=False)
            batch_op.create_check_constraint(op.f('ck_outbox_status_valid'), sa.text(NEW_STATUSES))
            batch_op.create_index(batch_op.f('ix_outbox_topic'), ['topic'], unique=False)
    op.create_index('ux_outbox_dedupe_open', 'outbox', ['dedupe_key'], unique=True,
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_outbox_group_open', 'outbox', ['group_key', 'id'], unique=False,
                    postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade():
    op.drop_index('ix_outbox_group_open', table_name='outbox')
    op.drop_index('ux_outbox_dedupe_open', table_name='outbox')
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            batch_op.drop_constraint(op.f('ck_outbox_status_valid'), type_='check')
            batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=True))
            batch_op.add_column(sa.Column('channel_id', sa.Integer(), nullable=True))
    connection = op.get_bind()
    # Only what the old table can say survives: open messages pending, the others failed.
    connection.execute(sa.text("UPDATE outbox SET status = 'failed' WHERE status IN "
                               "('dead', 'uncertain', 'discarded')"))
    connection.execute(sa.text("UPDATE outbox SET status = 'pending' WHERE status = 'sending'"))
    connection.execute(sa.text(
        "UPDATE outbox SET kind = CASE WHEN topic LIKE 'notify.%' THEN 'notification' "
        "ELSE 'channel_push' END, channel_id = (SELECT id FROM channels "
        "WHERE channels.code = outbox.target)"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table('outbox', schema=None) as batch_op:
            batch_op.drop_index(batch_op.f('ix_outbox_topic'))
            batch_op.alter_column('kind', existing_type=sa.String(length=16), nullable=False)
            batch_op.create_check_constraint(op.f('ck_outbox_status_valid'), sa.text(OLD_STATUSES))
            batch_op.create_check_constraint(op.f('ck_outbox_kind_valid'), sa.text(
                "kind IN ('notification', 'channel_push')"))
            batch_op.create_foreign_key('fk_outbox_channel_id_channels', 'channels',
                                        ['channel_id'], ['id'])
            for column in ('message_id', 'target', 'dedupe_key', 'group_key', 'remote_id',
                           'claimed_at', 'claimed_by'):
                batch_op.drop_column(column)
