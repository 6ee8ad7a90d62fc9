"""Search: exact by id and email, fuzzy by name, paginated."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.search import search_customers

NAMES = [
    "Acme Corporation",
    "ACME Corp.",
    "Globex GmbH",
    "O'Brien & Co",
    "Initech Ltd",
    "Acme Anvils",
]


def seed(sessions: sessionmaker[Session], tenant_id: int) -> dict[str, int]:
    with db.transaction(sessions) as session:
        return {
            name: service.create_customer(
                session, tenant_id, {"name": name, "email": f"c{i}@example.com"}
            ).id
            for i, name in enumerate(NAMES)
        }


def test_fuzzy_name_finds_variants_and_not_unrelated(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    ids = seed(sessions, tenant_id)
    with sessions() as session:
        page = search_customers(session, tenant_id, "acme corp")
    found = [m.customer.name for m in page.matches]
    assert found[:2] == ["ACME Corp.", "Acme Corporation"] or found[:2] == [
        "Acme Corporation",
        "ACME Corp.",
    ]
    assert "Globex GmbH" not in found and "Initech Ltd" not in found
    assert all(m.matched_on == "name" for m in page.matches)
    assert ids["ACME Corp."] in [m.customer.id for m in page.matches]


def test_apostrophes_and_ampersands(sessions: sessionmaker[Session], tenant_id: int) -> None:
    seed(sessions, tenant_id)
    with sessions() as session:
        assert (
            search_customers(session, tenant_id, "obrien and co").matches[0].customer.name
            == "O'Brien & Co"
        )


def test_exact_email_in_any_case_and_exact_id(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    ids = seed(sessions, tenant_id)
    with sessions() as session:
        by_email = search_customers(session, tenant_id, "C2@EXAMPLE.com")
        assert [(m.customer.name, m.matched_on) for m in by_email.matches] == [
            ("Globex GmbH", "email")
        ]
        by_id = search_customers(session, tenant_id, str(ids["Initech Ltd"]))
        assert [m.customer.name for m in by_id.matches] == ["Initech Ltd"]
        assert search_customers(session, tenant_id, "nobody@example.com").total == 0


def test_pages_do_not_overlap_and_cover_all(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    seed(sessions, tenant_id)
    with sessions() as session:
        first = search_customers(session, tenant_id, "acme", per_page=2, page=1)
        second = search_customers(session, tenant_id, "acme", per_page=2, page=2)
    assert first.total == second.total >= 3
    seen = [m.customer.id for m in first.matches + second.matches]
    assert len(seen) == len(set(seen)) == min(4, first.total)


def test_a_number_finds_the_id_and_a_name_made_of_digits_and_odd_digits_find_nothing(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    ids = seed(sessions, tenant_id)
    with db.transaction(sessions) as session:
        named = service.create_customer(session, tenant_id, {"name": "1999", "email": "a@1999.com"})
    with sessions() as session:
        assert [m.customer.id for m in search_customers(session, tenant_id, "1999").matches] == [
            named.id
        ]
        by_id = search_customers(session, tenant_id, str(ids["Initech Ltd"]))
        assert (by_id.matches[0].customer.name, by_id.matches[0].matched_on) == (
            "Initech Ltd",
            "id",
        )
        assert search_customers(session, tenant_id, "²").matches == []  # a digit to Python only
        assert search_customers(session, tenant_id, "9" * 40).matches == []  # no id is this long
