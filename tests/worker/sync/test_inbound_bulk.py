"""Inbound pages of new records: written in bulk, with the outcome the record-by-record
path would have had; the duplicate index follows the directory between pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import RemoteRecord
from customers import db, service
from customers.models import Contact, Customer, OutboxEntry
from customers.sync_state import DuplicateReview, ExternalLink
from tests.worker.sync.test_inbound import T0, apply, company, links


def contact(external_id: str, company_id: str, **properties: str) -> RemoteRecord:
    props = {
        "firstname": "Ann",
        "lastname": "Lee",
        "email": f"ann{external_id}@x.com",
        **properties,
    }
    return RemoteRecord(
        "contact", external_id, props, T0 + timedelta(minutes=1), associations=(company_id,)
    )


def count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_page_of_new_records_creates_each_with_its_link_and_outbox_row(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    records = [company(str(n), name=f"Firm {n} Works", domain=f"firm{n}.com") for n in range(250)]
    result = apply(sessions, connection_id, "company", *records)
    assert result.counts["created"] == 250 and len(result.created_customers) == 250
    assert result.needs_push
    contacts = [contact(str(1000 + n), str(n)) for n in range(250)]
    contact_result = apply(sessions, connection_id, "contact", *contacts)
    assert contact_result.counts["contacts_created"] == 250
    linked = links(sessions)
    with sessions() as session:
        by_id = {c.id: c for c in session.scalars(select(Customer))}
        assert {by_id[linked[str(n)]].name for n in range(250)} == {
            f"Firm {n} Works" for n in range(250)
        }
        for n in (0, 249):
            [person] = session.scalars(select(Contact).where(Contact.customer_id == linked[str(n)]))
            assert (person.first_name, person.email) == ("Ann", f"ann{1000 + n}@x.com")
            assert linked[str(1000 + n)] == person.id
        bases = session.scalars(select(ExternalLink.base).where(ExternalLink.external_id == "7"))
        assert next(iter(bases))["name"] == "Firm 7 Works"  # merged: the base is set
    assert count(sessions, OutboxEntry) == 500
    again = apply(sessions, connection_id, "company", *records)
    assert again.counts["stale"] == 250 and not again.created_customers


def test_a_duplicate_within_one_page_is_decided_after_the_first_is_written(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    result = apply(
        sessions, connection_id, "company",
        company("1", name="Alpha Widgets", domain="alpha.com"),
        company("2", name="Beta Gears", domain="beta.com"),
        company("3", name="Alpha Widgets Inc", domain="alpha.com"),  # the same domain as 1
    )  # fmt: skip
    assert result.counts["created"] == 2
    assert count(sessions, Customer) == 2
    # The first was created and linked, so the third is not linked to it automatically.
    assert result.counts["held"] == 1 and count(sessions, DuplicateReview) == 1


def test_a_customer_added_between_pages_is_found_as_a_duplicate(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("1", name="Gamma Ltd", domain="gamma.com"))
    with db.transaction(sessions) as session:
        added = service.create_customer(
            session,
            tenant_id,
            {"name": "Delta Tools", "email": "ap@delta.com", "website": "delta.com"},
        ).id
    result = apply(
        sessions,
        connection_id,
        "company",
        company("2", name="Delta Tools GmbH", domain="delta.com"),
    )
    assert result.counts["linked"] == 1 and not result.created_customers
    assert links(sessions)["2"] == added


def test_a_changed_customer_is_indexed_as_it_is_now(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("1", name="Epsilon", domain="epsilon.com"))
    with db.transaction(sessions) as session:
        moved = service.create_customer(
            session,
            tenant_id,
            {"name": "Zeta Foods", "email": "ap@zeta.com", "website": "zeta.com"},
        ).id
    apply(sessions, connection_id, "company", company("2", name="Eta", domain="eta.com"))
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, moved, {"name": "Theta Motors", "email": "ap@theta.com",
                                                            "website": "theta.com"})  # fmt: skip
    # zeta.com no longer names a customer: a CRM company on it is new.
    result = apply(
        sessions, connection_id, "company", company("3", name="Zeta Foods", domain="zeta.com")
    )
    assert result.counts["created"] == 1
    result = apply(
        sessions, connection_id, "company", company("4", name="Theta Motors", domain="theta.com")
    )
    assert result.counts["linked"] == 1 and links(sessions)["4"] == moved
