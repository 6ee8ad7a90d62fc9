"""Two-way sync against the HubSpot sandbox over a real socket, through the unchanged SDK,
on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import Permanent
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.records import DEFAULT_PROPERTIES
from customers import contacts, db, service
from customers.errors import StaleVersion
from customers.models import Contact, Customer
from customers.sync_state import Connection, ExternalLink, SyncConflict, SyncRun
from sandbox.faults import Faults
from sandbox.hubspot import HubSpotSandbox
from tests.connectors.conftest import hubspot_connector
from worker.failures import record_failure
from worker.locks import ThreadLocks
from worker.sync.inbound import apply_page
from worker.sync.outbound import Pusher
from worker.sync.passes import Sync

WRITES = ("companies.batch.update", "companies.batch.upsert", "companies.batch.create",
          "companies.update", "companies.create")  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None, faults=Faults(seed=3)) as running:
        yield running


@pytest.fixture
def connector(sandbox: HubSpotSandbox) -> HubSpotConnector:
    return hubspot_connector(sandbox)


@pytest.fixture
def sync(
    sessions: sessionmaker[Session],
    tenant_id: int,
    connector: HubSpotConnector,
    sandbox: HubSpotSandbox,
) -> Sync:
    with db.transaction(sessions) as session:
        connection = Connection(
            tenant_id=tenant_id,
            provider="hubspot",
            account_id=str(sandbox.portal_id),
            name="portal",
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id
    return Sync(connection_id, sessions=sessions, connector=connector, locks=ThreadLocks())


def crm_writes(sandbox: HubSpotSandbox) -> int:
    calls = sandbox.faults.snapshot()["calls"]
    return sum(calls.get(key, 0) for key in WRITES)


def customers(sessions: sessionmaker[Session]) -> list[Customer]:
    with sessions() as session:
        return list(session.scalars(select(Customer).order_by(Customer.id)))


def test_full_sync_both_ways_and_a_rerun_creates_nothing(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    company = sandbox.create(
        "companies",
        {
            "name": "Globex GmbH",
            "domain": "globex.de",
            "country": "Germany",
            "phone": "030 1234567",
        },
    )
    sandbox.create(
        "contacts",
        {"firstname": "Hank", "lastname": "Scorpio", "email": "hank@globex.de"},
        company_id=company["id"],
    )
    with db.transaction(sessions) as session:
        local = service.create_customer(
            session,
            tenant_id,
            {
                "name": "Initech Ltd",
                "email": "ap@initech.io",
                "website": "initech.io",
                "billing_country": "GB",
            },
        )
    run = sync.reconcile()
    assert run.outcome == "ok"
    # Globex and its contact created locally; Initech created in HubSpot.
    assert (run.counts["read"], run.counts["created"], run.counts["crm_created"]) == (1, 1, 1)
    assert (run.counts["contacts_read"], run.counts["contacts_created"]) == (1, 1)
    names = {c.name for c in customers(sessions)}
    assert names == {"Globex GmbH", "Initech Ltd"}
    pushed = [sandbox.get("companies", i) for i in sandbox.ids("companies")]
    initech = next(p for p in pushed if p["properties"]["name"] == "Initech Ltd")
    assert initech["properties"]["crmsync_id"] == str(local.id)
    assert (
        initech["properties"]["domain"] == "initech.io"
        and initech["properties"]["country"] == "United Kingdom"
    )
    with sessions() as session:
        [contact] = session.scalars(select(Contact))
        assert (contact.first_name, contact.email) == ("Hank", "hank@globex.de")
        assert session.scalar(select(func.count()).select_from(ExternalLink)) == 3

    writes = crm_writes(sandbox)
    again = sync.reconcile()
    assert again.counts["created"] == again.counts["crm_created"] == 0
    assert len(customers(sessions)) == 2
    assert len(sandbox.ids("companies")) == 2
    assert crm_writes(sandbox) == writes  # nothing to write the second time


def test_local_edit_is_pushed_once_and_its_echo_writes_nothing(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    company = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    sync.reconcile()
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer.id, {"billing_city": "Köln", "phone": "+49 221 555 0101"}
        )
    before = crm_writes(sandbox)
    run = sync.push()
    assert run.counts["crm_updated"] == 1
    assert crm_writes(sandbox) == before + 1
    remote = sandbox.get("companies", company["id"])["properties"]
    assert (remote["city"], remote["phone"]) == ("Köln", "+492215550101")
    # The push comes back as a CRM change: nothing to write on either side.
    echo = sync.push()
    assert echo.counts["updated"] == 0 and echo.counts["crm_updated"] == 0
    assert crm_writes(sandbox) == before + 1
    with sessions() as session:
        assert session.get(Customer, customer.id).version == 2  # type: ignore[union-attr]


def test_crm_edit_arrives_locally_and_is_not_pushed_back(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session]
) -> None:
    company = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    sync.reconcile()
    sandbox.update("companies", company["id"], {"city": "Springfield", "description": "Hammocks"})
    before = crm_writes(sandbox)
    run = sync.incremental()
    assert run.counts["updated"] == 1
    [customer] = customers(sessions)
    assert (customer.billing_city, customer.notes) == ("Springfield", "Hammocks")
    assert sync.push().counts["crm_updated"] == 0
    assert crm_writes(sandbox) == before


def test_crm_delete_archives_and_merge_moves_the_link(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session]
) -> None:
    """A merge seen only through a full pass (its webhook dropped): HubSpot makes a new
    record of it, and the pass ends with one customer linked to the new id."""
    gone = sandbox.create("companies", {"name": "Vandelay Industries", "domain": "vandelay.com"})
    keep = sandbox.create("companies", {"name": "Kramerica", "domain": "kramerica.com"})
    loser = sandbox.create(
        "companies", {"name": "Kramerica Industries", "domain": "kramerica-industries.com"}
    )
    sync.reconcile()
    by_name = {c.name: c.id for c in customers(sessions)}
    sandbox.archive("companies", gone["id"])
    new = sandbox.merge("companies", keep["id"], loser["id"])["id"]
    sync.reconcile()
    with sessions() as session:
        assert session.get(Customer, by_name["Vandelay Industries"]).archived_at is not None  # type: ignore[union-attr]
        links = {link.external_id: link.local_id for link in session.scalars(select(ExternalLink))}
        runs = session.scalar(select(func.count()).select_from(SyncRun))
        archived = {c.name for c in session.scalars(select(Customer)) if c.archived_at}
    # The primary's customer follows its record into the merge; the other's is archived.
    assert links == {new: by_name["Kramerica"]}
    assert archived == {"Vandelay Industries", "Kramerica Industries"}
    assert (sandbox.get("companies", new) or {})["properties"]["crmsync_id"] == str(
        by_name["Kramerica"]
    )
    assert sandbox.ids("companies") == [new]
    assert runs == 2


def test_a_merge_whose_primary_was_never_linked_moves_the_others_link_and_writes_our_id(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session]
) -> None:
    """The new record of a merge carries the primary's values; when only the other record
    was linked, its customer takes the new record, and our id is written there."""
    linked = sandbox.create("companies", {"name": "Initech", "domain": "initech.com"})
    sync.reconcile()
    [customer] = customers(sessions)
    unlinked = sandbox.create("companies", {"name": "Initech LLC", "city": "Austin"})
    new = sandbox.merge("companies", unlinked["id"], linked["id"])["id"]
    # The new record holds our id (filled from the other record, which had it); clear it
    # to stand for a record that does not carry it.
    sandbox.update("companies", new, {"crmsync_id": ""})
    sync.reconcile()
    with sessions() as session:
        links = {link.external_id: link.local_id for link in session.scalars(select(ExternalLink))}
        merged = session.get(Customer, customer.id)
        assert merged is not None
        assert merged.archived_at is None
        assert (merged.name, merged.billing_city) == ("Initech LLC", "Austin")
    assert links == {new: customer.id}
    assert (sandbox.get("companies", new) or {})["properties"]["crmsync_id"] == str(customer.id)
    assert len(customers(sessions)) == 1


def test_a_merge_of_two_linked_companies_is_not_undone_by_the_next_reconcile(
    sync: Sync, sandbox: HubSpotSandbox
) -> None:
    """Found by the convergence soak (``python -m bench soak``): a merge made in the CRM must stay
    made, not come back as a new CRM record for the merged-away business (the full pass
    archives the loser's customer, and the push created it again)."""
    survivor = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    loser = sandbox.create("companies", {"name": "Globex (old)", "domain": "globex-old.de"})
    sync.reconcile()  # both linked, each to its own customer
    new = sandbox.merge("companies", survivor["id"], loser["id"])["id"]
    sync.reconcile()  # sees the merge
    sync.reconcile()
    assert sandbox.ids("companies") == [new]


def test_a_merge_seen_through_its_webhook_is_not_undone_by_the_next_reconcile(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session]
) -> None:
    """Found by the convergence soak: as above, when the merge arrives as a webhook (the
    job fetches the ids the event names: the new record and both old ones)."""
    survivor = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    loser = sandbox.create("companies", {"name": "Globex (old)", "domain": "globex-old.de"})
    sync.reconcile()
    by_name = {c.name: c.id for c in customers(sessions)}
    new = sandbox.merge("companies", survivor["id"], loser["id"])["id"]
    sync.records("company", [new, survivor["id"], loser["id"]])  # what the webhook enqueues
    with sessions() as session:
        links = {link.external_id: link.local_id for link in session.scalars(select(ExternalLink))}
    assert links == {new: by_name["Globex GmbH"]}
    sync.reconcile()
    assert sandbox.ids("companies") == [new]


