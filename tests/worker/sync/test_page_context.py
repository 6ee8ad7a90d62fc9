"""A page's context: the side a page is about, and the bulk creates handing back what
they could not write together (``worker.sync.page``, ``worker.sync.sides``,
``worker.sync.new_records``)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.errors import Refused
from customers.models import Customer, OutboxEntry
from mappings import RemoteValueError, engine
from tests.worker.sync.test_inbound import apply, company, links
from worker.sync.new_records import NewContacts, NewCustomers, new_records
from worker.sync.sides import ContactSide, CustomerSide, page_context
from worker.sync.target import SyncTarget


def test_a_page_of_companies_is_about_customers_and_one_of_contacts_about_contacts(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    with db.transaction(sessions) as session:
        target = SyncTarget.load(session, connection_id)
        companies = page_context(session, target, "company")
        contacts = page_context(session, target, "contact")
    assert isinstance(companies.side, CustomerSide) and isinstance(contacts.side, ContactSide)
    assert isinstance(new_records(companies), NewCustomers)
    assert isinstance(new_records(contacts), NewContacts)
    companies.count("created")
    contacts.count("created", 2)
    assert companies.result.counts == {"created": 1}
    assert contacts.result.counts == {"contacts_created": 2}


def test_new_records_that_cannot_be_written_together_are_applied_one_by_one(
    sessions: sessionmaker[Session], connection_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def clash(*args: Any, **kwargs: Any) -> list[int]:
        raise Refused("a clashing row was written meanwhile")

    monkeypatch.setattr(service, "create_customers", clash)
    records = [company(str(n), name=f"Firm {n} Works", domain=f"firm{n}.com") for n in range(5)]
    result = apply(sessions, connection_id, "company", *records)
    assert result.counts["created"] == 5 and len(result.created_customers) == 5
    linked = links(sessions)
    with sessions() as session:
        names = {c.id: c.name for c in session.scalars(select(Customer))}
        assert {names[linked[str(n)]] for n in range(5)} == {f"Firm {n} Works" for n in range(5)}
        assert len(list(session.scalars(select(OutboxEntry)))) == 5


def test_a_page_reads_each_records_values_once(
    sessions: sessionmaker[Session], connection_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The duplicate check's keys, taking a create aside and creating it all ask for a
    record's local values: the page reads them once, and the result is the same."""
    read: list[str] = []
    real = engine.read_remote

    def counting(object_map: Any, properties: dict[str, Any], **kwargs: Any) -> Any:
        read.append(properties["name"])
        return real(object_map, properties, **kwargs)

    monkeypatch.setattr(engine, "read_remote", counting)  # what to_local reads with
    records = [company(str(n), name=f"Firm {n} Works", domain=f"firm{n}.com") for n in range(4)]
    # Like the first: not a plain create, so the page's own path reads it again.
    records.append(company("9", name="Firm 0 Works", domain="firm0.com"))
    result = apply(sessions, connection_id, "company", *records)
    assert sorted(read) == sorted(record.properties["name"] for record in records)
    assert result.counts["created"] == 4 and result.counts["held"] + result.counts["linked"] == 1


def test_a_records_values_are_a_copy_and_an_unreadable_one_fails_every_time(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    with db.transaction(sessions) as session:
        page = page_context(session, SyncTarget.load(session, connection_id), "company")
        good = company("1", name="Firm One")
        first = page.local_values(good)
        first["name"] = "changed by a caller"
        assert page.local_values(good)["name"] == "Firm One"
        bad = company("2", crmsync_sales_rep_email="not an email")
        for _ in range(2):
            with pytest.raises(RemoteValueError) as raised:
                page.local_values(bad)
            assert "sales_rep_email" in raised.value.problems
