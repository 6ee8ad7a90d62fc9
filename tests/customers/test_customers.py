"""The customer service on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from customers import contacts, db, service
from customers.custom_properties import CustomChanges
from customers.errors import DuplicateEmail, InvalidInput, Refused, StaleVersion
from customers.models import Customer, OutboxEntry
from customers.sync_state import Connection, ExternalLink
from tests.customers.helpers import row_counts

ACME = {"name": "Acme Corp", "email": "AP@Acme.com", "billing_country": "DE"}


def create(sessions: sessionmaker[Session], tenant_id: int, **data: Any) -> int:
    with db.transaction(sessions) as session:
        return service.create_customer(session, tenant_id, {**ACME, **data}).id


def outbox(sessions: sessionmaker[Session]) -> list[tuple[str, int, str, list[str]]]:
    with sessions() as session:
        rows = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))
        return [(r.entity_type, r.entity_id, r.operation, r.fields) for r in rows]


def test_create_normalizes_and_writes_an_outbox_row(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(
        sessions, tenant_id, phone="030 1234567", website="www.acme.de", credit_limit="2500.5",
        currency="eur", payment_terms_days="net 30",
    )  # fmt: skip
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        assert (customer.email, customer.phone, customer.domain) == (
            "ap@acme.com",
            "+49301234567",
            "acme.de",
        )
        assert customer.credit_limit == Decimal("2500.50")
        assert (customer.currency, customer.payment_terms_days, customer.version) == ("EUR", 30, 1)
        assert customer.can_be_invoiced
    assert outbox(sessions) == [
        ("customer", customer_id, "create",
         sorted(["name", "email", "billing_country", "phone", "website", "domain", "credit_limit",
                 "currency", "payment_terms_days"])),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"email": "not-an-email"}, "email", "not a valid email"),
        ({"email": None}, "email", "is required"),
        ({"name": ""}, "name", "is required"),
        ({"billing_country": "Narnia"}, "billing_country", "ISO 3166"),
        ({"currency": "ABC"}, "currency", "ISO 4217"),
        ({"credit_limit": "-10"}, "credit_limit", "negative"),
        ({"customer_type": "reseller"}, "customer_type", "business, consumer, government"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int,
    data: dict[str, Any], field: str, reason: str,
) -> None:  # fmt: skip
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as caught:
        create(sessions, tenant_id, **data)
    assert caught.value.errors[0].field == field
    assert reason in caught.value.errors[0].reason
    assert row_counts(engine) == before


def test_email_in_another_case_is_a_duplicate(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    first = create(sessions, tenant_id)
    before = row_counts(engine)
    with pytest.raises(DuplicateEmail) as caught:
        create(sessions, tenant_id, name="Acme Again", email="ap@ACME.COM")
    assert caught.value.existing_id == first
    assert "ap@acme.com is already used by customer" in str(caught.value)
    assert row_counts(engine) == before


def test_same_email_is_fine_in_another_tenant(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        other = service.get_tenant(session, "other-books").id
        # A new tenant requires a billing address (tests/customers/test_billing.py).
        address = {"billing_street": "1 Main St", "billing_city": "Austin", "billing_country": "US"}
        assert service.create_customer(session, other, {**ACME, **address}).email == "ap@acme.com"


def test_stale_version_is_refused(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer_id, {"name": "Acme One"}, expected_version=1
        )
    before = row_counts(engine)
    with (
        pytest.raises(StaleVersion, match="version 1, it is now at version 2"),
        db.transaction(sessions) as session,
    ):
        service.update_customer(
            session, tenant_id, customer_id, {"name": "Acme Two"}, expected_version=1
        )
    assert row_counts(engine) == before
    with sessions() as session:
        assert session.get(Customer, customer_id).name == "Acme One"  # type: ignore[union-attr]


def test_two_writers_cannot_silently_overwrite_each_other(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """A writer that read the record before someone else changed it cannot save over that
    change: read, someone else writes, then write from the stale copy."""
    customer_id = create(sessions, tenant_id)
    with sessions() as reader:
        stale = reader.get(Customer, customer_id)
        assert stale is not None
        reader.commit()
        with db.transaction(sessions) as other:
            service.update_customer(other, tenant_id, customer_id, {"notes": "mine"})
        stale.notes = "theirs"
        with pytest.raises(StaleDataError):
            reader.commit()
    with pytest.raises(StaleVersion), db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer_id, {"notes": "theirs"}, expected_version=1
        )
    with sessions() as session:
        assert session.get(Customer, customer_id).notes == "mine"  # type: ignore[union-attr]


def test_update_that_changes_nothing_writes_nothing(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    before = row_counts(engine)
    with db.transaction(sessions) as session:
        customer = service.update_customer(
            session, tenant_id, customer_id, {"email": "AP@ACME.COM", "name": " Acme  Corp "}
        )
        assert customer.version == 1
    assert row_counts(engine) == before


def test_update_writes_only_changed_fields_to_the_outbox(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer_id, {"name": "Acme Corp", "phone": "+49 30 999999"}
        )
    assert outbox(sessions)[-1] == ("customer", customer_id, "update", ["phone"])


def test_archive_hides_from_lists_and_reactivate_brings_back(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    create(sessions, tenant_id, name="Beta", email="b@beta.io")
    with db.transaction(sessions) as session:
        service.archive_customer(session, tenant_id, customer_id)
        rows, total = service.list_customers(session, tenant_id)
        assert [r.name for r in rows] == ["Beta"] and total == 1
        rows, total = service.list_customers(session, tenant_id, include_archived=True)
        assert total == 2
        assert not service.get_customer(session, tenant_id, customer_id).can_be_invoiced
    with db.transaction(sessions) as session:
        service.reactivate_customer(session, tenant_id, customer_id)
        assert service.list_customers(session, tenant_id)[1] == 2


def test_blocked_stays_listed_but_cannot_be_invoiced(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        customer = service.block_customer(session, tenant_id, customer_id)
        assert customer.status == "blocked" and not customer.can_be_invoiced
        assert service.list_customers(session, tenant_id)[1] == 1


def test_inactive_is_hidden_from_routine_lists_only(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer_id, {"status": "inactive"})
        assert service.list_customers(session, tenant_id, include_inactive=False)[1] == 0
        assert service.list_customers(session, tenant_id, status="inactive")[1] == 1


def test_soft_delete_keeps_the_row_and_frees_the_email(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        service.delete_customer(session, tenant_id, customer_id)
    with db.transaction(sessions) as session:
        assert service.get_customer(session, tenant_id, customer_id).deleted_at is not None
        assert service.list_customers(session, tenant_id, include_archived=True)[1] == 0
        with pytest.raises(Refused, match="deleted"):
            service.update_customer(session, tenant_id, customer_id, {"name": "x"})
    new_id = create(sessions, tenant_id)
    assert new_id != customer_id
    assert outbox(sessions)[1] == ("customer", customer_id, "delete", ["deleted_at"])


def test_purge_is_refused_while_referenced(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        service.add_reference(
            session, tenant_id, customer_id, system="billing", reference="INV-1001"
        )
    before = row_counts(engine)
    with pytest.raises(Refused, match="billing:INV-1001"), db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, customer_id)
    assert row_counts(engine) == before


def test_purge_is_refused_while_linked_to_a_crm(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        connection = Connection(tenant_id=tenant_id, provider="hubspot", account_id="42", name="hs")
        session.add(connection)
        session.flush()
        session.add(ExternalLink(connection_id=connection.id, object_type="company", external_id="9",
                                 local_type="customer", local_id=customer_id))  # fmt: skip
    with pytest.raises(Refused, match="1 CRM link"), db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, customer_id)


def test_purge_removes_an_unreferenced_customer(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, customer_id)
    with sessions() as session:
        assert session.get(Customer, customer_id) is None
    assert outbox(sessions)[-1] == ("customer", customer_id, "purge", [])


def test_crm_created_customer_may_lack_an_email(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        customer = service.create_customer(
            session, tenant_id, {"name": "Globex"}, origin_connection_id=7
        )
        assert customer.email is None and not customer.can_be_invoiced
    assert outbox(sessions)[-1][2] == "create"


def test_tax_address_is_shipping_if_given_else_billing(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, billing_city="Köln")
    with db.transaction(sessions) as session:
        customer = service.get_customer(session, tenant_id, customer_id)
        assert customer.tax_address["city"] == "Köln"
        service.update_customer(
            session, tenant_id, customer_id, {"shipping_city": "Lyon", "shipping_country": "FR"}
        )
        assert customer.tax_address == {
            "street": None, "street2": None, "city": "Lyon", "region": None, "postal_code": None, "country": "FR",
        }  # fmt: skip


def test_a_partial_shipping_address_never_replaces_the_billing_one(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Found by trying it: after --set shipping_street2="c/o Dock 4" the tax address was
    that one line, with no country."""
    customer_id = create(sessions, tenant_id, billing_street="Domstr. 1", billing_city="Köln",
                         billing_postal_code="50667")  # fmt: skip
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer_id, {"shipping_street2": "c/o Dock 4"})
        customer = service.get_customer(session, tenant_id, customer_id)
        assert (customer.tax_address["city"], customer.tax_address["country"]) == ("Köln", "DE")
        service.update_customer(session, tenant_id, customer_id, {"shipping_country": "AT"})
        assert customer.tax_address["country"] == "DE"  # a country with no place: still billing
        service.update_customer(session, tenant_id, customer_id, {"shipping_postal_code": "1010"})
        assert (customer.tax_address["postal_code"], customer.tax_address["country"]) == (
            "1010",
            "AT",
        )