def test_a_push_to_a_merged_away_id_follows_the_merge(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """A local edit pushed before the merge is seen: HubSpot's batch update answers the old
    id "not found"; the push reads it, which answers with the merge's new record, moves the
    link there and writes the edit to it."""
    company = sandbox.create("companies", {"name": "Hooli", "domain": "hooli.com"})
    other = sandbox.create("companies", {"name": "Hooli XYZ", "city": "Palo Alto"})
    sync.reconcile()
    customer = next(c for c in customers(sessions) if c.name == "Hooli")
    new = sandbox.merge("companies", company["id"], other["id"])["id"]
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"phone": "+1 650 555 0100"})
    with sync.locks.hold("test"):
        Pusher(sync.target, sync.connector, sessions).drain()
    raw = sandbox.get("companies", new) or {}
    assert raw["properties"]["phone"] == "+16505550100"
    assert raw["properties"]["city"] == "Palo Alto"
    with sessions() as session:
        link = session.scalars(
            select(ExternalLink).where(ExternalLink.local_id == customer.id)
        ).one()
        assert link.external_id == new
        assert session.get(Customer, customer.id).billing_city == "Palo Alto"  # type: ignore[union-attr]
    assert sandbox.ids("companies") == [new]


def test_a_crm_change_that_failed_on_a_concurrent_local_write_is_not_overwritten_by_the_push(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Found by the convergence soak: a page applying a CRM edit lost the race to a local
    write of the same customer (StaleVersion, recorded as an inbound failure); the push that
    followed wrote the older local value over the newer CRM edit it had never applied."""
    company = sandbox.create(
        "companies", {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn"}
    )
    sync.reconcile()
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"billing_city": "Springfield"})
    sandbox.update("companies", company["id"], {"city": "Shelbyville"})  # later: it wins
    with db.transaction(sessions) as session:
        stale = StaleVersion("customer", customer.id, None, None)
        record_failure(session, direction="inbound", error=Permanent(str(stale), provider="hubspot",
                       code="StaleVersion"), payload={}, connection_id=sync.target.connection_id,
                       object_type="company", external_id=company["id"], local_id=customer.id)  # fmt: skip
    with sync.locks.hold("test"):
        Pusher(sync.target, sync.connector, sessions).drain()
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["city"] == "Shelbyville"
    sync.push()
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["city"] == "Shelbyville"
    [customer] = customers(sessions)
    assert customer.billing_city == "Shelbyville"


def conflicts(sessions: sessionmaker[Session]) -> list[SyncConflict]:
    with sessions() as session:
        return list(session.scalars(select(SyncConflict).order_by(SyncConflict.id)))


def test_a_newer_crm_edit_our_write_replaced_unseen_is_merged_back_by_its_rule(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """HubSpot cannot refuse a write, so a CRM edit made after our last read is replaced by
    the push. The push reads the property history of what it wrote, finds the edit, and
    merges it by the field's rule: here the CRM's edit is newer (two_way), so it wins, the
    local record takes it and the CRM gets it back in the same drain."""
    company = sandbox.create(
        "companies", {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn"}
    )
    sync.reconcile()
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"billing_city": "Springfield"})
    sandbox.update("companies", company["id"], {"city": "Shelbyville"})  # after our last read
    with sync.locks.hold("test"):
        counts = Pusher(sync.target, sync.connector, sessions).drain()
    assert counts["edits_replaced"] == 1 and counts["read_before_write"] == 0
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["city"] == "Shelbyville"
    [customer] = customers(sessions)
    assert customer.billing_city == "Shelbyville"
    [conflict] = conflicts(sessions)
    assert (conflict.field, conflict.local_value, conflict.remote_value, conflict.rule) == (
        "billing_city",
        "Springfield",
        "Shelbyville",
        "two_way (crm won)",
    )
    # Settled: the next pass reads its own write back and changes nothing.
    run = sync.incremental()
    assert run.outcome == "ok" and run.counts["updated"] == 0 and run.counts["conflicts"] == 0
    assert customers(sessions)[0].billing_city == "Shelbyville"


def test_an_older_crm_edit_our_write_replaced_stays_replaced_and_is_on_record(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    company = sandbox.create(
        "companies", {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn"}
    )
    sync.reconcile()
    sandbox.update("companies", company["id"], {"city": "Shelbyville"})  # not read yet
    time.sleep(0.01)
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:  # newer than the CRM's edit
        service.update_customer(session, tenant_id, customer.id, {"billing_city": "Springfield"})
    with sync.locks.hold("test"):
        counts = Pusher(sync.target, sync.connector, sessions).drain()
    assert counts["edits_replaced"] == 1
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["city"] == "Springfield"
    assert customers(sessions)[0].billing_city == "Springfield"
    [conflict] = conflicts(sessions)
    assert (conflict.remote_value, conflict.rule) == ("Shelbyville", "two_way (local won)")


def test_our_own_earlier_write_is_no_edit_to_merge(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Two pushes before any read: the second must not take the first for a CRM edit."""
    company = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    sync.reconcile()
    [customer] = customers(sessions)
    for city in ("Springfield", "Shelbyville"):
        with db.transaction(sessions) as session:
            service.update_customer(session, tenant_id, customer.id, {"billing_city": city})
        with sync.locks.hold("test"):
            counts = Pusher(sync.target, sync.connector, sessions).drain()
        assert counts["crm_updated"] == 1 and counts["edits_replaced"] == 0
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["city"] == "Shelbyville"
    assert conflicts(sessions) == []


def test_a_crm_edit_of_a_field_our_write_left_alone_is_merged_by_that_write(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Found by the convergence soak: a push of one field moved the time up to which the
    record is known past a CRM edit of another field it never read; the next push of that
    field took the edit for one it had seen and wrote over it, with no conflict on record.
    A write reads the history of every field the map syncs, so what it did not write but
    was edited since the last read is merged then."""
    company = sandbox.create(
        "companies", {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn"}
    )
    sync.reconcile()
    [customer] = customers(sessions)
    sandbox.update("companies", company["id"], {"city": "Shelbyville"})  # not read yet
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"notes": "called on Monday"})
    with sync.locks.hold("test"):
        counts = Pusher(sync.target, sync.connector, sessions).drain()
    assert counts["crm_updated"] == 1 and counts["edits_unseen"] == 1
    assert counts["edits_replaced"] == 0
    properties = (sandbox.get("companies", company["id"]) or {})["properties"]
    assert (properties["description"], properties["city"]) == ("called on Monday", "Shelbyville")
    [customer] = customers(sessions)
    assert (customer.notes, customer.billing_city) == ("called on Monday", "Shelbyville")
    assert conflicts(sessions) == []  # only the CRM changed the city: no conflict
    # A later local edit of the city is made knowing the CRM's: written, no conflict.
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"billing_city": "Springfield"})
    with sync.locks.hold("test"):
        counts = Pusher(sync.target, sync.connector, sessions).drain()
    assert counts["crm_updated"] == 1 and counts["edits_unseen"] == 0
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["city"] == "Springfield"
    assert conflicts(sessions) == []
    run = sync.incremental()
    assert run.outcome == "ok" and run.counts["updated"] == 0


def push_that_dies(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> tuple[str, int]:
    """A local rename pushed over a newer HubSpot rename by a push that dies before its
    transaction commits: HubSpot holds the local name, the database knows nothing of it."""
    company = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    sync.reconcile()
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"name": "Globex Local"})
    time.sleep(0.01)
    sandbox.update("companies", company["id"], {"name": "Globex HubSpot"})  # newer: it wins
    with sync.locks.hold("test"), sessions() as session:
        Pusher(sync.target, sync.connector, sessions).push(session, "customer", [customer.id])
        session.rollback()
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["name"] == "Globex Local"
    return str(company["id"]), customer.id


def test_a_crm_edit_replaced_by_a_push_that_died_before_its_commit_is_not_lost(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Found by the convergence soak: a worker wrote a local rename to HubSpot over a newer
    HubSpot rename and was killed before its transaction committed, so what its history
    read found was lost with it. The next read saw HubSpot holding the local value, took
    the two sides for agreeing, and the HubSpot rename was gone with no conflict on
    record. A read that finds the CRM agreeing with an unpushed local change leaves the
    record to the push, whose guard reads the history from the last merged state."""
    company_id, _ = push_that_dies(sync, sandbox, sessions, tenant_id)
    run = sync.incremental()
    assert run.outcome == "ok" and run.counts["deferred_to_push"] == 1
    with sync.locks.hold("test"):
        counts = Pusher(sync.target, sync.connector, sessions).drain()
    assert counts["edits_replaced"] == 1
    assert (sandbox.get("companies", company_id) or {})["properties"]["name"] == "Globex HubSpot"
    assert customers(sessions)[0].name == "Globex HubSpot"
    [conflict] = conflicts(sessions)
    assert (conflict.field, conflict.local_value, conflict.remote_value, conflict.rule) == (
        "name", "Globex Local", "Globex HubSpot", "two_way (crm won)",
    )  # fmt: skip
    run = sync.incremental()
    assert run.outcome == "ok" and run.counts["updated"] == 0
    assert run.counts["deferred_to_push"] == 0


def test_a_record_the_push_holds_for_a_read_is_not_left_to_the_push(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """The push holds a record whose last read failed until a read applies it; that read
    must not leave it to the push in turn, or neither would ever apply it."""
    company_id, customer_id = push_that_dies(sync, sandbox, sessions, tenant_id)
    with db.transaction(sessions) as session:
        stale = StaleVersion("customer", customer_id, None, None)
        record_failure(session, direction="inbound", error=Permanent(str(stale), provider="hubspot",
                       code="StaleVersion"), payload={}, connection_id=sync.target.connection_id,
                       object_type="company", external_id=company_id, local_id=customer_id)  # fmt: skip
    run = sync.incremental()
    assert run.outcome == "ok" and run.counts["deferred_to_push"] == 0
    assert run.counts["echo"] + run.counts["unchanged"] + run.counts["updated"] == 1


def test_an_incremental_pass_archives_the_customer_of_a_deleted_company(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session]
) -> None:
    kept = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    gone = sandbox.create("companies", {"name": "Initech Ltd", "domain": "initech.io"})
    sync.reconcile()
    sandbox.archive("companies", gone["id"])  # search never returns it again
    run = sync.incremental()
    assert run.outcome == "ok" and run.counts["archived"] == 1
    by_name = {customer.name: customer for customer in customers(sessions)}
    assert by_name["Initech Ltd"].archived_at is not None
    assert by_name["Globex GmbH"].archived_at is None
    with sessions() as session:
        linked = set(session.scalars(select(ExternalLink.external_id)))
    assert str(gone["id"]) not in linked and str(kept["id"]) in linked
    # The next pass finds the delete again in the recycle bin, and it changes nothing.
    again = sync.incremental()
    assert again.outcome == "ok" and again.counts["archived"] == 0


def test_a_contact_removed_and_added_again_takes_over_its_crm_record(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        customer = service.create_customer(session, tenant_id, {"name": "Acme Corp", "email": "ap@acme.com"})  # fmt: skip
        old = contacts.add_contact(session, tenant_id, customer.id, {"first_name": "Ann", "email": "ann@acme.com"})  # fmt: skip
    sync.reconcile()
    [record_id] = sandbox.ids("contacts")
    with db.transaction(sessions) as session:
        contacts.remove_contact(session, tenant_id, old.id)
        new = contacts.add_contact(session, tenant_id, customer.id, {"first_name": "Annie", "email": "ann@acme.com"})  # fmt: skip
    run = sync.push()
    assert run.outcome == "ok" and run.counts["failed"] == 0  # no 409 CONFLICT
    assert run.counts["contacts_adopted"] == 1
    assert sandbox.ids("contacts") == [record_id]
    assert (sandbox.get("contacts", record_id) or {})["properties"]["firstname"] == "Annie"
    with sessions() as session:
        linked = session.scalars(
            select(ExternalLink).where(ExternalLink.object_type == "contact")
        ).one()
    assert linked.local_id == new.id


def test_an_inbound_apply_never_overwrites_a_local_edit_committed_after_the_crm_read(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """A page read from the CRM, then a local edit commits, then the page is applied: the
    merge sees the committed local edit, and the newer side wins by the field's rule."""
    company = sandbox.create(
        "companies", {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn"}
    )
    sync.reconcile()
    sandbox.update("companies", company["id"], {"city": "Shelbyville"})
    page = sync.connector.fetch("company", [str(company["id"])])
    time.sleep(0.01)
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer.id, {"billing_city": "Springfield"})
    with db.transaction(sessions) as session:
        result = apply_page(session, sync.target, "company", page)
    assert result.counts["conflicts"] == 1
    assert customers(sessions)[0].billing_city == "Springfield"
    [conflict] = conflicts(sessions)
    assert (conflict.remote_value, conflict.rule) == ("Shelbyville", "two_way (local won)")
    with sync.locks.hold("test"):
        Pusher(sync.target, sync.connector, sessions).drain()
    assert (sandbox.get("companies", company["id"]) or {})["properties"]["city"] == "Springfield"


def test_a_value_cleared_in_hubspot_clears_the_local_value(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session]
) -> None:
    """HubSpot answers a requested property without a value as null: an empty value, a
    CRM change like any other. Read as "not known", a clear in HubSpot never arrived."""
    company = sandbox.create(
        "companies", {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn"}
    )
    sync.reconcile()
    [customer] = customers(sessions)
    assert customer.billing_city == "Bonn"
    sandbox.update("companies", company["id"], {"city": ""})
    sync.records("company", [company["id"]])
    [customer] = customers(sessions)
    assert customer.billing_city is None
    assert "city" not in (sandbox.get("companies", company["id"]) or {})["properties"]


def test_a_property_not_requested_never_clears_the_local_value(
    sandbox: HubSpotSandbox, sessions: sessionmaker[Session], sync: Sync
) -> None:
    """A connection that does not ask HubSpot for a property learns nothing of it: the
    local value stays, though HubSpot holds none."""
    company = sandbox.create(
        "companies", {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn"}
    )
    sync.reconcile()
    sandbox.update("companies", company["id"], {"city": ""})
    narrow = hubspot_connector(sandbox, properties={
        "company": [p for p in DEFAULT_PROPERTIES["company"] if p != "city"],
        "contact": DEFAULT_PROPERTIES["contact"],
    })  # fmt: skip
    [record] = narrow.fetch("company", [company["id"]])
    assert "city" not in record.properties
    Sync(sync.target.connection_id, sessions=sessions, connector=narrow,
         locks=ThreadLocks()).records("company", [company["id"]])  # fmt: skip
    [customer] = customers(sessions)
    assert customer.billing_city == "Bonn"


def test_a_map_entry_that_keeps_the_local_value_over_a_crm_blank(
    sandbox: HubSpotSandbox, sessions: sessionmaker[Session], sync: Sync, tmp_path: Path
) -> None:
    """``on_blank: keep``: a blank in the CRM is not known for that entry, so the
    directory keeps its value and the push fills the blank; other entries still clear."""
    own_map = tmp_path / "map.yaml"
    own_map.write_text(
        "object: company\nfields:\n  - {local: billing_city, remote: city, on_blank: keep}\n"
    )
    with db.transaction(sessions) as session:
        connection = session.get(Connection, sync.target.connection_id)
        assert connection is not None
        connection.mapping = str(own_map)
    sync = Sync(sync.target.connection_id, sessions=sessions, connector=sync.connector,
                locks=ThreadLocks())  # fmt: skip
    company = sandbox.create(
        "companies",
        {"name": "Globex GmbH", "domain": "globex.de", "city": "Bonn", "phone": "+49 228 1234"},
    )
    sync.reconcile()
    sandbox.update("companies", company["id"], {"city": "", "phone": ""})
    sync.records("company", [company["id"]])
    [customer] = customers(sessions)
    assert customer.billing_city == "Bonn" and customer.phone is None
    sync.push()
    properties = (sandbox.get("companies", company["id"]) or {})["properties"]
    assert properties["city"] == "Bonn"  # the kept value fills the CRM's blank
    assert not properties.get("phone")


def test_a_contact_merge_moves_the_link_to_the_new_record_and_removes_the_other(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """Contacts merge as companies do: a new record, the primary's contact keeps the link,
    the other linked contact is removed (its row stays), and no pass creates it again."""
    with db.transaction(sessions) as session:
        customer = service.create_customer(session, tenant_id, {"name": "Acme Corp", "email": "ap@acme.com"})  # fmt: skip
        ann = contacts.add_contact(session, tenant_id, customer.id, {"first_name": "Ann", "email": "ann@acme.com"})  # fmt: skip
        annie = contacts.add_contact(session, tenant_id, customer.id, {"first_name": "Annie", "email": "annie@acme.com", "job_title": "CFO"})  # fmt: skip
    sync.reconcile()
    by_email = {
        (sandbox.get("contacts", i) or {})["properties"]["email"]: i
        for i in sandbox.ids("contacts")
    }
    new = sandbox.merge("contacts", by_email["ann@acme.com"], by_email["annie@acme.com"])["id"]
    sync.reconcile()
    sync.reconcile()
    with sessions() as session:
        links = {
            link.external_id: link.local_id
            for link in session.scalars(
                select(ExternalLink).where(ExternalLink.object_type == "contact")
            )
        }
        kept, removed = session.get(Contact, ann.id), session.get(Contact, annie.id)
        assert kept is not None and removed is not None
        assert kept.deleted_at is None and kept.job_title == "CFO"  # filled in by the merge
        assert removed.deleted_at is not None
    assert links == {new: ann.id}
    assert sandbox.ids("contacts") == [new]


def test_a_crm_read_older_than_our_own_write_does_not_undo_it(
    sync: Sync, sandbox: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """A webhook's fetch, then our push of a local change, then the fetched record is
    applied (it waited for the connection's lock): the record predates our write, so it
    must not read as a CRM change undoing it. Here that undid an archive, and the next
    reconcile created the archived business again in every other CRM."""
    assert not sync.connector.ensure_setup(sync.full_target.fields).problems
    company = sandbox.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    sync.reconcile()
    sandbox.update("companies", company["id"], {"city": "Shelbyville"})
    fetched = sync.connector.fetch("company", [str(company["id"])])
    [customer] = customers(sessions)
    with db.transaction(sessions) as session:
        service.archive_customer(session, tenant_id, customer.id)
    with sync.locks.hold("test"):
        Pusher(sync.target, sync.connector, sessions).drain()
    remote = (sandbox.get("companies", company["id"]) or {})["properties"]
    assert remote["crmsync_archived"] == "true"
    with db.transaction(sessions) as session:
        result = apply_page(session, sync.target, "company", fetched)
    assert result.counts["stale"] == 1
    [customer] = customers(sessions)
    assert customer.archived_at is not None
    # What the old read carried that our write did not replace, the write merged (its
    # history): the next read has nothing new.
    assert (customer.archived_at is not None, customer.billing_city) == (True, "Shelbyville")
    assert sync.incremental().counts["updated"] == 0
    [customer] = customers(sessions)
    assert (customer.archived_at is not None, customer.billing_city) == (True, "Shelbyville")
