"""The ``aliases`` column of a CSV import, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

from sqlalchemy.orm import Session, sessionmaker

from customers import aliases, service
from customers.db import transaction
from customers.importer import RowError, import_csv, write_template
from customers.search import search_customers
from tests.customers.helpers import row_counts

TENANT = "acme-books"  # the tenant the tenant_id fixture makes

FILE = (
    b"name,email,aliases\r\n"
    b"One GmbH,one@one.example,ERP:C-1; shop:77\r\n"  # 2 good: two aliases
    b"Two GmbH,two@two.example,erp:C-1\r\n"  # 3 the alias of row 2: skipped
    b"Three GmbH,three@three.example,erp:C-9\r\n"  # 4 an alias a customer has: skipped
    b"Four GmbH,four@four.example,erp C-4\r\n"  # 5 no colon: an error
    b"Five GmbH,five@five.example,\r\n"  # 6 good, no aliases
)


def test_aliases_are_imported_and_a_taken_one_skips_its_row(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with transaction(sessions) as session:
        acme = service.create_customer(session, tenant_id, {"name": "Acme", "email": "a@a.example"})
        aliases.add_alias(session, tenant_id, acme.id, system="erp", reference="C-9")
        acme_id = acme.id
    dry = import_csv(sessions, TENANT, FILE, dry_run=True)
    counts = row_counts(sessions.kw["bind"])
    report = import_csv(sessions, TENANT, FILE)
    assert (dry.created, dry.skipped, dry.errors) == (report.created, report.skipped, report.errors)
    assert report.created == 2
    assert report.errors == [RowError(5, "aliases[1]", "'erp C-4' is not SYSTEM:REFERENCE")]
    assert [(s.row, s.reason) for s in report.skipped] == [
        (3, "row 2 of this file has the alias erp:C-1"),
        (4, f"alias erp:C-9 already names customer {acme_id}"),
    ]
    assert row_counts(sessions.kw["bind"])["customer_references"] == (
        counts["customer_references"] + 2
    )
    with sessions() as session:
        [match] = search_customers(session, tenant_id, "shop:77").matches
        assert match.customer.name == "One GmbH"
        assert [str(a) for a in aliases.aliases_of(session, match.customer.id)] == [
            "erp:C-1",
            "shop:77",
        ]


def test_the_template_has_the_aliases_column(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    out = io.StringIO()
    write_template(out)
    assert out.getvalue().splitlines()[0].endswith(",aliases")
    report = import_csv(sessions, TENANT, out.getvalue().encode("utf-8-sig"))
    assert report.created == 1
    with sessions() as session:
        assert [
            m.matched_on for m in search_customers(session, tenant_id, "erp:C-1001").matches
        ] == ["alias"]
