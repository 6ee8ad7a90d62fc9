"""Linking a customer to a CRM record by hand, and unlinking it, against the HubSpot and
Salesforce sandboxes through the unchanged SDKs, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from customers import db, service
from customers.errors import InvalidInput, NotFound, Refused
from customers.sync_state import Connection, ConnectionStatus, ExternalLink, SyncConflict
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from tests.connectors.conftest import hubspot_connector, sf_connector
from tests.customers.helpers import row_counts
from worker.locks import ThreadLocks
from worker.sync.linking import link_customer, unlink_customer
from worker.sync.passes import Sync

LOCKS = ThreadLocks()


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None) as running:
        yield running


@pytest.fixture
def portal(hubspot: HubSpotSandbox) -> HubSpotConnector:
    return hubspot_connector(hubspot)


@pytest.fixture
def salesforce() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as running:
        yield running


@pytest.fixture
def org(salesforce: SalesforceSandbox) -> SalesforceConnector:
    return sf_connector(salesforce)


def connection(
    sessions: sessionmaker[Session], tenant_id: int, provider: str, account_id: str
) -> int:
    with db.transaction(sessions) as session:
        row = Connection(tenant_id=tenant_id, provider=provider, account_id=account_id, name="crm")
        session.add(row)
        session.flush()
        return row.id


def customer(sessions: sessionmaker[Session], tenant_id: int, **fields: object) -> int:
    with db.transaction(sessions) as session:
        data = {"name": "Acme Corp", "email": "ap@acme.example", **fields}
        return service.create_customer(session, tenant_id, data).id


def test_link_merges_on_an_empty_base_and_pushes_what_local_fills(
    sessions: sessionmaker[Session],
    tenant_id: int,
    hubspot: HubSpotSandbox,
    portal: HubSpotConnector,
) -> None:
    customer_id = customer(
        sessions, tenant_id, name="Acme Corp", notes="Pays by transfer", billing_country="DE"
    )
    company = hubspot.create("companies", {"name": "ACME Corporation GmbH", "city": "Köln"})
    connection_id = connection(sessions, tenant_id, "hubspot", str(hubspot.portal_id))

    outcome = link_customer(
        sessions,
        tenant_id,
        customer_id,
        connection_id,
        company["id"],
        connector=portal,
        locks=LOCKS,
    )

    # The CRM filled what was empty here; local fills what was empty there.
    assert outcome.filled_locally["billing_city"] == "Köln"
    assert "description" in outcome.to_push and "country" in outcome.to_push
    # Both held a name, and they differ: the rule decided, and the conflict is kept.
    [conflict] = [c for c in outcome.conflicts if c["field"] == "name"]
    assert {conflict["local"], conflict["crm"]} == {"Acme Corp", "ACME Corporation GmbH"}
    with sessions() as session:
        row = session.scalars(select(SyncConflict).where(SyncConflict.field == "name")).one()
        assert (row.local_id, row.external_id) == (customer_id, company["id"])
        local = service.get_customer(session, tenant_id, customer_id)
        assert local.name == row.resolved_value
        link = session.scalars(select(ExternalLink)).one()
        assert (link.local_id, link.external_id, link.object_type) == (
            customer_id,
            company["id"],
            "company",
        )
        assert link.last_synced_at is not None
    assert outcome.needs_push  # our id and the local values wait in the outbox

    sync = Sync(connection_id, sessions=sessions, connector=portal, locks=LOCKS)
    sync.push_records("customer", [customer_id])
    pushed = hubspot.get("companies", company["id"])
    assert pushed is not None
    assert pushed["properties"]["description"] == "Pays by transfer"
    assert pushed["properties"]["crmsync_id"] == str(customer_id)
    assert pushed["properties"]["city"] == "Köln"


def test_link_is_refused_for_a_missing_or_taken_record(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant_id: int,
    hubspot: HubSpotSandbox,
    portal: HubSpotConnector,
) -> None:
    first = customer(sessions, tenant_id)
    second = customer(sessions, tenant_id, name="Globex", email="ap@globex.example")
    connection_id = connection(sessions, tenant_id, "hubspot", str(hubspot.portal_id))
    company = hubspot.create("companies", {"name": "Acme"})
    other = hubspot.create("companies", {"name": "Globex"})

    before = row_counts(engine)
    with pytest.raises(NotFound, match="hubspot company 999999999 not found"):
        link_customer(
            sessions, tenant_id, first, connection_id, "999999999", connector=portal, locks=LOCKS
        )
    assert row_counts(engine) == before

    link_customer(
        sessions, tenant_id, first, connection_id, company["id"], connector=portal, locks=LOCKS
    )
    before = row_counts(engine)
    with pytest.raises(Refused, match=f"already linked to customer {first}"):
        link_customer(
            sessions, tenant_id, second, connection_id, company["id"], connector=portal, locks=LOCKS
        )
    with pytest.raises(Refused, match=f"customer {first} is already linked"):
        link_customer(
            sessions, tenant_id, first, connection_id, other["id"], connector=portal, locks=LOCKS
        )
    assert row_counts(engine) == before

    # Another tenant's connection and customer are answered as ones that do not exist.
    with db.transaction(sessions) as session:
        stranger = service.get_tenant(session, "stranger").id
    with pytest.raises(NotFound, match="connection"):
        link_customer(sessions, stranger, first, connection_id, other["id"], connector=portal)
    stranger_connection = connection(sessions, stranger, "hubspot", "1")
    with pytest.raises(NotFound, match=f"customer {second}"):
        link_customer(
            sessions, stranger, second, stranger_connection, other["id"], connector=portal
        )


def test_link_is_refused_for_a_record_made_from_another_customer(
    sessions: sessionmaker[Session],
    tenant_id: int,
    hubspot: HubSpotSandbox,
    portal: HubSpotConnector,
) -> None:
    first = customer(sessions, tenant_id)
    second = customer(sessions, tenant_id, name="Globex", email="ap@globex.example")
    company = hubspot.create("companies", {"name": "Acme", "crmsync_id": str(first)})
    connection_id = connection(sessions, tenant_id, "hubspot", str(hubspot.portal_id))
    with pytest.raises(Refused, match=f"carries the id of customer {first}"):
        link_customer(
            sessions, tenant_id, second, connection_id, company["id"], connector=portal, locks=LOCKS
        )


def test_unlink_keeps_both_records_and_takes_our_id_out(
    sessions: sessionmaker[Session],
    tenant_id: int,
    hubspot: HubSpotSandbox,
    portal: HubSpotConnector,
) -> None:
    customer_id = customer(sessions, tenant_id, name="Initech", email="ap@initech.example")
    company = hubspot.create("companies", {"name": "Initrode Holdings"})
    connection_id = connection(sessions, tenant_id, "hubspot", str(hubspot.portal_id))
    link_customer(
        sessions,
        tenant_id,
        customer_id,
        connection_id,
        company["id"],
        connector=portal,
        locks=LOCKS,
    )
    sync = Sync(connection_id, sessions=sessions, connector=portal, locks=LOCKS)
    sync.push_records("customer", [customer_id])
    assert hubspot.get("companies", company["id"])["properties"]["crmsync_id"] == str(customer_id)  # type: ignore[index]

    outcome = unlink_customer(
        sessions, tenant_id, customer_id, connection_id, connector=portal, locks=LOCKS
    )
    assert (outcome.external_id, outcome.id_released) == (company["id"], True)
    record = hubspot.get("companies", company["id"])
    assert record is not None and not record.get("archived")
    assert not record["properties"].get("crmsync_id")
    with sessions() as session:
        assert session.scalars(select(ExternalLink)).all() == []
        assert service.get_customer(session, tenant_id, customer_id).deleted_at is None
    # The sync does not take the record for the customer's again.
    sync.records("company", [company["id"]])
    with sessions() as session:
        links = session.scalars(
            select(ExternalLink).where(ExternalLink.local_id == customer_id)
        ).all()
        assert links == []
    with pytest.raises(NotFound, match="link of customer"):
        unlink_customer(sessions, tenant_id, customer_id, connection_id, connector=portal)

    # A second record released the same way: an empty id is no value, so no clash.
    for name in ("Hooli", "Pied Piper"):
        number = customer(sessions, tenant_id, name=name, email=f"ap@{name[:4].lower()}.example")
        other = hubspot.create("companies", {"name": name})
        link_customer(
            sessions, tenant_id, number, connection_id, other["id"], connector=portal, locks=LOCKS
        )
        sync.push_records("customer", [number])
        if name == "Hooli":
            released = unlink_customer(
                sessions, tenant_id, number, connection_id, connector=portal, locks=LOCKS
            )
            assert released.id_released
            assert not hubspot.get("companies", other["id"])["properties"].get("crmsync_id")  # type: ignore[index]
    hubspot.archive("companies", other["id"])  # gone from the CRM meanwhile
    gone = unlink_customer(
        sessions, tenant_id, number, connection_id, connector=portal, locks=LOCKS
    )
    assert not gone.id_released and gone.note and "is gone" in gone.note
    with sessions() as session:
        assert session.scalars(select(ExternalLink)).all() == []


def test_unlink_on_a_paused_connection_removes_the_link_only(
    sessions: sessionmaker[Session],
    tenant_id: int,
    hubspot: HubSpotSandbox,
    portal: HubSpotConnector,
) -> None:
    customer_id = customer(sessions, tenant_id)
    company = hubspot.create("companies", {"name": "Acme"})
    connection_id = connection(sessions, tenant_id, "hubspot", str(hubspot.portal_id))
    link_customer(
        sessions,
        tenant_id,
        customer_id,
        connection_id,
        company["id"],
        connector=portal,
        locks=LOCKS,
    )
    with db.transaction(sessions) as session:
        row = session.get(Connection, connection_id)
        assert row is not None
        row.status = ConnectionStatus.PAUSED.value
    outcome = unlink_customer(sessions, tenant_id, customer_id, connection_id, locks=LOCKS)
    assert not outcome.id_released and outcome.note and "paused" in outcome.note
    with sessions() as session:
        assert session.scalars(select(ExternalLink)).all() == []


def test_salesforce_link_fills_both_sides_and_unlink_clears_the_external_id(
    sessions: sessionmaker[Session],
    tenant_id: int,
    salesforce: SalesforceSandbox,
    org: SalesforceConnector,
) -> None:
    customer_id = customer(
        sessions, tenant_id, name="Umbrella", email="ap@umbrella.example", notes="Net 30 only"
    )
    account = salesforce.create("Account", {"Name": "Umbrella", "BillingCity": "Raccoon City"})
    connection_id = connection(sessions, tenant_id, "salesforce", salesforce.org_id)

    outcome = link_customer(
        sessions, tenant_id, customer_id, connection_id, account, connector=org, locks=LOCKS
    )
    assert outcome.object_type == "account" and outcome.conflicts == []
    assert outcome.filled_locally["billing_city"] == "Raccoon City"
    assert "Description" in outcome.to_push
    Sync(connection_id, sessions=sessions, connector=org, locks=LOCKS).push_records(
        "customer", [customer_id]
    )
    pushed = salesforce.record("Account", account)
    assert pushed is not None
    assert (pushed["Description"], pushed["CrmsyncId__c"]) == ("Net 30 only", str(customer_id))

    unlinked = unlink_customer(
        sessions, tenant_id, customer_id, connection_id, connector=org, locks=LOCKS
    )
    assert unlinked.id_released
    kept = salesforce.record("Account", account)
    assert kept is not None and not kept["IsDeleted"] and not kept["CrmsyncId__c"]
    assert kept["Description"] == "Net 30 only"


def test_two_people_linking_one_record_at_once_make_one_link(
    sessions: sessionmaker[Session], tenant_id: int, hubspot: HubSpotSandbox
) -> None:
    """Each with its own process locks: the database's connection lock alone decides, and
    the second one sees the first one's link when it checks again."""
    from concurrent.futures import ThreadPoolExecutor

    first = customer(sessions, tenant_id)
    second = customer(sessions, tenant_id, name="Globex", email="ap@globex.example")
    company = hubspot.create("companies", {"name": "Acme"})
    connection_id = connection(sessions, tenant_id, "hubspot", str(hubspot.portal_id))

    def attempt(customer_id: int) -> str:
        try:
            link_customer(
                sessions,
                tenant_id,
                customer_id,
                connection_id,
                company["id"],
                connector=hubspot_connector(hubspot, setup=False),
                locks=ThreadLocks(),
            )
        except Refused as refused:
            return str(refused)
        return "linked"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(attempt, (first, second)))
    assert outcomes[1] == "linked" and "is already linked to customer" in outcomes[0]
    with sessions() as session:
        assert len(session.scalars(select(ExternalLink)).all()) == 1


