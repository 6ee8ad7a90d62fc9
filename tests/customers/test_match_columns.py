"""The match columns: kept current on every write, and the duplicate check that reads them.

Each way a customer is written (one by one, in bulk, by an update, by an import) leaves its
match columns equal to what ``match_values`` makes of its values, and the name words of
each live customer (none for a soft-deleted one) equal to those of its name key. A check
against the database gives exactly what the same check gives against an index built in
memory.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from customers import db, duplicates, service
from customers.duplicate_screen import DuplicateScreen
from customers.duplicates import DuplicateIndex, Keys
from customers.match_columns import NAME_WORDS, SOURCES, match_values, name_words
from customers.models import MATCH_COLUMNS, Customer


def assert_current(session: Session) -> int:
    """Every customer's match columns are what its values make; how many were checked."""
    rows = session.execute(select(Customer)).scalars().all()
    for customer in rows:
        stored = {column: getattr(customer, column) for column in MATCH_COLUMNS}
        wanted = match_values({source: getattr(customer, source) for source in SOURCES})
        assert stored == wanted, (customer.id, customer.name)
    words: dict[int, set[tuple[int, str, str]]] = {}
    for tenant_id, word, customer_id, key in session.execute(select(NAME_WORDS)):
        words.setdefault(customer_id, set()).add((tenant_id, word, key))
    assert words == {
        customer.id: {
            (customer.tenant_id, word, customer.match_name)
            for word in name_words(customer.match_name)
        }
        for customer in rows
        if customer.deleted_at is None and customer.match_name
    }
    return len(rows)


