"""``create_customers``: the bulk path keeps every rule of ``create_customer``."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers import service
from customers.db import transaction
from customers.errors import DuplicateEmail, InvalidInput
from customers.models import Contact, Customer, OutboxEntry
from tests.customers.helpers import row_counts


def test_ids_come_back_in_row_order_with_contacts_and_outbox_rows(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with transaction(sessions) as session:
        service.create_customer(session, tenant_id, {"name": "First", "email": "first@x.com"})
        service.delete_customer(session, tenant_id, 1)  # ids need not start anywhere special
        prepared = [
            service.prepare_customer(
                {"name": f"Customer {i}", "email": f"C{i}@Example.com", "billing_country": "FR"},
                primary_contact={"first_name": f"Person {i}", "phone": "01 42 68 53 00"}
                if i % 2
                else None,
            )
            for i in range(5)
        ]
        ids = service.create_customers(session, tenant_id, prepared)
    with sessions() as session:
        customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
        contacts = list(session.scalars(select(Contact).order_by(Contact.id)))
        outbox = list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))
    assert [customers[i].name for i in ids] == [f"Customer {i}" for i in range(5)]
    assert [customers[i].email for i in ids] == [f"c{i}@example.com" for i in range(5)]
    assert all(customers[i].version == 1 and customers[i].status == "active" for i in ids)
    assert [(c.customer_id, c.first_name, c.is_primary, c.phone) for c in contacts] == [
        (ids[1], "Person 1", True, "+33142685300"),
        (ids[3], "Person 3", True, "+33142685300"),
    ]
    created = [(o.entity_type, o.entity_id) for o in outbox if o.operation == "create"][1:]
    assert created == [("customer", i) for i in ids] + [("contact", c.id) for c in contacts]


def test_a_duplicate_email_writes_nothing(sessions: sessionmaker[Session], tenant_id: int) -> None:
    with transaction(sessions) as session:
        service.create_customer(session, tenant_id, {"name": "Acme", "email": "ap@acme.com"})
    before = row_counts(sessions.kw["bind"])
    for batch in (
        [{"name": "A", "email": "a@x.com"}, {"name": "B", "email": "AP@acme.com"}],
        [{"name": "A", "email": "a@x.com"}, {"name": "A2", "email": "A@X.com"}],
    ):
        with transaction(sessions) as session, pytest.raises(DuplicateEmail):
            service.create_customers(session, tenant_id, batch)
    assert row_counts(sessions.kw["bind"]) == before


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as raised:
        service.prepare_customer(
            {"name": " ", "email": "ok@x.com", "billing_country": "Narnia"},
            primary_contact={"last_name": "Lee", "email": "nope"},
        )
    assert sorted(str(e) for e in raised.value.errors) == [
        "billing_country: 'Narnia' is not an ISO 3166 country code or name",
        "contact.email: 'nope' is not a valid email address (An email address must have an @-sign.)",
        "contact.first_name: is required",
        "name: is required",
    ]
