"""Aliases and copies of customers, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from customers import aliases, copies, db, service
from customers.errors import InvalidInput, NotFound, Refused
from customers.legal_entities import NewLegalEntity, add_legal_entity
from customers.models import CustomerReference, OutboxEntry
from customers.search import search_customers
from tests.customers.helpers import row_counts


def create(
    sessions: sessionmaker[Session], tenant_id: int, *, tags: tuple[str, ...] = (), **fields: object
) -> int:
    with db.transaction(sessions) as session:
        # An address, as every tenant (the "other" one too) requires by default.
        address = {"billing_street": "Ring 1", "billing_city": "Köln", "billing_country": "DE"}
        data = {"name": "Acme Corporation", "email": "ap@acme.example", **address, **fields}
        return service.create_customer(session, tenant_id, data, tags=tags).id


def test_aliases_are_unique_per_system_in_a_tenant(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    acme = create(sessions, tenant_id)
    globex = create(sessions, tenant_id, name="Globex", email="ap@globex.example")
    with db.transaction(sessions) as session:
        aliases.add_alias(session, tenant_id, acme, system=" ERP ", reference=" C-1001 ")
        aliases.add_alias(session, tenant_id, acme, system="billing", reference="C-1001")
        # The same alias again changes nothing.
        aliases.add_alias(session, tenant_id, acme, system="erp", reference="C-1001")
        # The same reference in another system names another customer: allowed.
        aliases.add_alias(session, tenant_id, globex, system="shop", reference="C-1001")
    with sessions() as session:
        assert [str(a) for a in aliases.aliases_of(session, acme)] == [
            "billing:C-1001",
            "erp:C-1001",
        ]
    before = row_counts(engine)
    taken = f"erp:C-1001 already names customer {acme}"
    with pytest.raises(Refused, match=taken), db.transaction(sessions) as session:
        aliases.add_alias(session, tenant_id, globex, system="Erp", reference="C-1001")
    assert row_counts(engine) == before

    # Another tenant has its own namespace.
    with db.transaction(sessions) as session:
        other = service.get_tenant(session, "other").id
    other_acme = create(sessions, other)
    with db.transaction(sessions) as session:
        aliases.add_alias(session, other, other_acme, system="erp", reference="C-1001")
        with pytest.raises(NotFound):  # and cannot reach this tenant's customers
            aliases.add_alias(session, other, acme, system="erp", reference="X")


def test_the_database_keeps_an_alias_on_one_customer(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """The unique constraint holds even for a writer that skips the service's check."""
    acme = create(sessions, tenant_id)
    globex = create(sessions, tenant_id, name="Globex", email="ap@globex.example")
    with db.transaction(sessions) as session:
        aliases.add_alias(session, tenant_id, acme, system="erp", reference="7")
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.transaction(sessions) as session:
        session.add(
            CustomerReference(tenant_id=tenant_id, customer_id=globex, system="erp", reference="7")
        )
        session.flush()


@pytest.mark.parametrize(
    ("system", "reference", "field", "reason"),
    [
        ("", "C-1", "alias.system", "is required"),
        ("erp", "  ", "alias.reference", "is required"),
        ("erp/sap", "C-1", "alias.system", "is not a system name"),
        ("erp", "x" * 201, "alias.reference", "the limit is 200"),
        ("erp", "C\x001", "alias.reference", "control character"),
    ],
)
def test_a_bad_alias_names_its_part_and_writes_nothing(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant_id: int,
    system: str,
    reference: str,
    field: str,
    reason: str,
) -> None:
    acme = create(sessions, tenant_id)
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as raised, db.transaction(sessions) as session:
        aliases.add_alias(session, tenant_id, acme, system=system, reference=reference)
    [problem] = raised.value.errors
    assert problem.field == field and reason in problem.reason
    assert row_counts(engine) == before


def test_parse_aliases_names_the_bad_one() -> None:
    parsed = aliases.parse_aliases("erp:C-1; Billing:INV:7 ;erp:C-1")
    assert [str(a) for a in parsed] == ["erp:C-1", "billing:INV:7"]
    with pytest.raises(InvalidInput) as raised:
        aliases.parse_aliases("erp:C-1; nocolon; :x")
    assert [e.field for e in raised.value.errors] == [
        "aliases[2]",
        "aliases[3].system",
    ]


