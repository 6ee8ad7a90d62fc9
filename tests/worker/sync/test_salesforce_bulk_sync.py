"""A reconcile whose full passes read by Bulk API 2.0 jobs makes the same directory as one
that reads by REST batches: two orgs with the same records, two tenants, one of them with
a low ``bulk_threshold``; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.models import Contact, Customer
from customers.service import get_tenant
from customers.sync_state import Connection, ExternalLink
from sandbox.faults import Faults
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import sf_connector
from worker.locks import ThreadLocks
from worker.sync.passes import Sync

# Ids and times of our own that differ between two tenants holding the same customers.
OWN = {"id", "tenant_id", "customer_id", "legal_entity_id", "version"}


def seeded_org() -> SalesforceSandbox:
    """An org of 60 accounts with 2 contacts each, three deleted and two merged away;
    made the same way every time (its ids and times differ)."""
    org = SalesforceSandbox(faults=Faults(seed=5)).start()
    ids = org.seed(generate_companies(60, contacts_per_company=2, seed=8))
    for account_id in ids[10:13]:
        org.delete("Account", account_id)
    org.merge("Account", ids[20], [ids[21], ids[22]])
    org.create("Contact", {"LastName": "Nobody's", "Email": "alone@example.com"})
    return org


@pytest.fixture
def orgs() -> Iterator[tuple[SalesforceSandbox, SalesforceSandbox]]:
    rest, bulk = seeded_org(), seeded_org()
    yield rest, bulk
    rest.stop()
    bulk.stop()


def tenant(sessions: sessionmaker[Session], slug: str) -> int:
    with db.transaction(sessions) as session:
        made = get_tenant(session, slug)
        made.require_billing_address = False
        return made.id


def connected(
    sessions: sessionmaker[Session], tenant_id: int, org: SalesforceSandbox, **options: Any
) -> Sync:
    with db.transaction(sessions) as session:
        connection = Connection(
            tenant_id=tenant_id, provider="salesforce", account_id=org.org_id, name="org"
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id
    connector = sf_connector(org, **options)
    return Sync(connection_id, sessions=sessions, connector=connector, locks=ThreadLocks())


def _plain(row: Any) -> dict[str, Any]:
    values = {}
    for column in row.__table__.columns:
        if column.key in OWN:
            continue
        value = getattr(row, column.key)
        # Times are when this tenant's pass ran; whether one is set is what they say.
        if isinstance(value, datetime):
            value = value is not None
        elif isinstance(value, str):  # e.g. a category's source names the connection
            value = re.sub(r"connection \d+", "connection", value)
        values[column.key] = value
    return values


def directory(sessions: sessionmaker[Session], tenant_id: int) -> dict[str, Any]:
    with sessions() as session:
        customers = session.scalars(select(Customer).where(Customer.tenant_id == tenant_id))
        names = {}
        found = []
        for customer in customers:
            names[customer.id] = customer.name
            found.append(_plain(customer))
        contacts = [
            {**_plain(contact), "customer": names.get(contact.customer_id)}
            for contact in session.scalars(select(Contact).where(Contact.tenant_id == tenant_id))
        ]
        links = session.scalar(
            select(func.count())
            .select_from(ExternalLink)
            .join(Connection, Connection.id == ExternalLink.connection_id)
            .where(Connection.tenant_id == tenant_id)
        )
    key = repr
    return {
        "customers": sorted(found, key=key),
        "contacts": sorted(contacts, key=key),
        "links": links,
    }


def test_a_bulk_reconcile_makes_the_same_directory(
    sessions: sessionmaker[Session],
    tenant_id: int,
    orgs: tuple[SalesforceSandbox, SalesforceSandbox],
) -> None:
    rest_org, bulk_org = orgs
    other = tenant(sessions, "bulk-books")
    by_rest = connected(sessions, tenant_id, rest_org)
    by_bulk = connected(sessions, other, bulk_org, bulk_threshold=20, bulk_poll_s=0.01)
    assert by_rest.reconcile().outcome == "ok"
    run = by_bulk.reconcile()
    assert run.outcome == "ok"
    assert by_bulk.connector.counter.calls["bulk2.query"] == 2  # accounts, contacts
    assert by_bulk.connector.counter.calls.get("queryMore", 0) == 0
    assert by_rest.connector.counter.calls.get("bulk2.query", 0) == 0
    expected = directory(sessions, tenant_id)
    assert len(expected["customers"]) > 50 and len(expected["contacts"]) > 100
    assert directory(sessions, other) == expected