TEXT_FIELDS = {  # a value of the column's full length for every free-text field
    "customer": ("name", "registration_number", "billing_street", "billing_street2",
                 "billing_city", "billing_region", "billing_postal_code", "shipping_street",
                 "shipping_street2", "shipping_city", "shipping_region", "shipping_postal_code"),
    "contact": ("first_name", "last_name", "job_title"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(TEXT_FIELDS))
def test_a_text_field_takes_what_its_column_holds_and_refuses_one_more_character(
    sessions: sessionmaker[Session], tenant_id: int, kind: str
) -> None:
    """Found by attacking the CLI: validators allowed 300 characters for a city and a
    contact's first name, the columns hold 120, and PostgreSQL's DataError reached the
    user. The columns are now the one source of the limits."""
    from customers import contacts
    from customers.fields import CONTACT_LIMITS, CUSTOMER_LIMITS

    limits = CUSTOMER_LIMITS if kind == "customer" else CONTACT_LIMITS
    owner = create(sessions, tenant_id)
    for field in TEXT_FIELDS[kind]:
        limit = limits[field]
        full = "x" * limit
        with db.transaction(sessions) as session:  # fits: stored whole
            if kind == "customer":
                service.update_customer(session, tenant_id, owner, {field: full})
            else:
                contacts.add_contact(session, tenant_id, owner, {"first_name": "Ann", field: full})
        with pytest.raises(InvalidInput) as caught, db.transaction(sessions) as session:
            if kind == "customer":
                service.update_customer(session, tenant_id, owner, {field: full + "x"})
            else:
                contacts.add_contact(
                    session, tenant_id, owner, {"first_name": "Ann", field: full + "x"}
                )
        assert [(e.field, e.reason) for e in caught.value.errors] == [
            (field, f"is {limit + 1} characters long; the limit is {limit}")
        ]


def test_a_category_is_one_of_the_taxonomy_and_says_who_decided(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Found by trying it: --set category=bogus --set subcategory=zzz was stored, and the
    source stayed "rules"; a category a CRM set had no source, confidence or time."""
    customer_id = create(sessions, tenant_id)
    for change, field in (({"category": "bogus"}, "category"),
                          ({"category": "finance", "subcategory": "zzz"}, "subcategory"),
                          ({"subcategory": "banking"}, "subcategory"),  # no category yet
                          ({"category_source": "rules"}, "category_source")):  # fmt: skip
        with pytest.raises(InvalidInput) as caught, db.transaction(sessions) as session:
            service.update_customer(session, tenant_id, customer_id, change)
        assert [e.field for e in caught.value.errors] == [field]
    with db.transaction(sessions) as session:
        customer = service.update_customer(
            session, tenant_id, customer_id, {"category": "finance", "subcategory": "banking"}
        )
        assert (customer.category_source, customer.category_confidence) == ("manual", 1.0)
        assert customer.categorized_at is not None
    with db.transaction(sessions) as session:
        connection = Connection(tenant_id=tenant_id, provider="hubspot", account_id="1", name="p")
        session.add(connection)
        session.flush()
        customer = service.update_customer(session, tenant_id, customer_id, {"category": "technology"},
                                           origin_connection_id=connection.id)  # fmt: skip
        assert (customer.category, customer.subcategory) == ("technology", None)
        assert customer.category_source == f"crm:connection {connection.id}"
        assert customer.category_confidence is None


def test_a_phone_typed_here_holds_a_number_but_a_crms_text_is_kept(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Found by trying it: --phone "call me maybe" was stored as given. What a person types
    must hold a number; a CRM's own text (a "reception" in the phone field) is kept as the
    CRM holds it, since refusing it would fail the whole record."""
    customer_id = create(sessions, tenant_id)
    with pytest.raises(InvalidInput) as caught, db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer_id, {"phone": "call me maybe"})
    assert [(e.field, e.reason) for e in caught.value.errors] == [
        ("phone", "'call me maybe' is not a phone number (it has fewer than 3 digits)")
    ]
    with db.transaction(sessions) as session:
        for typed in ("ext. 123", "+49 30 1234567", "0800 FLOWERS 123"):
            service.update_customer(session, tenant_id, customer_id, {"phone": typed})
        connection = Connection(tenant_id=tenant_id, provider="hubspot", account_id="9", name="p")
        session.add(connection)
        session.flush()
        customer = service.update_customer(session, tenant_id, customer_id, {"phone": "reception"},
                                           origin_connection_id=connection.id)  # fmt: skip
        assert customer.phone == "reception"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Acme\x00"), ("billing_city", "K\x00ln"), ("notes", "\x00"), ("tax_id", "DE\x001")],
)
def test_a_nul_in_a_text_field_is_refused_naming_it_and_writes_nothing(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int, field: str, value: str
) -> None:
    # PostgreSQL text cannot hold a NUL: it reached SQL as a DataError (a traceback in the
    # CLI), while SQLite stored it.
    with db.transaction(sessions) as session:
        customer = service.create_customer(
            session, tenant_id, {"name": "Acme", "email": "ap@acme.io"}
        )
        contact_id = contacts.add_contact(session, tenant_id, customer.id, {"first_name": "A"}).id
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as new, db.transaction(sessions) as session:
        service.create_customer(session, tenant_id, {"name": "B", "email": "b@b.io", field: value})
    assert [e.field for e in new.value.errors] == [field] and "NUL" in new.value.errors[0].reason
    with pytest.raises(InvalidInput), db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {field: value})
    with pytest.raises(InvalidInput) as contact, db.transaction(sessions) as session:
        contacts.update_contact(session, tenant_id, contact_id, {"department": value})
    assert contact.value.errors[0].field == "department"
    with pytest.raises(InvalidInput), db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer.id, {}, custom=CustomChanges(set={"segment": value})
        )
    assert row_counts(engine) == before