def test_removing_an_alias_and_purge(sessions: sessionmaker[Session], tenant_id: int) -> None:
    acme = create(sessions, tenant_id)
    with db.transaction(sessions) as session:
        aliases.add_alias(session, tenant_id, acme, system="erp", reference="C-1")
    with pytest.raises(Refused, match="erp:C-1"), db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, acme)
    with db.transaction(sessions) as session:
        with pytest.raises(NotFound):
            aliases.remove_alias(session, tenant_id, acme, system="erp", reference="C-2")
        aliases.remove_alias(session, tenant_id, acme, system="ERP", reference="C-1")
    with db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, acme)


def test_search_finds_a_customer_by_alias(sessions: sessionmaker[Session], tenant_id: int) -> None:
    acme = create(sessions, tenant_id)
    globex = create(sessions, tenant_id, name="Globex", email="ap@globex.example")
    with db.transaction(sessions) as session:
        aliases.add_alias(session, tenant_id, acme, system="erp", reference="C-1001")
        aliases.add_alias(session, tenant_id, globex, system="shop", reference="C-1001")
    with sessions() as session:
        both = search_customers(session, tenant_id, "c-1001")
        assert [(m.customer.id, m.matched_on) for m in both.matches] == [
            (acme, "alias"),
            (globex, "alias"),
        ]
        one = search_customers(session, tenant_id, "ERP:C-1001")
        assert [(m.customer.id, m.matched_on) for m in one.matches] == [(acme, "alias")]
        # A NUL (which PostgreSQL refuses as a parameter) cannot be in an alias: ignored.
        nul = search_customers(session, tenant_id, "erp:C-10\x0001")
        assert [(m.customer.id, m.matched_on) for m in nul.matches] == [(acme, "alias")]
        assert search_customers(session, tenant_id, "a\x00@acme.io").matches == []
    with db.transaction(sessions) as session:
        other = service.get_tenant(session, "other").id
        assert search_customers(session, other, "C-1001").matches == []


def test_copy_takes_settings_not_identity(sessions: sessionmaker[Session], tenant_id: int) -> None:
    with db.transaction(sessions) as session:
        add_legal_entity(session, tenant_id, NewLegalEntity("ACME-DE", "Ours GmbH", "DE"))
    source = create(
        sessions,
        tenant_id,
        phone="+49 221 1234567",
        website="https://acme.example",
        tax_id="DE123456789",
        currency="EUR",
        payment_terms_days="net 30",
        credit_limit="5000",
        customer_type="government",
        billing_street="Hauptstraße 1",
        billing_city="Köln",
        billing_country="DE",
        shipping_city="Bonn",
        shipping_country="DE",
        category="technology",
        subcategory="software",
        notes="Pays late",
        custom_properties={"tier": "gold"},
        tax_rate="19",
        tax_country="DE",
        tax_exemption="reverse_charge",
        legal_entity="ACME-DE",
        invoicing_flow="draft",
        auto_pay=True,
        portal_enabled=True,
        sales_rep_email="sam.rep@example.com",
        invoice_sender_email="billing@ours.example",
        invoice_recipients=["ap@acme.example"],
        tags=("wholesale", "eu"),
    )
    with db.transaction(sessions) as session:
        aliases.add_alias(session, tenant_id, source, system="erp", reference="C-1")
        service.block_customer(session, tenant_id, source)
    with db.transaction(sessions) as session:
        copy = copies.copy_customer(session, tenant_id, source, name="Acme Subsidiary")
        copy_id = copy.id
    with sessions() as session:
        copy = service.get_customer(session, tenant_id, copy_id)
        assert copy.name == "Acme Subsidiary"
        assert (copy.currency, copy.payment_terms_days, copy.credit_limit) == (
            "EUR",
            30,
            Decimal("5000.00"),
        )
        assert copy.customer_type == "government" and copy.status == "active"
        assert (copy.billing_street, copy.billing_city, copy.shipping_city) == (
            "Hauptstraße 1",
            "Köln",
            "Bonn",
        )
        assert (copy.category, copy.subcategory) == ("technology", "software")
        assert copy.custom_properties == {"tier": "gold"}
        assert (copy.email, copy.phone, copy.website, copy.domain, copy.tax_id, copy.notes) == (
            None,
        ) * 6
        assert not copy.can_be_invoiced
        assert aliases.aliases_of(session, copy_id) == []
        # The billing settings, tags and the business's own invoice addresses come along;
        # the other business's invoice recipients do not.
        assert (copy.tax_rate, copy.tax_country, copy.tax_exemption) == (
            Decimal("19.0000"),
            "DE",
            "reverse_charge",
        )
        assert copy.legal_entity is not None and copy.legal_entity.code == "ACME-DE"
        assert (copy.invoicing_flow, copy.auto_pay, copy.portal_enabled) == ("draft", True, True)
        assert (copy.sales_rep_email, copy.invoice_sender_email) == (
            "sam.rep@example.com",
            "billing@ours.example",
        )
        assert copy.invoice_recipients == [] and copy.tags == ["eu", "wholesale"]
        # Its history starts with its own creation.
        outbox = session.scalars(select(OutboxEntry).where(OutboxEntry.entity_id == copy_id))
        assert [row.operation for row in outbox] == ["create"]


