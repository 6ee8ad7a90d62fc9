"""Invoice delivery settings and where an invoice goes, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from customers import contacts, db, service
from customers.delivery import MAX_RECIPIENTS, InvoiceToSource, invoice_to
from customers.errors import InvalidInput
from tests.customers.helpers import row_counts


def create(sessions: sessionmaker[Session], tenant_id: int, **fields: object) -> int:
    with db.transaction(sessions) as session:
        data = {"name": "Acme Corporation", "email": "ap@acme.example", **fields}
        return service.create_customer(session, tenant_id, data).id


def test_delivery_settings_are_checked_and_lists_deduplicated(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(
        sessions,
        tenant_id,
        invoice_sender_email="Billing@Seller.example",
        invoice_reply_to="accounts@seller.example",
        invoice_recipients="AP@acme.example; invoices@acme.example, ap@ACME.example",
        invoice_cc=["cfo@acme.example"],
    )
    with sessions() as session:
        customer = service.get_customer(session, tenant_id, customer_id)
        assert customer.invoice_sender_email == "billing@seller.example"
        assert customer.invoice_reply_to == "accounts@seller.example"
        assert customer.invoice_recipients == ["ap@acme.example", "invoices@acme.example"]
        assert customer.invoice_cc == ["cfo@acme.example"]
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer_id, {"invoice_cc": ""})
    with sessions() as session:
        assert service.get_customer(session, tenant_id, customer_id).invoice_cc == []


def test_a_customer_without_delivery_settings_has_empty_lists(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        ids = service.create_customers(
            session,
            tenant_id,
            [
                {"name": "One", "email": "one@one.example", "invoice_cc": "x@one.example"},
                {"name": "Two", "email": "two@two.example"},
            ],
        )
    with sessions() as session:
        one, two = (service.get_customer(session, tenant_id, i) for i in ids)
        assert (one.invoice_cc, one.invoice_recipients) == (["x@one.example"], [])
        assert (two.invoice_cc, two.invoice_recipients) == ([], [])
    single = create(sessions, tenant_id, name="Three", email="three@three.example")
    with sessions() as session:
        assert service.get_customer(session, tenant_id, single).invoice_recipients == []


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"invoice_recipients": ["ok@acme.example", "not an email"]}, ["invoice_recipients[2]"]),
        ({"invoice_cc": "a@b.example; @nope"}, ["invoice_cc[2]"]),
        ({"invoice_sender_email": "nobody"}, ["invoice_sender_email"]),
        (
            {"invoice_reply_to": "x@", "invoice_recipients": ["y"]},
            ["invoice_reply_to", "invoice_recipients[1]"],
        ),
        (
            {"invoice_recipients": [f"r{n}@acme.example" for n in range(MAX_RECIPIENTS + 1)]},
            ["invoice_recipients"],
        ),
        ({"invoice_recipients": 7}, ["invoice_recipients"]),
    ],
)
def test_a_bad_delivery_setting_names_the_field_and_writes_nothing(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant_id: int,
    changes: dict[str, object],
    fields: list[str],
) -> None:
    customer_id = create(sessions, tenant_id)
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as raised, db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer_id, {**changes, "notes": "x"})
    assert [problem.field for problem in raised.value.errors] == fields
    assert row_counts(engine) == before
    with sessions() as session:
        assert service.get_customer(session, tenant_id, customer_id).notes is None


def test_invoice_to_follows_the_hierarchy(sessions: sessionmaker[Session], tenant_id: int) -> None:
    customer_id = create(sessions, tenant_id)

    def where() -> tuple[list[str], InvoiceToSource]:
        with sessions() as session:
            found = invoice_to(service.get_customer(session, tenant_id, customer_id))
            return found.addresses, found.source

    # 4. the customer's email
    assert where() == (["ap@acme.example"], InvoiceToSource.CUSTOMER_EMAIL)
    with db.transaction(sessions) as session:
        # A billing contact without an email, and a primary one without: passed over.
        contacts.add_contact(
            session, tenant_id, customer_id, {"first_name": "X", "roles": "billing"}
        )
        contacts.add_contact(
            session, tenant_id, customer_id, {"first_name": "P", "roles": "primary"}
        )
        billing = contacts.add_contact(
            session,
            tenant_id,
            customer_id,
            {"first_name": "Bea", "email": "bea@acme.example", "roles": "billing"},
        )
        billing_id = billing.id
    # 3. the billing-role contact
    assert where() == (["bea@acme.example"], InvoiceToSource.BILLING_CONTACT)
    with db.transaction(sessions) as session:
        primary = contacts.add_contact(
            session,
            tenant_id,
            customer_id,
            {"first_name": "Pat", "email": "pat@acme.example", "roles": "primary"},
        )
        primary_id = primary.id
    # 2. the primary contact
    assert where() == (["pat@acme.example"], InvoiceToSource.PRIMARY_CONTACT)
    with db.transaction(sessions) as session:
        service.update_customer(
            session,
            tenant_id,
            customer_id,
            {"invoice_recipients": "inv@acme.example, ap2@acme.example"},
        )
    # 1. the recipients, all of them
    assert where() == (["inv@acme.example", "ap2@acme.example"], InvoiceToSource.RECIPIENTS)

    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer_id, {"invoice_recipients": []})
        contacts.remove_contact(session, tenant_id, primary_id)
        contacts.remove_contact(session, tenant_id, billing_id)
    assert where() == (["ap@acme.example"], InvoiceToSource.CUSTOMER_EMAIL)
    with db.transaction(sessions) as session:
        nowhere = service.create_customer(
            session, tenant_id, {"name": "CRM Co"}, origin_connection_id=None, email_required=False
        )
        assert invoice_to(nowhere).source is InvoiceToSource.NONE
        assert invoice_to(nowhere).addresses == []


def test_contact_communications_department_and_notes(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        contact = contacts.add_contact(
            session,
            tenant_id,
            customer_id,
            {
                "first_name": "Ann",
                "communications": ["Billing", "legal", "billing", "security-notices"],
                "department": "  Accounts   payable ",
                "notes": "Prefers email",
            },
        )
        contact_id = contact.id
        assert contact.communications == ["billing", "legal", "security-notices"]
        assert (contact.department, contact.notes) == ("Accounts payable", "Prefers email")
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as raised, db.transaction(sessions) as session:
        contacts.update_contact(
            session,
            tenant_id,
            contact_id,
            {"communications": ["updates", "2fa", "News Letter"], "department": "x" * 121},
        )
    assert [e.field for e in raised.value.errors] == [
        "communications[2]",
        "communications[3]",
        "department",
    ]
    assert row_counts(engine) == before