def test_a_concurrent_write_found_at_flush_names_no_unknown_versions() -> None:
    """SQLAlchemy finds a concurrent write at flush time without either version: the
    message says what happened rather than "version None"."""
    message = str(StaleVersion("customer", 47, None, None))
    assert message == (
        "customer 47 was changed by someone else while this change was written; "
        "read it again and retry"
    )
    assert "None" not in message


def test_a_units_savepoint_is_the_only_one_and_an_error_rolls_the_whole_unit_back(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """A sync page applies each record in one savepoint (``unit_savepoint``): the
    service's writes inside it open none of their own, and an error in one of them
    rolls back the unit's earlier writes too, leaving the transaction usable."""
    first = create(sessions, tenant_id)
    second = create(sessions, tenant_id, name="Globex", email="ap@globex.com")
    savepoints: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.upper().startswith("SAVEPOINT"):
            savepoints.append(statement)

    with db.transaction(sessions) as session:
        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            with service.unit_savepoint(session):
                service.update_customer(session, tenant_id, first, {"billing_city": "Bonn"})
            assert len(savepoints) == 1
            with pytest.raises(DuplicateEmail), service.unit_savepoint(session):
                service.update_customer(session, tenant_id, second, {"billing_city": "Köln"})
                service.update_customer(session, tenant_id, second, {"email": "ap@acme.com"})
            assert len(savepoints) == 2
            # Outside a unit each write keeps its own savepoint.
            service.update_customer(session, tenant_id, second, {"notes": "kept"})
            assert len(savepoints) == 3
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)
    with sessions() as session:
        one, two = session.get(Customer, first), session.get(Customer, second)
        assert one is not None and two is not None
        assert (one.billing_city, two.billing_city, two.email, two.notes) == (
            "Bonn",
            None,
            "ap@globex.com",
            "kept",
        )
