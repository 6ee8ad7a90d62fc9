"""``one_of``: the same rows as ``IN`` on both databases, for any number of values, with
one statement text on PostgreSQL whatever the number."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.models import Customer
from customers.sync_state import ExternalLink
from tests.worker.sync.conftest import hubspot_connection


@pytest.mark.parametrize("wanted", [[], ["Acme 3"], ["Acme 1", "nobody", "Acme 7"]])
def test_one_of_finds_what_in_finds(
    sessions: sessionmaker[Session], tenant_id: int, wanted: list[str]
) -> None:
    with db.transaction(sessions) as session:
        for n in range(10):
            service.create_customer(
                session, tenant_id, {"name": f"Acme {n}", "email": f"billing@acme{n}.example"}
            )
    with sessions() as session:
        query = select(Customer.name).order_by(Customer.name)
        found = session.scalars(query.where(db.one_of(session, Customer.name, wanted))).all()
        expected = session.scalars(query.where(Customer.name.in_(wanted))).all()
    assert found == expected == sorted(set(wanted) - {"nobody"})


def test_postgresql_gets_one_statement_for_any_number_of_values(
    sessions: sessionmaker[Session],
) -> None:
    statements: list[str] = []
    with sessions() as session:
        engine = session.get_bind()

        def seen(*args: object) -> None:
            if str(args[2]).startswith("SELECT"):
                statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", seen)
        try:
            for size in (1, 60, 500):
                ids = list(range(size))
                session.scalars(select(Customer.id).where(db.one_of(session, Customer.id, ids)))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    if engine.dialect.name == "postgresql":
        assert len(set(statements)) == 1 and "ANY" in statements[0]
    else:
        assert len(set(statements)) == 3  # SQLite: an IN list of each length


def test_a_value_longer_than_the_column_matches_nothing(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    # external_id is VARCHAR(64): a longer id must not be cut to one that exists.
    stored = "7" * 64
    connection_id = hubspot_connection(sessions, tenant_id)
    with db.transaction(sessions) as session:
        customer = service.create_customer(
            session, tenant_id, {"name": "Acme", "email": "billing@acme.example"}
        )
        session.add(
            ExternalLink(
                connection_id=connection_id,
                object_type="company",
                external_id=stored,
                local_type="customer",
                local_id=customer.id,
                base={},
            )
        )
    with sessions() as session:
        query = select(ExternalLink.external_id)
        assert (
            session.scalars(
                query.where(db.one_of(session, ExternalLink.external_id, [stored + "7"]))
            ).all()
            == []
        )
        assert session.scalars(
            query.where(db.one_of(session, ExternalLink.external_id, [stored]))
        ).all() == [stored]
