"""sql_lists.in_ids: ``column IN ids`` that stays one parameter on PostgreSQL however long
the list (psycopg converts statements of more than 50 parameters again on every run)."""
from sqlalchemy import select

from app.models import Product
from app.services.core.sql_lists import in_ids
from tests.conftest import is_postgres


def test_in_ids_selects_exactly_the_listed_ids(session, make):
    ids = [make.product(f"L-{n}").id for n in range(120)]
    session.commit()
    wanted = ids[::3] + [ids[0], 10**9]  # a repeat and an id that does not exist

    condition = in_ids(session, Product.id, wanted)
    found = set(session.scalars(select(Product.id).where(condition)))

    assert found == set(ids[::3])
    assert session.scalars(select(Product.id).where(in_ids(session, Product.id, []))).all() == []
    if is_postgres():  # one array parameter, not one per id
        compiled = condition.compile(dialect=session.get_bind().dialect)
        assert "ANY" in str(compiled) and list(compiled.params.values()) == [wanted]
