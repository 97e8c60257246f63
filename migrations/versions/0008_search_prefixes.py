"""support search by prefix: orders keep their e-mail's domain (orders.email_domain,
backfilled), and the search keys get indexes that serve a prefix as a byte-wise range:
on PostgreSQL with the text_pattern_ops operator class (a default btree index follows the
database collation, whose order skips punctuation, so a range over it could miss 'ann.'),
on SQLite plain indexes (BINARY order is byte order). Customers' e-mails get one too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# (name, table, expression) of the indexes support search reads.
SEARCH_INDEXES = [
    ('ix_customers_name_lower', 'customers', 'lower(name)'),
    ('ix_customers_email_prefix', 'customers', 'email'),
    ('ix_orders_email_lower', 'orders', 'lower(email)'),
    ('ix_orders_email_domain', 'orders', 'email_domain'),
    ('ix_orders_customer_name_lower', 'orders', 'lower(customer_name)'),
]
EXISTING = {'ix_customers_name_lower', 'ix_orders_email_lower', 'ix_orders_customer_name_lower'}


def _create(name, table, expression, postgresql):
    opclass = ' text_pattern_ops' if postgresql else ''
    op.execute(f'CREATE INDEX {name} ON {table} ({expression}{opclass})')


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_domain', sa.String(length=254), nullable=True))
    # The domain after the @ (orders with one @; an address with several is not valid).
    domain = ("lower(split_part(email, '@', 2))" if postgresql
              else "lower(substr(email, instr(email, '@') + 1))")
    op.execute(f"UPDATE orders SET email_domain = {domain} "
               f"WHERE email LIKE '%@%' AND email NOT LIKE '%@%@%'")
    for name, table, expression in SEARCH_INDEXES:
        if name in EXISTING:
            if not postgresql:
                continue  # already right on SQLite
            op.execute(f'DROP INDEX {name}')
        _create(name, table, expression, postgresql)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for name, table, expression in SEARCH_INDEXES:
        if name in EXISTING and not postgresql:
            continue
        op.execute(f'DROP INDEX {name}')
        if name in EXISTING:
            op.execute(f'CREATE INDEX {name} ON {table} ({expression})')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('email_domain')