def test_copy_checks_what_is_given_and_writes_nothing_on_error(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    source = create(sessions, tenant_id)
    before = row_counts(engine)
    with pytest.raises(InvalidInput, match="name"), db.transaction(sessions) as session:
        copies.copy_customer(session, tenant_id, source, name="  ")
    with pytest.raises(InvalidInput, match="email"), db.transaction(sessions) as session:
        copies.copy_customer(session, tenant_id, source, name="B", email="ap@acme.example")
    with pytest.raises(NotFound), db.transaction(sessions) as session:
        copies.copy_customer(session, tenant_id, 999, name="B")
    assert row_counts(engine) == before


def test_migration_gives_references_their_tenant_and_dedupes(engine: Engine) -> None:
    """0008: rows take their customer's tenant; equal ones of one customer are kept once;
    a reference on two customers of a tenant stops the upgrade and changes nothing."""
    db.downgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at) "
                "VALUES (7, 'seven', 'Seven', '2026-01-01')"
            )
        )
        for customer_id in (5, 6):
            connection.execute(
                text(
                    "INSERT INTO customers (id, tenant_id, name, customer_type, status, "
                    "custom_properties, version, created_at, updated_at) VALUES "
                    f"({customer_id}, 7, 'C', 'business', 'active', '{{}}', 1, "
                    "'2026-01-01', '2026-01-01')"
                )
            )
        rows = [(1, 5, "Billing", "INV-1"), (2, 5, "billing ", " INV-1"), (3, 6, "erp", "X")]
        rows.append((4, 6, "ERP", "INV-9"))
        rows.append((5, 5, "erp", "INV-9"))  # another customer's: stops the upgrade
        for row_id, customer_id, system, reference in rows:
            connection.execute(
                text(
                    "INSERT INTO customer_references (id, customer_id, system, reference, "
                    "created_at) VALUES (:id, :customer, :system, :reference, '2026-01-01')"
                ),
                {"id": row_id, "customer": customer_id, "system": system, "reference": reference},
            )
    with pytest.raises(RuntimeError, match="erp:INV-9 \\(customers 5 and 6\\)"):
        db.upgrade(engine)
    assert db.current_revision(engine) == "0006"
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM customer_references WHERE id = 5"))
    db.upgrade(engine)
    with engine.connect() as connection:
        kept = connection.execute(
            text(
                "SELECT id, tenant_id, customer_id, system, reference FROM customer_references "
                "ORDER BY id"
            )
        ).all()
    assert [tuple(row) for row in kept] == [
        (1, 7, 5, "billing", "INV-1"),
        (3, 7, 6, "erp", "X"),
        (4, 7, 6, "erp", "INV-9"),
    ]


def test_copy_refuses_a_name_or_email_given_twice(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    # `copy --name Y --set name=Q` made a customer named Y: the --set value was dropped unseen.
    source = create(sessions, tenant_id)
    before = row_counts(engine)
    for kwargs in (
        {"name": "Y", "changes": {"name": "Q"}},
        {"name": "Y", "email": "a@y.example", "changes": {"email": "b@y.example"}},
    ):
        with (
            pytest.raises(InvalidInput, match="given twice") as twice,
            db.transaction(sessions) as session,
        ):
            copies.copy_customer(session, tenant_id, source, **kwargs)  # type: ignore[arg-type]
        assert twice.value.errors[0].field in {"name", "email"}
    assert row_counts(engine) == before
    with db.transaction(sessions) as session:  # the same value twice is no conflict
        copy = copies.copy_customer(session, tenant_id, source, name="Y", changes={"name": "Y"})
        assert copy.name == "Y"