def test_every_write_keeps_the_match_columns_current(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        one = service.create_customer(
            session,
            tenant_id,
            {
                "name": "ACME Corp.",
                "email": "AP@Shop.Acme.co.uk",
                "tax_id": "de 123.456-789",
            },
        )
        service.create_customers(
            session,
            tenant_id,
            [
                {"name": "Globex GmbH", "email": "ap@globex.de", "website": "www.globex.de"},
                {"name": "ООО «Северсталь»", "email": "info@gmail.com"},
            ],
        )
        prepared = service.prepare_customer({"name": "Initech Ltd", "email": "x@initech.io"})
        service.create_customers(session, tenant_id, [prepared], origin_connection_id=None)
    with db.transaction(sessions) as session:
        assert assert_current(session) == 4
        stored = session.get(Customer, one.id)
        assert stored is not None
        assert (stored.match_tax_id, stored.match_email, stored.match_domain) == (
            "DE123456789",
            "ap@shop.acme.co.uk",
            "acme.co.uk",
        )
        assert stored.match_name == "acme"
    for changes in (
        {"name": "Vandelay Industries"},
        {"email": "billing@vandelay.com"},
        {"domain": "vandelay.net"},
        {"tax_id": "GB 999"},
        {"domain": None, "tax_id": None},
        {"notes": "a change that touches no key"},
    ):
        with db.transaction(sessions) as session:
            service.update_customer(session, tenant_id, one.id, changes)
        with sessions() as session:
            assert_current(session)
    with sessions() as session:
        stored = session.get(Customer, one.id)
        assert stored is not None
        assert (stored.match_name, stored.match_domain) == ("vandelay industries", "vandelay.com")


def test_an_import_keeps_the_match_columns_current(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    # The import's writer: validated rows written in bulk, screened first.
    with db.transaction(sessions) as session:
        screen = DuplicateScreen.load(session, tenant_id, allow=False)
    rows: list[tuple[int, dict[str, Any]]] = [
        (1, {"name": "Acme Corporation", "email": "ap@acme.com", "tax_id": "DE 1"}),
        (2, {"name": "Acme Corp", "email": "billing@acme.com"}),  # same domain as row 1
        (3, {"name": "Hooli", "email": "ap@hooli.com"}),
    ]
    with db.transaction(sessions) as session:
        screened = screen.screen(session, rows)
        assert screened.accepted == [1, 3] and list(screened.refused) == [2]
        service.create_customers(
            session, tenant_id, [fields for number, fields in rows if number in (1, 3)]
        )
    with db.transaction(sessions) as session:
        assert assert_current(session) == 2
        # A later batch of the same import: the rows it wrote are found as its own rows.
        again = screen.screen(session, [(4, {"name": "ACME corp.", "email": "x@acme.com"})])
        assert again.refused[4].startswith("row 1 of this file is the same business")


NAMES = (
    "Acme",
    "Acme Corporation",
    "ACME Corp.",
    "Acme Anvils",
    "Acme Anvil Works",
    "Globex",
    "Globex GmbH",
    "Globe Exports",
    "Initech",
    "Initech Holdings",
    "Hooli Farms 1000",
    "Hooli Farms 2000",
    "Hooli Farm 1000",
    "Vandelay Industries",
    "Vandelay Industry",
    "St. Mary's Hospital",
    "St Marys Hospital",
    "Газпром нефть",
    "Gazprom Neft PJSC",
    "Umbrella Pharma",
    "Umbrela Pharma",
    "a.b.c. Trading",
    "abc Trading",
)
DOMAINS = (None, "acme.com", "shop.acme.com", "globex.de", "initech.io", "gmail.com", "x.test")


def corpus(seed: int, size: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for number in range(size):
        name = rng.choice(NAMES)
        if rng.random() < 0.3:
            name += f" {rng.choice(('West', 'East', 'Labs', 'Group', '2', 'GmbH'))}"
        if rng.random() < 0.4:  # a typo: scores near the threshold, lengths at its edges
            at = rng.randrange(len(name))
            name = name[:at] + rng.choice(("", "x", "e", "ee", "q ")) + name[at + 1 :]
        domain = rng.choice(DOMAINS)
        rows.append(
            {
                "name": name,
                "email": f"c{number}@{rng.choice(DOMAINS[1:-1])}" if rng.random() < 0.5 else None,
                "domain": domain,
                "tax_id": rng.choice((None, None, None, "DE 1", "de-1", "GB 2")),
            }
        )
    return rows


def checks_of(index: DuplicateIndex, probes: list[dict[str, Any]]) -> list[Any]:
    return [index.check(**probe, exclude=[number]) for number, probe in enumerate(probes)]


def compare_with_memory(session: Session, tenant_id: int, ids: list[int]) -> None:
    rows = session.execute(
        select(Customer.id, *(getattr(Customer, source) for source in SOURCES)).where(
            Customer.id.in_(ids)
        )
    ).all()
    in_memory = DuplicateIndex()
    for row in rows:
        in_memory.add(row.id, name=row.name, email=row.email, domain=row.domain, tax_id=row.tax_id)
    probes = [dict(row._mapping) for row in rows] + corpus(7, 40)
    stored = DuplicateIndex.load(session, tenant_id)
    stored.prefetch([Keys(**{k: p[k] for k in SOURCES}) for p in probes])
    probes = [{k: p[k] for k in SOURCES} for p in probes]
    expected = checks_of(in_memory, probes)
    assert checks_of(stored, probes) == expected
    assert any(check.sure for check in expected) and any(check.likely for check in expected)
    # Unread keys are read one check at a time, with the same answers.
    assert checks_of(DuplicateIndex.load(session, tenant_id), probes) == expected


def write_corpus(sessions: sessionmaker[Session], tenant_id: int, size: int) -> list[int]:
    with db.transaction(sessions) as session:
        return service.create_customers(
            session,
            tenant_id,
            [service.prepare_customer(row, origin_connection_id=1) for row in corpus(3, size)],
            origin_connection_id=None,
        )


def test_the_database_check_finds_what_an_index_in_memory_finds(
    sessions: sessionmaker[Session], tenant_id: int, engine: Engine
) -> None:
    ids = write_corpus(sessions, tenant_id, 160)
    with sessions() as session:
        compare_with_memory(session, tenant_id, ids)


def test_a_soft_deleted_customer_has_no_name_words_and_is_found_as_in_memory(
    sessions: sessionmaker[Session], tenant_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = write_corpus(sessions, tenant_id, 120)
    gone = ids[::3]
    for customer_id in gone:
        with db.transaction(sessions) as session:
            service.delete_customer(session, tenant_id, customer_id)
    with sessions() as session:
        assert assert_current(session) == 120
        left = session.scalar(
            select(NAME_WORDS.c.customer_id).where(NAME_WORDS.c.customer_id.in_(gone)).limit(1)
        )
        assert left is None
    # Neither a candidate nor counted towards a word's limit, as in memory (which never
    # held them): the limit low enough for deleted customers to decide it if counted.
    monkeypatch.setattr(duplicates, "MAX_BLOCK", 8)
    live = [customer_id for customer_id in ids if customer_id not in gone]
    with sessions() as session:
        compare_with_memory(session, tenant_id, live)


def test_the_words_of_a_renamed_customer_replace_its_old_words(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        made = service.create_customer(
            session, tenant_id, {"name": "Acme Anvil Works", "email": "ap@acme.com"}
        )
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, made.id, {"name": "Globex Anvils GmbH"})
    with sessions() as session:
        assert assert_current(session) == 1
        words = session.scalars(
            select(NAME_WORDS.c.word).where(NAME_WORDS.c.customer_id == made.id)
        ).all()
        assert sorted(words) == ["anvils", "globex"]
        assert not DuplicateIndex.load(session, tenant_id).check(name="Acme Anvil Works").found
        found = DuplicateIndex.load(session, tenant_id).check(name="Globex Anvils")
        assert [c.customer_id for c in found.likely] == [made.id]


def test_a_purged_customer_takes_its_name_words_with_it(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        made = service.create_customer(
            session, tenant_id, {"name": "Acme Anvil Works", "email": "ap@acme.com"}
        )
        kept = service.create_customer(
            session, tenant_id, {"name": "Acme Anvils", "email": "ap@anvils.com"}
        )
    with db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, made.id)
    with sessions() as session:
        assert assert_current(session) == 1
        owners = set(session.scalars(select(NAME_WORDS.c.customer_id)))
        assert owners == {kept.id}


def test_the_name_words_are_keyed_to_count_a_word_by_index(engine: Engine) -> None:
    schema = inspect(engine)
    key = schema.get_pk_constraint("customer_name_words")
    assert key["constrained_columns"] == ["tenant_id", "word", "customer_id"]
    indexes = {index["name"]: index["column_names"] for index in schema.get_indexes("customers")}
    assert "ix_customers_match_name_trgm" not in indexes  # no trigram index any more


def test_a_word_shared_by_too_many_customers_is_skipped_as_in_memory(
    sessions: sessionmaker[Session], tenant_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = write_corpus(sessions, tenant_id, 120)
    monkeypatch.setattr(duplicates, "MAX_BLOCK", 8)
    with sessions() as session:
        compare_with_memory(session, tenant_id, ids)


def test_what_a_batch_adds_is_found_and_later_customers_are_not(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        acme = service.create_customer(session, tenant_id, {"name": "Acme", "email": "a@acme.com"})
    with db.transaction(sessions) as session:
        index = DuplicateIndex.load(session, tenant_id).over()
        made = service.create_customer(
            session, tenant_id, {"name": "Globex", "email": "a@globex.com"}
        )
        assert not index.check(name="Globex Corp").found  # made after the index: not seen
        index.add(made.id, name=made.name, email=made.email)
        assert [c.customer_id for c in index.check(name="Globex Corp").likely] == [made.id]
        check = index.check(name="x", email="A@acme.com")
        assert check.sure is not None and check.sure.customer_id == acme.id
        assert check.sure.reasons == ("same email", "same domain")


def test_the_migration_fills_the_match_columns_of_existing_customers(engine: Engine) -> None:
    db.downgrade(engine, "0010")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at, require_billing_address) "
                "VALUES (7, 'seven', 'Seven', '2026-01-01', false)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO customers (id, tenant_id, name, email, domain, tax_id, "
                "customer_type, status, custom_properties, version, created_at, updated_at) "
                "VALUES (5, 7, 'ACME Corp.', 'AP@acme.com', 'shop.acme.co.uk', 'de 1-2', "
                "'business', 'active', '{}', 1, '2026-01-01', '2026-01-01')"
            )
        )
    db.upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT match_tax_id, match_email, match_domain, match_name FROM customers "
                "WHERE id = 5"
            )
        ).one()
    assert tuple(row) == ("DE12", "ap@acme.com", "acme.co.uk", "acme")


def test_the_migration_writes_the_name_words_of_live_customers_and_drops_them_down(
    engine: Engine,
) -> None:
    db.downgrade(engine, "0011")
    assert "customer_name_words" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at, require_billing_address) "
                "VALUES (7, 'seven', 'Seven', '2026-01-01', false)"
            )
        )
        for customer_id, name, deleted_at in (
            (5, "ACME Anvil Corp.", None),
            (6, "Globex Anvils", None),
            (8, "Initech", "2026-02-01"),
        ):
            connection.execute(
                text(
                    "INSERT INTO customers (id, tenant_id, name, match_name, deleted_at, "
                    "customer_type, status, custom_properties, version, created_at, updated_at) "
                    "VALUES (:id, 7, :name, :key, :deleted_at, 'business', 'active', '{}', 1, "
                    "'2026-01-01', '2026-01-01')"
                ),
                {
                    "id": customer_id,
                    "name": name,
                    "key": match_values({"name": name})["match_name"],
                    "deleted_at": deleted_at,
                },
            )
    db.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tenant_id, word, customer_id FROM customer_name_words")
        ).all()
    assert sorted(map(tuple, rows)) == [
        (7, "acme", 5),
        (7, "anvil", 5),
        (7, "anvils", 6),
        (7, "globex", 6),
    ]
    db.downgrade(engine, "0011")
    assert "customer_name_words" not in inspect(engine).get_table_names()
    db.upgrade(engine)
