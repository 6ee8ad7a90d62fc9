"""Tax and billing settings, legal entities and the billing-address rule, through the
service layer on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.billing import normalize_tax_rate
from customers.errors import FieldError, InvalidInput, NotFound, Refused
from customers.importer import import_csv
from customers.legal_entities import (
    add_legal_entity,
    check_legal_entity,
    list_legal_entities,
    remove_legal_entity,
)
from customers.models import Customer
from tests.customers.helpers import row_counts

ADDRESS = {"billing_street": "Hauptstr. 1", "billing_city": "Berlin", "billing_country": "DE"}
ACME = {"name": "Acme GmbH", "email": "ap@acme.de"}
REQUIRED = "is required (the tenant requires a billing address: street, city and country)"


@pytest.fixture
def strict_tenant(sessions: sessionmaker[Session]) -> int:
    """A new tenant, with its defaults: a billing address required."""
    with db.transaction(sessions) as session:
        tenant = service.get_tenant(session, "strict-books")
        assert tenant.require_billing_address is True
        return tenant.id


def create(sessions: sessionmaker[Session], tenant_id: int, data: dict[str, Any], **kw: Any) -> int:
    with db.transaction(sessions) as session:
        return service.create_customer(session, tenant_id, data, **kw).id


def load(sessions: sessionmaker[Session], customer_id: int) -> Customer:
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        session.expunge(customer)
        return customer


def test_a_new_customer_has_the_billing_defaults(
    sessions: sessionmaker[Session], strict_tenant: int
) -> None:
    customer = load(sessions, create(sessions, strict_tenant, {**ACME, **ADDRESS}))
    assert customer.tax_rate == Decimal("0.00") and str(customer.tax_rate) == "0.00"
    assert (customer.tax_exemption, customer.invoicing_flow) == ("none", "automatic")
    assert (customer.auto_pay, customer.portal_enabled) == (False, False)
    assert customer.notify_invoice_issued and customer.notify_payment_reminder
    assert customer.incomplete is False and customer.missing_fields == []


def test_billing_settings_are_stored_normalized(
    sessions: sessionmaker[Session], strict_tenant: int
) -> None:
    data = {**ACME, **ADDRESS, "tax_rate": "7.5 %", "tax_country": "Deutschland",
            "tax_exemption": "Reverse-Charge", "invoicing_flow": "DRAFT", "auto_pay": "yes",
            "notify_payment_received": "off", "portal_enabled": True,
            "sales_rep_email": "Sam.Rep@Example.com", "sales_rep_name": " Sam  Rep "}  # fmt: skip
    customer = load(sessions, create(sessions, strict_tenant, data))
    assert (str(customer.tax_rate), customer.tax_country) == ("7.50", "DE")
    assert (customer.tax_exemption, customer.invoicing_flow) == ("reverse_charge", "draft")
    assert (customer.auto_pay, customer.notify_payment_received, customer.portal_enabled) == (
        True,
        False,
        True,
    )
    assert (customer.sales_rep_email, customer.sales_rep_name) == ("sam.rep@example.com", "Sam Rep")


@pytest.mark.parametrize(
    ("given", "kept"), [("19", "19.00"), ("0.0125", "0.0125"), ("100", "100.00"), ("", "0.00")]
)
def test_a_tax_rate_is_an_exact_percent(given: str, kept: str) -> None:
    assert str(normalize_tax_rate(given)) == kept


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("100.01", "must be between 0 and 100"),
        ("-1", "must be between 0 and 100"),
        ("19,5", "is not a percent"),
        ("0.00001", "has more than 4 decimal places"),
        ("lots", "is not a percent"),
    ],
)
def test_a_bad_billing_value_names_the_field_and_writes_nothing(
    sessions: sessionmaker[Session], strict_tenant: int, given: str, reason: str
) -> None:
    before = row_counts(sessions.kw["bind"])
    with pytest.raises(InvalidInput) as caught:
        create(sessions, strict_tenant, {**ACME, **ADDRESS, "tax_rate": given})
    assert [error.field for error in caught.value.errors] == ["tax_rate"]
    assert reason in caught.value.errors[0].reason
    assert row_counts(sessions.kw["bind"]) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tax_exemption", "sometimes"),
        ("invoicing_flow", "weekly"),
        ("auto_pay", "maybe"),
        ("tax_country", "Atlantis"),
        ("sales_rep_email", "sam at example"),
    ],
)
def test_each_bad_setting_is_named(
    sessions: sessionmaker[Session], strict_tenant: int, field: str, value: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        create(sessions, strict_tenant, {**ACME, **ADDRESS, field: value})
    assert [error.field for error in caught.value.errors] == [field]


def test_a_customer_added_by_hand_needs_a_billing_address_where_the_tenant_says(
    sessions: sessionmaker[Session], strict_tenant: int
) -> None:
    before = row_counts(sessions.kw["bind"])
    with pytest.raises(InvalidInput) as caught:
        create(sessions, strict_tenant, {**ACME, "billing_country": "DE"})
    assert caught.value.errors == [
        FieldError("billing_street", REQUIRED),
        FieldError("billing_city", REQUIRED),
    ]
    assert row_counts(sessions.kw["bind"]) == before
    customer_id = create(sessions, strict_tenant, {**ACME, **ADDRESS})
    with db.transaction(sessions) as session, pytest.raises(InvalidInput) as blanked:
        service.update_customer(session, strict_tenant, customer_id, {"billing_city": " "})
    assert blanked.value.errors == [FieldError("billing_city", REQUIRED)]


def test_the_rule_can_be_turned_off_and_a_crm_customer_is_only_flagged(
    sessions: sessionmaker[Session], strict_tenant: int, tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        crm = service.create_customer(
            session, strict_tenant, {"name": "From HubSpot"}, origin_connection_id=7
        )
        crm_id = crm.id
        assert crm.incomplete is True
        assert crm.missing_fields == ["email", "billing_street", "billing_city", "billing_country"]
    relaxed = create(sessions, tenant_id, ACME)  # the tenant_id fixture's tenant: rule off
    complete = create(sessions, strict_tenant, {**ACME, **ADDRESS})
    with sessions() as session:
        rows, total = service.list_customers(session, strict_tenant, incomplete=True)
        assert ([row.id for row in rows], total) == ([crm_id], 1)
        assert service.list_customers(session, tenant_id, incomplete=True)[1] == 1
        assert complete != relaxed


def test_the_import_needs_a_billing_address_where_the_tenant_says(
    sessions: sessionmaker[Session], strict_tenant: int
) -> None:
    raw = (
        b"name,email,billing_street,billing_city,billing_country,tax_rate,legal_entity\r\n"
        b"Good GmbH,a@good.de,Hauptstr. 1,Berlin,DE,19,\r\n"
        b"No Street AG,b@nostreet.de,,Berlin,DE,19,\r\n"
        b"Bad Rate AG,c@badrate.de,Hauptstr. 1,Berlin,DE,190,\r\n"
        b"Unknown Entity AG,d@unknown.de,Hauptstr. 1,Berlin,DE,,XX\r\n"
    )
    report = import_csv(sessions, "strict-books", raw)
    assert report.created == 1
    assert [(error.row, error.column) for error in report.errors] == [
        (3, "billing_street"),
        (4, "tax_rate"),
        (5, "legal_entity"),
    ]


def test_legal_entities_are_per_tenant_and_kept_while_used(
    sessions: sessionmaker[Session], strict_tenant: int, tenant_id: int
) -> None:
    entity = check_legal_entity("acme-de", name="Acme GmbH", country="Germany", tax_id="de 123")
    assert (entity.code, entity.country, entity.tax_id) == ("ACME-DE", "DE", "DE123")
    with db.transaction(sessions) as session:
        add_legal_entity(session, strict_tenant, entity)
    with db.transaction(sessions) as session, pytest.raises(Refused, match="exists already"):
        add_legal_entity(session, strict_tenant, entity)
    customer_id = create(sessions, strict_tenant, {**ACME, **ADDRESS, "legal_entity": "Acme-De"})
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.legal_entity is not None
        assert customer.legal_entity.code == "ACME-DE"
        assert [(e.code, n) for e, n in list_legal_entities(session, strict_tenant)] == [
            ("ACME-DE", 1)
        ]
    # Another tenant's code is one that does not exist.
    with pytest.raises(InvalidInput) as caught:
        create(sessions, tenant_id, {**ACME, "legal_entity": "ACME-DE"})
    assert caught.value.errors[0].field == "legal_entity"
    assert "no legal entity ACME-DE" in caught.value.errors[0].reason
    with db.transaction(sessions) as session, pytest.raises(NotFound):
        remove_legal_entity(session, tenant_id, "ACME-DE")
    with db.transaction(sessions) as session, pytest.raises(Refused, match="used by 1 customer"):
        remove_legal_entity(session, strict_tenant, "acme-de")
    with db.transaction(sessions) as session:
        service.update_customer(session, strict_tenant, customer_id, {"legal_entity": ""})
    with db.transaction(sessions) as session:
        remove_legal_entity(session, strict_tenant, "ACME-DE")
        assert list_legal_entities(session, strict_tenant) == []


def test_existing_rows_take_the_defaults_when_the_columns_arrive(engine: Engine) -> None:
    """0010: customers and tenants that exist before it get the defaults."""
    db.downgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at) VALUES (7, 's', 'S', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO customers (id, tenant_id, name, customer_type, status, "
                "custom_properties, version, created_at, updated_at) VALUES "
                "(5, 7, 'Acme', 'business', 'active', '{}', 1, '2026-01-01', '2026-01-01')"
            )
        )
    db.upgrade(engine)
    with db.session_factory(engine)() as session:
        customer = session.get(Customer, 5)
        assert customer is not None
        assert (customer.tax_rate, customer.tax_exemption, customer.invoicing_flow) == (
            Decimal("0.00"),
            "none",
            "automatic",
        )
        assert (customer.auto_pay, customer.notify_invoice_issued) == (False, True)
        assert session.execute(text("SELECT require_billing_address FROM tenants")).scalar()


def test_a_downgrade_keeps_customers_and_what_references_them(engine: Engine) -> None:
    """0010 down on SQLite rebuilds customers: contacts and references must survive it."""
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO tenants (id, slug, name, created_at, require_billing_address) "
            "VALUES (7, 's', 'S', '2026-01-01', true)",
            "INSERT INTO customers (id, tenant_id, name, customer_type, status, "
            "custom_properties, version, created_at, updated_at) VALUES "
            "(5, 7, 'Acme', 'business', 'active', '{}', 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO contacts (id, tenant_id, customer_id, first_name, roles, is_primary, "
            "version, created_at, updated_at) VALUES "
            "(3, 7, 5, 'Ann', '[]', true, 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO customer_references (id, tenant_id, customer_id, system, reference, "
            "created_at) VALUES (1, 7, 5, 'billing', 'INV-1', '2026-01-01')",
        ):
            connection.execute(text(statement))
    db.downgrade(engine, "0009")
    with engine.connect() as connection:
        counts = [
            connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("tenants", "customers", "contacts", "customer_references")
        ]
    assert counts == [1, 1, 1, 1]
    db.upgrade(engine)