@pytest.mark.parametrize(
    ("external_id", "reason"),
    [
        ("abc", "not a Salesforce id (15 or 18"),
        ("001000000000001AA", "not a Salesforce id (15 or 18"),  # 17 characters
        ("001000000000001AAB", "last 3 characters do not match"),
        ("x')OR(Id!='", "not a Salesforce id"),
    ],
)
def test_salesforce_link_refuses_an_id_salesforce_could_not_have_made(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant_id: int,
    salesforce: SalesforceSandbox,
    org: SalesforceConnector,
    external_id: str,
    reason: str,
) -> None:
    # Each was sent to Salesforce, which answered 400 INVALID_QUERY_FILTER_OPERATOR: the
    # CLI blamed the CRM ("could not be read") instead of naming --external-id.
    customer_id = customer(sessions, tenant_id)
    connection_id = connection(sessions, tenant_id, "salesforce", salesforce.org_id)
    before = row_counts(engine)
    with pytest.raises(InvalidInput, match=re.escape(reason)) as refused:
        link_customer(sessions, tenant_id, customer_id, connection_id, external_id, connector=org)
    assert refused.value.errors[0].field == "--external-id"
    assert row_counts(engine) == before


def test_link_refuses_an_id_of_another_kind_of_record(
    sessions: sessionmaker[Session],
    tenant_id: int,
    hubspot: HubSpotSandbox,
    portal: HubSpotConnector,
    salesforce: SalesforceSandbox,
    org: SalesforceConnector,
) -> None:
    customer_id = customer(sessions, tenant_id)
    contact = salesforce.create("Contact", {"LastName": "Lee"})
    org_connection = connection(sessions, tenant_id, "salesforce", salesforce.org_id)
    with pytest.raises(InvalidInput, match="the id of a contact, not of an account"):
        link_customer(sessions, tenant_id, customer_id, org_connection, contact, connector=org)
    portal_connection = connection(sessions, tenant_id, "hubspot", str(hubspot.portal_id))
    with pytest.raises(InvalidInput, match="not a HubSpot company id"):
        link_customer(
            sessions, tenant_id, customer_id, portal_connection, "../123", connector=portal
        )
