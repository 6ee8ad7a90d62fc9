"""CSV import through the service layer, on SQLite and PostgreSQL: exact reports, only the
good rows written, nothing written by a dry run."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers import service
from customers.db import transaction
from customers.importer import FileProblem, RowError, SkippedRow, import_csv, write_template
from customers.models import Customer
from tests.customers.helpers import row_counts

TENANT = "acme-books"  # the tenant the tenant_id fixture makes

MESSY = (
    b"Name,Email,Billing Country,Notes,Contact First Name,Contact Email,custom.segment\r\n"
    b"Good One GmbH,One@Good.com,DE,,Ann,ann@good.com,smb\r\n"  # 2 good, with contact
    b",nobody@example.com,DE,,,,\r\n"  # 3 no name
    b"Atlantis Trading,at@example.com,Atlantis,,,,\r\n"  # 4 bad country
    b"Good One Again,one@GOOD.com,DE,,,,\r\n"  # 5 same email as row 2
    b"Acme Again,AP@ACME.COM,,,,,\r\n"  # 6 email of a customer already in the directory
    b"M\xfcller GmbH,m@mueller.de,DE,,J\xf6rg,,\r\n"  # 7 Latin-1 bytes in a UTF-8 file
    b",,,,,,\r\n"  # blank: ignored, but still a spreadsheet row (8)
    b'"Quoted, Inc.",q@quoted.com,US,"two\r\nlines",,,\r\n'  # 9 good, a cell over two lines
    b"Zeta Ltd,zeta@zeta.co.uk,GB,,,,\r\n"  # 10 good
    b"After Quote,not-an-email,GB,,Bo,,\r\n"  # 11 bad email
)


def existing(sessions: sessionmaker[Session], tenant_id: int) -> int:
    with transaction(sessions) as session:
        return service.create_customer(
            session, tenant_id, {"name": "Acme Corp", "email": "ap@acme.com"}
        ).id


def test_a_messy_file_is_reported_row_by_row_and_only_good_rows_are_written(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    acme = existing(sessions, tenant_id)
    before = row_counts(sessions.kw["bind"])
    report = import_csv(sessions, TENANT, MESSY)
    offset_u, offset_o = MESSY.index(b"\xfc"), MESSY.index(b"\xf6")
    assert report.errors == [
        RowError(3, "name", "is required"),
        RowError(4, "billing_country", "'Atlantis' is not an ISO 3166 country code or name"),
        RowError(7, "name", f"is not valid utf-8 text (byte 0xFC at byte offset {offset_u}, "
                 "line 7); save the file as UTF-8 or name its encoding"),
        RowError(7, "contact_first_name", f"is not valid utf-8 text (byte 0xF6 at byte offset "
                 f"{offset_o}, line 7); save the file as UTF-8 or name its encoding"),
        RowError(11, "email", "'not-an-email' is not a valid email address (An email address "
                 "must have an @-sign.)"),
    ]  # fmt: skip
    assert report.skipped == [
        SkippedRow(5, "one@good.com", "row 2 of this file has the same email"),
        SkippedRow(6, "ap@acme.com", f"customer {acme} already has this email"),
    ]
    assert (report.rows, report.created, report.failed_rows) == (9, 3, 4)
    after = row_counts(sessions.kw["bind"])
    assert after["customers"] - before["customers"] == 3
    assert after["contacts"] - before["contacts"] == 1
    assert after["outbox"] - before["outbox"] == 4  # three customers and one contact
    with sessions() as session:
        rows = {c.email: c for c in session.scalars(select(Customer))}
    assert set(rows) == {"ap@acme.com", "one@good.com", "q@quoted.com", "zeta@zeta.co.uk"}
    good = rows["one@good.com"]
    assert (good.name, good.billing_country, good.custom_properties) == (
        "Good One GmbH",
        "DE",
        {"segment": "smb"},
    )
    assert good.primary_contact is not None
    assert (good.primary_contact.first_name, good.primary_contact.email) == ("Ann", "ann@good.com")
    assert rows["q@quoted.com"].notes == "two\r\nlines"
    assert rows["ap@acme.com"].name == "Acme Corp"  # skipped, never overwritten


def test_a_dry_run_reports_the_same_and_writes_nothing(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    existing(sessions, tenant_id)
    before = row_counts(sessions.kw["bind"])
    report = import_csv(sessions, TENANT, MESSY, dry_run=True)
    assert (report.created, len(report.skipped), report.failed_rows) == (3, 2, 4)
    assert row_counts(sessions.kw["bind"]) == before


def test_a_dry_run_for_a_new_tenant_does_not_create_it(sessions: sessionmaker[Session]) -> None:
    before = row_counts(sessions.kw["bind"])
    # A new tenant requires a billing address: rows without one are errors, the rest count.
    report = import_csv(sessions, "brand-new", MESSY, dry_run=True)
    assert report.created == 0 and row_counts(sessions.kw["bind"]) == before
    addressed = (
        b"name,email,billing_street,billing_city,billing_country\r\n"
        b"Good One GmbH,one@good.com,Hauptstr. 1,Berlin,DE\r\n"
    )
    report = import_csv(sessions, "brand-new", addressed, dry_run=True)
    assert report.created == 1 and row_counts(sessions.kw["bind"]) == before


def test_running_an_import_again_skips_what_it_imported(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    first = import_csv(sessions, TENANT, MESSY)
    again = import_csv(sessions, TENANT, MESSY)
    assert (first.created, again.created) == (4, 0)
    assert [skip.row for skip in again.skipped] == [2, 5, 6, 9, 10]


def test_the_template_imports_as_it_is(sessions: sessionmaker[Session], tenant_id: int) -> None:
    out = io.StringIO()
    write_template(out)
    report = import_csv(sessions, TENANT, out.getvalue().encode("utf-8-sig"))
    assert (report.created, report.errors, report.skipped) == (1, [], [])
    with sessions() as session:
        customer = session.scalars(select(Customer)).one()
    assert (customer.billing_city, customer.tax_id, customer.payment_terms_days) == (
        "Köln",
        "DE123456789",
        30,
    )
    assert customer.credit_limit == Decimal("5000.00") and customer.phone == "+492211234567"
    contact = customer.primary_contact
    assert contact is not None and contact.roles == ["primary"] and contact.phone == "+492211234568"


def test_other_encodings_when_named(sessions: sessionmaker[Session], tenant_id: int) -> None:
    raw = "name,email\r\nMüller GmbH,m@mueller.de\r\n".encode("cp1252")
    assert import_csv(sessions, TENANT, raw).failed_rows == 1
    report = import_csv(sessions, TENANT, raw, encoding="cp1252")
    assert report.created == 1
    with sessions() as session:
        assert session.scalars(select(Customer.name)).one() == "Müller GmbH"


@pytest.mark.parametrize(
    ("encoding", "problem"),
    [
        ("rot13", "'rot13' is not a text encoding"),
        ("base64", "'base64' is not a text encoding"),
        ("idna", "cannot be read as 'idna' text"),
    ],
)
def test_an_encoding_that_is_not_text_to_text_is_a_file_problem(
    sessions: sessionmaker[Session], tenant_id: int, encoding: str, problem: str
) -> None:
    # Each was a traceback (LookupError, UnicodeError) out of bytes.decode.
    with pytest.raises(FileProblem, match=problem):
        import_csv(sessions, TENANT, b"name,email\r\nA,a@x.com\r\n", encoding=encoding)
    with sessions() as session:
        assert session.scalars(select(Customer)).all() == []


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "the file is empty"),
        (b"name,email,colour\r\nA,a@x.com,red\r\n", "unknown column(s) 'colour'"),
        (b"name,phone\r\nA,1\r\n", "the header has no email column"),
        (b"name,email,Email\r\nA,a@x.com,b@x.com\r\n", "email appear more than once"),
        (b'name,email\r\nA,"a@x.com\r\n', "not valid CSV"),
        (b"n\xe4me,email\r\n", "the header row is not valid utf-8 text (byte offset 1)"),
        ("name,email\r\n".encode("utf-16"), "the file is UTF-16 text"),
        (b"name,email,custom.2nd-tier\r\nA,a@x.com,x\r\n", "'2nd-tier' is not a key"),
    ],
)
def test_file_problems_stop_before_anything_is_written(
    sessions: sessionmaker[Session], tenant_id: int, raw: bytes, problem: str
) -> None:
    before = row_counts(sessions.kw["bind"])
    with pytest.raises(FileProblem, match=problem.replace("(", r"\(").replace(")", r"\)")):
        import_csv(sessions, TENANT, raw)
    assert row_counts(sessions.kw["bind"]) == before


def test_a_row_with_too_many_values(sessions: sessionmaker[Session], tenant_id: int) -> None:
    report = import_csv(sessions, TENANT, b"name,email\r\nA,a@x.com,extra\r\nB,b@x.com\r\n")
    assert report.errors == [RowError(2, "(row)", "has 3 values but the header has 2 columns")]
    assert report.created == 1


def test_a_custom_value_too_long_is_an_error_of_its_column(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    raw = b"name,email,custom.segment\r\nA,a@x.com," + b"x" * 1001 + b"\r\nB,b@x.com,smb\r\n"
    report = import_csv(sessions, TENANT, raw)
    reason = "value of 'segment' is 1001 characters long; the limit is 1000"
    assert report.errors == [RowError(2, "custom.segment", reason)]
    assert report.created == 1


def test_progress_is_reported(sessions: sessionmaker[Session], tenant_id: int) -> None:
    # One domain each: customers sharing a company domain are duplicates, skipped.
    raw = "name,email\r\n" + "".join(f"C {i},ap@c{i}.com\r\n" for i in range(1200))
    seen: list[tuple[str, int, int]] = []
    report = import_csv(sessions, TENANT, raw.encode(), progress=lambda *a: seen.append(a))
    assert report.created == 1200
    assert ("checking", 1200, 1200) in seen and seen[-1] == ("writing", 1200, 1200)


def test_a_semicolon_separated_export_is_read_by_its_header(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Found by trying it: Excel in Germany and France writes ';' between cells (the comma
    is their decimal mark); the import stopped at "unknown column 'name;email;...'"."""
    raw = (
        "Name;Email;Billing Country;Credit Limit;Notes\r\n"
        'Müller GmbH;m@mueller.de;DE;1000.50;"Lieferung, bitte"\r\n'
        "Dupont SA;d@dupont.fr;FR;;\r\n"
    ).encode()
    report = import_csv(sessions, TENANT, raw)
    assert (report.created, report.errors) == (2, [])
    with sessions() as session:
        rows = session.execute(select(Customer.name, Customer.credit_limit, Customer.notes).order_by(Customer.id)).all()  # fmt: skip
    assert rows == [
        ("Müller GmbH", Decimal("1000.50"), "Lieferung, bitte"),
        ("Dupont SA", None, None),
    ]
    tabbed = b"name\temail\r\nTab Ltd\tt@tab.co.uk\r\n"
    assert import_csv(sessions, TENANT, tabbed).created == 1
    with pytest.raises(FileProblem, match="unknown column"):  # neither splits it: named as read
        import_csv(sessions, TENANT, b"name|email\r\nX|x@x.com\r\n")


def test_cells_that_begin_like_a_formula_are_refused_not_stored(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    raw = (
        b"name,email,phone,credit_limit,notes,billing_city\r\n"
        b'=HYPERLINK("http://x"),f1@x.com,,,,\r\n'  # 2
        b"Good GmbH,f2@x.com,+49 30 1234567,,@SUM(A1),\r\n"  # 3: notes
        b"Fine AG,f3@x.com,+49 30 1234568,-0,,-Bonn\r\n"  # 4: city; the signs in number columns are fine
        b"Plain Ltd,f4@x.com,+44 20 7946 0000,2500,,London\r\n"  # 5: good
    )
    report = import_csv(sessions, TENANT, raw)
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "name"),
        (3, "notes"),
        (4, "billing_city"),
    ]
    assert "spreadsheet formula" in report.errors[0].reason
    assert report.created == 1
    with sessions() as session:
        assert session.scalars(select(Customer.name)).all() == ["Plain Ltd"]
