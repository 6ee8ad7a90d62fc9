"""Two-way sync against the Salesforce sandbox over TLS, through unchanged simple-salesforce,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.salesforce import SalesforceConnector
from customers import contacts, db, service
from customers.models import Contact, Customer
from customers.sync_state import Connection, ExternalLink
from mappings.engine import REQUIRED_PLACEHOLDER
from sandbox.faults import Faults
from sandbox.salesforce import SalesforceSandbox
from tests.clock import Clock
from tests.connectors.conftest import sf_connector
from worker.locks import ThreadLocks
from worker.sync.inbound import apply_page
from worker.sync.outbound import Pusher
from worker.sync.passes import Sync

WRITES = ("collections.upsert", "collections.update", "collections.create", "composite", "sobject.upsert",
          "sobject.update", "sobject.create")  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(faults=Faults(seed=5)) as running:
        yield running


@pytest.fixture
def sync(sessions: sessionmaker[Session], tenant_id: int, sandbox: SalesforceSandbox) -> Sync:
    return connected(sessions, tenant_id, sandbox)


def connected(sessions: sessionmaker[Session], tenant_id: int, org: SalesforceSandbox) -> Sync:
    """A connection of the tenant to this org, and its sync."""
    connector: SalesforceConnector = sf_connector(org)
    with db.transaction(sessions) as session:
        connection = Connection(
            tenant_id=tenant_id, provider="salesforce", account_id=org.org_id, name="org"
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id
    return Sync(connection_id, sessions=sessions, connector=connector, locks=ThreadLocks())


def crm_writes(sandbox: SalesforceSandbox) -> int:
    calls = sandbox.faults.snapshot()["calls"]
    return sum(calls.get(key, 0) for key in WRITES)


def test_accounts_and_contacts_sync_both_ways(
    sync: Sync, sandbox: SalesforceSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    account = sandbox.create("Account", {"Name": "O'Brien & Co", "Website": "https://obrien.ie", "BillingCity": "Dublin",
                                         "BillingCountry": "Ireland", "Industry": "Banking"})  # fmt: skip
    sandbox.create(
        "Contact",
        {
            "FirstName": "Aoife",
            "LastName": "Murphy",
            "Email": "aoife@obrien.ie",
            "AccountId": account,
        },
    )
    with db.transaction(sessions) as session:
        local = service.create_customer(
            session,
            tenant_id,
            {"name": "Acme Corp", "email": "ap@acme.com", "billing_country": "DE"},
        )
    run = sync.reconcile()
    assert (run.outcome, run.counts["created"], run.counts["crm_created"]) == ("ok", 1, 1)
    assert run.counts["contacts_created"] == 1
    with sessions() as session:
        obrien = session.scalars(select(Customer).where(Customer.name == "O'Brien & Co")).one()
        assert (obrien.domain, obrien.billing_city, obrien.billing_country) == (
            "obrien.ie",
            "Dublin",
            "IE",
        )
        assert (obrien.category, obrien.subcategory) == ("finance", "banking")
        [contact] = session.scalars(select(Contact))
        assert (contact.customer_id, contact.email) == (obrien.id, "aoife@obrien.ie")
    pushed = [
        r for r in sandbox.records("Account", include_deleted=False) if r["Name"] == "Acme Corp"
    ]
    assert (
        len(pushed) == 1
        and pushed[0]["CrmsyncId__c"] == str(local.id)
        and pushed[0]["BillingCountry"] == "Germany"
    )
    writes = crm_writes(sandbox)
    again = sync.reconcile()
    assert again.counts["created"] == again.counts["crm_created"] == 0
    assert crm_writes(sandbox) == writes


def test_edits_both_ways_and_deletes(
    sync: Sync, sandbox: SalesforceSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    account = sandbox.create("Account", {"Name": "Globex", "Website": "globex.com"})
    sync.reconcile()
    with sessions() as session:
        customer = session.scalars(select(Customer)).one()
    sandbox.update("Account", account, {"Phone": "+1 415 555 0100"})
    assert sync.incremental().counts["updated"] == 1
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"notes": "Pays late"})
    before = crm_writes(sandbox)
    assert sync.push().counts["crm_updated"] == 1
    assert sandbox.record("Account", account)["Description"] == "Pays late"  # type: ignore[index]
    assert sync.push().counts["crm_updated"] == 0 and crm_writes(sandbox) == before + 1
    sandbox.delete("Account", account)
    sync.incremental()
    with sessions() as session:
        assert session.get(Customer, customer.id).archived_at is not None  # type: ignore[union-attr]
        assert (
            session.scalar(select(ExternalLink).where(ExternalLink.external_id == account)) is None
        )


def test_a_merge_of_two_linked_accounts_is_not_undone_by_the_next_reconcile(
    sync: Sync, sandbox: SalesforceSandbox
) -> None:
    """Found by the convergence soak (``python -m bench soak``): a merge made in the CRM must stay
    made, not come back as a new record for the merged-away business."""
    survivor = sandbox.create("Account", {"Name": "Globex GmbH", "Website": "https://globex.de"})
    loser = sandbox.create("Account", {"Name": "Globex (old)", "Website": "https://globex-old.de"})
    sync.reconcile()  # both linked, each to its own customer
    sandbox.merge("Account", survivor, [loser])
    sync.incremental()  # sees the loser deleted with its MasterRecordId
    sync.reconcile()
    live = [r["Id"] for r in sandbox.records("Account", include_deleted=False)]
    assert live == [survivor]


def test_a_merge_into_an_account_never_linked_moves_the_losers_link_to_it(
    sync: Sync, sandbox: SalesforceSandbox, sessions: sessionmaker[Session]
) -> None:
    """Found by the convergence soak: the merged-away account and its master, never linked,
    arrive in one page. The loser's link moves to the master before the master is applied,
    so the master takes the loser's customer instead of making one of its own (which then
    collided with the moved link and failed the page for good)."""
    loser = sandbox.create("Account", {"Name": "Globex (old)", "Website": "https://globex-old.de"})
    sync.reconcile()
    with sessions() as session:
        [customer_id] = session.scalars(select(Customer.id))
    master = sandbox.create("Account", {"Name": "Globex GmbH", "Website": "https://globex.de"})
    sandbox.merge("Account", master, [loser])
    run = sync.incremental()
    assert run.outcome == "ok" and run.counts["failed"] == 0
    with sessions() as session:
        links = {lk.external_id: lk.local_id for lk in session.scalars(select(ExternalLink))}
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        assert session.get(Customer, customer_id).name == "Globex GmbH"  # type: ignore[union-attr]
    assert links == {master: customer_id}


def test_a_contact_with_a_first_name_only_is_created_with_the_placeholder_last_name(
    sync: Sync, sandbox: SalesforceSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        customer = service.create_customer(session, tenant_id, {"name": "Acme Corp", "email": "ap@acme.com"})  # fmt: skip
        contacts.add_contact(session, tenant_id, customer.id, {"first_name": "Ann"})
    run = sync.reconcile()
    assert run.outcome == "ok" and run.counts["failed"] == 0
    [created] = sandbox.records("Contact", include_deleted=False)
    assert (created["FirstName"], created["LastName"]) == ("Ann", REQUIRED_PLACEHOLDER)
    writes = crm_writes(sandbox)
    again = sync.reconcile()  # the placeholder reads back as blank: nothing changes anywhere
    assert again.counts["failed"] == 0 and crm_writes(sandbox) == writes
    with sessions() as session:
        [contact] = session.scalars(select(Contact))
        assert (contact.first_name, contact.last_name) == ("Ann", None)
    # A real last name typed in Salesforce replaces it locally.
    sandbox.update("Contact", created["Id"], {"LastName": "Lee"})
    sync.incremental()
    with sessions() as session:
        [contact] = session.scalars(select(Contact))
        assert contact.last_name == "Lee"


def test_a_value_longer_than_the_crm_field_is_written_cut_and_never_pushed_again(
    sync: Sync, sandbox: SalesforceSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    city = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch Nord"  # 62 > 40
    with db.transaction(sessions) as session:
        customer = service.create_customer(
            session, tenant_id, {"name": "Acme Corp", "email": "ap@acme.com", "billing_city": city}
        )
        contacts.add_contact(session, tenant_id, customer.id, {"first_name": "A" * 60, "last_name": "Lee"})  # fmt: skip
    run = sync.reconcile()
    assert run.outcome == "ok" and run.counts["failed"] == 0  # no STRING_TOO_LONG
    [account] = sandbox.records("Account", include_deleted=False)
    [contact] = sandbox.records("Contact", include_deleted=False)
    assert account["BillingCity"] == city[:40] and contact["FirstName"] == "A" * 40
    writes = crm_writes(sandbox)
    again = sync.reconcile()
    assert again.counts["failed"] == 0 and crm_writes(sandbox) == writes  # no push, no echo
    with sessions() as session:
        assert session.get(Customer, customer.id).billing_city == city  # type: ignore[union-attr]


def customers(sessions: sessionmaker[Session]) -> list[Customer]:
    with sessions() as session:
        return list(session.scalars(select(Customer).order_by(Customer.id)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed_sync(
    sessions: sessionmaker[Session], tenant_id: int, clock: Clock
) -> Iterator[tuple[Sync, SalesforceSandbox]]:
    with SalesforceSandbox(faults=Faults(seed=5), clock=clock) as org:
        yield connected(sessions, tenant_id, org), org


def test_a_crm_edit_made_after_our_read_is_never_overwritten(
    timed_sync: tuple[Sync, SalesforceSandbox], clock: Clock,
    sessions: sessionmaker[Session], tenant_id: int,
) -> None:  # fmt: skip
    """The update carries If-Unmodified-Since (the record's time when last read); the org
    refuses it with 412, the push reads the record, merges (the CRM's edit is newer: it
    wins by the two_way rule) and writes again what is still to write."""
    sync, org = timed_sync
    account = org.create("Account", {"Name": "Globex GmbH", "BillingCity": "Bonn", "Phone": "1"})
    sync.reconcile()
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"billing_city": "Springfield", "phone": "+49 30 1234567"})  # fmt: skip
    clock.advance(2)
    org.update("Account", account, {"BillingCity": "Shelbyville"})  # after our read
    before = org.faults.snapshot()["calls"]
    with sync.locks.hold("test"):  # the push's write part, without the pass's read before it
        counts = Pusher(sync.target, sync.connector, sessions).drain()
    calls = org.faults.snapshot()["calls"]
    assert counts["changed_during_write"] == 1 and counts["failed"] == 0
    assert calls.get("composite", 0) - before.get("composite", 0) == 2  # refused, then written
    assert calls.get("collections.update", 0) == before.get("collections.update", 0)
    record = org.record("Account", account) or {}
    assert (record["BillingCity"], record["Phone"]) == ("Shelbyville", "+49301234567")
    [customer] = customers(sessions)
    assert (customer.billing_city, customer.phone) == ("Shelbyville", "+49301234567")


def test_our_own_unread_write_only_costs_a_read(
    timed_sync: tuple[Sync, SalesforceSandbox], clock: Clock,
    sessions: sessionmaker[Session], tenant_id: int,
) -> None:  # fmt: skip
    sync, org = timed_sync
    account = org.create("Account", {"Name": "Globex GmbH", "BillingCity": "Bonn"})
    sync.reconcile()
    [customer] = customers(sessions)
    for city in ("Springfield", "Shelbyville"):
        clock.advance(2)
        with db.transaction(sessions) as session:
            service.update_customer(session, tenant_id, customer.id, {"billing_city": city})
        with sync.locks.hold("test"):
            counts = Pusher(sync.target, sync.connector, sessions).drain()
        assert counts["failed"] == 0 and counts["crm_updated"] == 1
    assert (org.record("Account", account) or {})["BillingCity"] == "Shelbyville"
    assert customers(sessions)[0].billing_city == "Shelbyville"
    assert counts["changed_during_write"] == 1  # the first push's write, not read yet


def test_a_crm_read_older_than_our_own_write_does_not_undo_it(
    timed_sync: tuple[Sync, SalesforceSandbox], clock: Clock,
    sessions: sessionmaker[Session], tenant_id: int,
) -> None:  # fmt: skip
    """A webhook's fetch, then our push of a local archive, then the fetched record is
    applied. The push's write is guarded against the state last merged
    (If-Unmodified-Since): the record had changed since, so the write was refused, the
    record read and merged, and written again. The fetched record is then no newer than
    the state merged: stale, and the archive stands."""
    sync, org = timed_sync
    account = org.create("Account", {"Name": "Globex GmbH", "BillingCity": "Bonn"})
    sync.reconcile()
    clock.advance(2)
    org.update("Account", account, {"BillingCity": "Shelbyville"})
    fetched = sync.connector.fetch("account", [account])
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.archive_customer(session, tenant_id, customer.id)
    with sync.locks.hold("test"):
        counts = Pusher(sync.target, sync.connector, sessions).drain()
    assert counts["changed_during_write"] == 1 and counts["crm_updated"] == 1
    assert (org.record("Account", account) or {})["Archived__c"] is True
    with db.transaction(sessions) as session:
        result = apply_page(session, sync.target, "account", fetched)
    assert result.counts["stale"] == 1
    [customer] = customers(sessions)
    assert (customer.archived_at is not None, customer.billing_city) == (True, "Shelbyville")
