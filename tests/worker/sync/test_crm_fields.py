"""The directory's own fields (payment terms, credit limit, status, archived, contact roles,
...) both ways, against both sandboxes over real sockets through the unchanged SDKs, on
SQLite and PostgreSQL: what connect sets up, what arrives in each CRM, and what comes back
when the CRM changes it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from connectors.fields import FieldSpec
from connectors.hubspot import HubSpotConnector
from customers import contacts, db, service
from customers.models import Contact, Customer
from customers.sync_state import Connection, ExternalLink
from sandbox.faults import Faults
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import CRMSYNC_FIELDS
from tests.connectors.conftest import hubspot_connector, sf_connector
from worker.locks import ThreadLocks
from worker.sync.passes import Sync
from worker.sync.target import field_specs, maps_for

CUSTOMER = {
    "name": "Initech Ltd",
    "email": "ap@initech.io",
    "website": "initech.io",
    "billing_country": "GB",
    "currency": "GBP",
    "payment_terms_days": 30,
    "credit_limit": "25000.50",
    "tax_id": "GB 123 4567 89",
    "registration_number": "01234567",
    "status": "active",
    "tax_rate": "19.5",
    "sales_rep_email": "sam.rep@example.com",
    "sales_rep_name": "Sam Rep",
}
TAGS = ("wholesale", "eu")


def _sync(
    sessions: sessionmaker[Session],
    tenant_id: int,
    provider: str,
    account: str,
    connector: Connector,
) -> Sync:
    with db.transaction(sessions) as session:
        connection = Connection(
            tenant_id=tenant_id, provider=provider, account_id=account, name=provider
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id
    return Sync(connection_id, sessions=sessions, connector=connector, locks=ThreadLocks())


def _create_local(sessions: sessionmaker[Session], tenant_id: int) -> tuple[int, int]:
    with db.transaction(sessions) as session:
        customer = service.create_customer(session, tenant_id, CUSTOMER, tags=TAGS)
        contact = contacts.add_contact(
            session,
            tenant_id,
            customer.id,
            {
                "first_name": "Peter",
                "last_name": "Gibbons",
                "email": "peter@initech.io",
                "roles": ["billing", "order"],
            },
        )
        return customer.id, contact.id


def _external_id(sessions: sessionmaker[Session], local_type: str, local_id: int) -> str:
    with sessions() as session:
        link = session.scalar(
            select(ExternalLink).where(
                ExternalLink.local_type == local_type, ExternalLink.local_id == local_id
            )
        )
        assert link is not None
        return link.external_id


def _local(
    sessions: sessionmaker[Session], customer_id: int, contact_id: int
) -> tuple[Customer, Contact]:
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        contact = session.get(Contact, contact_id)
        assert customer is not None and contact is not None
        session.expunge_all()
        return customer, contact


# --- HubSpot ----------------------------------------------------------------------------


@pytest.fixture
def portal() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None, faults=Faults(seed=7)) as running:
        yield running


def _hubspot_property(sandbox: HubSpotSandbox, object_type: str, name: str) -> dict[str, object]:
    found = sandbox.store.schema.get(object_type, name)
    assert found is not None, name
    return found.to_json()


def test_hubspot_connect_creates_the_maps_properties_once_in_the_crmsync_group(
    portal: HubSpotSandbox,
) -> None:
    connector = hubspot_connector(portal, setup=False)
    specs = field_specs(maps_for("hubspot", None))
    first = connector.ensure_setup(specs)
    assert {
        "companies.crmsync_payment_terms_days",
        "companies.crmsync_credit_limit",
        "companies.crmsync_status",
        "companies.crmsync_archived",
        "companies.vat_number",
        "contacts.crmsync_roles",
    } <= set(first.created)
    assert not first.problems
    terms = _hubspot_property(portal, "companies", "crmsync_payment_terms_days")
    assert (terms["type"], terms["fieldType"], terms["groupName"]) == (
        "number",
        "number",
        "crmsync",
    )
    status = _hubspot_property(portal, "companies", "crmsync_status")
    assert status["type"] == "enumeration"
    assert [option["value"] for option in status["options"]] == ["active", "inactive", "blocked"]  # type: ignore[attr-defined]
    assert _hubspot_property(portal, "companies", "crmsync_archived")["type"] == "bool"
    assert _hubspot_property(portal, "contacts", "crmsync_roles")["type"] == "string"
    # Standard properties are used as they are, never made.
    assert not any(name.endswith((".name", ".domain", ".email")) for name in first.created)
    again = connector.ensure_setup(specs)
    assert again.created == () and not again.problems


def test_hubspot_a_property_of_the_wrong_type_is_reported_not_changed_and_left_out(
    portal: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    portal.create_property("companies", "crmsync_credit_limit", type="bool")
    connector = hubspot_connector(portal, setup=False)
    report = connector.ensure_setup(field_specs(maps_for("hubspot", None)))
    [problem] = report.problems
    assert (problem.crm_object, problem.name, problem.found) == (
        "companies",
        "crmsync_credit_limit",
        "bool",
    )
    assert "number" in problem.needed
    assert _hubspot_property(portal, "companies", "crmsync_credit_limit")["type"] == "bool"
    # The rest syncs; the credit limit is not written into a property that cannot hold it.
    customer_id, _ = _create_local(sessions, tenant_id)
    sync = _sync(sessions, tenant_id, "hubspot", str(portal.portal_id), connector)
    assert sync.reconcile().outcome == "ok"
    company = portal.get("companies", _external_id(sessions, "customer", customer_id))
    assert company is not None
    assert company["properties"]["crmsync_payment_terms_days"] == "30"
    assert not company["properties"].get("crmsync_credit_limit")


@pytest.fixture
def hubspot_sync(
    portal: HubSpotSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> tuple[Sync, HubSpotConnector]:
    connector = hubspot_connector(portal, setup=False)
    connector.ensure_setup(field_specs(maps_for("hubspot", None)))
    return _sync(sessions, tenant_id, "hubspot", str(portal.portal_id), connector), connector


def test_hubspot_fields_arrive_and_a_change_made_in_hubspot_comes_back(
    portal: HubSpotSandbox,
    hubspot_sync: tuple[Sync, HubSpotConnector],
    sessions: sessionmaker[Session],
    tenant_id: int,
) -> None:
    sync, _ = hubspot_sync
    customer_id, contact_id = _create_local(sessions, tenant_id)
    assert sync.reconcile().outcome == "ok"
    company_id = _external_id(sessions, "customer", customer_id)
    person_id = _external_id(sessions, "contact", contact_id)
    company = portal.get("companies", company_id)
    person = portal.get("contacts", person_id)
    assert company is not None and person is not None
    properties = company["properties"]
    assert properties["crmsync_payment_terms_days"] == "30"
    assert properties["crmsync_credit_limit"] == "25000.5"
    assert (properties["crmsync_status"], properties["crmsync_archived"]) == ("active", "false")
    assert (properties["crmsync_currency"], properties["vat_number"]) == ("GBP", "GB123456789")
    assert properties["crmsync_registration_number"] == "01234567"
    assert properties["crmsync_customer_type"] == "business"
    assert person["properties"]["crmsync_roles"] == "billing;order"
    assert (properties["crmsync_tax_rate"], properties["crmsync_tags"]) == ("19.5", "eu;wholesale")
    assert properties["crmsync_sales_rep_email"] == "sam.rep@example.com"
    assert properties["crmsync_sales_rep_name"] == "Sam Rep"

    portal.update(
        "companies",
        company_id,
        {
            "crmsync_payment_terms_days": "14",
            "crmsync_credit_limit": "40000",
            "crmsync_status": "blocked",
            "crmsync_archived": "true",
            "crmsync_tax_rate": "7.25",
            "crmsync_tags": "VIP;eu",
            "crmsync_sales_rep_email": "ria.rep@example.com",
        },
    )
    portal.update("contacts", person_id, {"crmsync_roles": "legal;billing"})
    sync.records("company", [company_id])
    sync.records("contact", [person_id])
    customer, contact = _local(sessions, customer_id, contact_id)
    assert customer.payment_terms_days == 14
    assert customer.credit_limit == Decimal("40000.00")
    assert customer.status == "blocked" and customer.archived_at is not None
    assert contact.roles == ["legal", "billing"]
    assert (customer.tax_rate, customer.tags) == (Decimal("7.25"), ["eu", "vip"])
    assert customer.sales_rep_email == "ria.rep@example.com"
    # Applied and settled: a second read writes nothing either way.
    before = portal.faults.snapshot()["calls"].get("companies.batch.update", 0)
    sync.records("company", [company_id])
    assert portal.faults.snapshot()["calls"].get("companies.batch.update", 0) == before


# --- Salesforce -------------------------------------------------------------------------


@pytest.fixture
def org() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(faults=Faults(seed=8)) as running:
        yield running


def test_salesforce_fields_arrive_and_a_change_made_in_salesforce_comes_back(
    org: SalesforceSandbox, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    connector = sf_connector(org)
    assert not connector.ensure_setup(field_specs(maps_for("salesforce", None))).problems
    sync = _sync(sessions, tenant_id, "salesforce", org.org_id, connector)
    customer_id, contact_id = _create_local(sessions, tenant_id)
    assert sync.reconcile().outcome == "ok"
    account_id = _external_id(sessions, "customer", customer_id)
    person_id = _external_id(sessions, "contact", contact_id)
    account = org.record("Account", account_id)
    person = org.record("Contact", person_id)
    assert account is not None and person is not None
    assert (account["Payment_Terms_Days__c"], account["Credit_Limit__c"]) == (30, 25000.5)
    assert (account["Customer_Status__c"], account["Archived__c"]) == ("active", False)
    assert (account["Currency__c"], account["VAT_Number__c"]) == ("GBP", "GB123456789")
    assert person["Contact_Roles__c"] == "billing;order"
    assert (account["Tax_Rate__c"], account["Tags__c"]) == (19.5, "eu;wholesale")
    assert account["Sales_Rep_Email__c"] == "sam.rep@example.com"

    org.update(
        "Account",
        account_id,
        {
            "Payment_Terms_Days__c": 45,
            "Credit_Limit__c": 1234.5,
            "Archived__c": True,
            "Tax_Rate__c": 7.25,
            "Tags__c": "vip",
        },
    )
    org.update("Contact", person_id, {"Contact_Roles__c": "shipment"})
    assert sync.incremental().outcome == "ok"
    customer, contact = _local(sessions, customer_id, contact_id)
    assert (customer.payment_terms_days, customer.credit_limit) == (45, Decimal("1234.50"))
    assert customer.archived_at is not None
    assert contact.roles == ["shipment"]
    assert (customer.tax_rate, customer.tags) == (Decimal("7.25"), ["vip"])


def test_salesforce_connect_names_a_missing_field_and_the_rest_syncs(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    present = [field for field in CRMSYNC_FIELDS if field.name != "Credit_Limit__c"]
    with SalesforceSandbox(with_crmsync_fields=False, custom_fields=present) as lacking:
        connector = sf_connector(lacking)
        report = connector.ensure_setup(field_specs(maps_for("salesforce", None)))
        [problem] = report.problems
        assert (problem.crm_object, problem.name, problem.needed, problem.found) == (
            "Account",
            "Credit_Limit__c",
            "Number(16, 2)",
            None,
        )
        assert "Account.Credit_Limit__c is missing: create it as Number(16, 2)" in (
            problem.describe()
        )
        sync = _sync(sessions, tenant_id, "salesforce", lacking.org_id, connector)
        customer_id, _ = _create_local(sessions, tenant_id)
        run = sync.reconcile()
        assert run.outcome == "ok" and not run.counts.get("failed")
        account_id = _external_id(sessions, "customer", customer_id)
        account = lacking.record("Account", account_id)
        assert account is not None and account["Payment_Terms_Days__c"] == 30
        assert "Credit_Limit__c" not in account
        lacking.update("Account", account_id, {"Payment_Terms_Days__c": 60})
        assert sync.incremental().outcome == "ok"
        with sessions() as session:
            stored = session.get(Customer, customer_id)
            assert stored is not None
            assert stored.payment_terms_days == 60
            assert stored.credit_limit == Decimal("25000.50")  # kept: the org cannot hold it


def test_field_specs_carry_each_kind_to_the_connectors() -> None:
    specs = {spec.name: spec for spec in field_specs(maps_for("salesforce", None))}
    assert specs["Payment_Terms_Days__c"] == FieldSpec(
        "account", "Payment_Terms_Days__c", "integer", "Payment terms (days)", length=255
    )
    assert specs["Customer_Status__c"].choices == ("active", "inactive", "blocked")
    assert specs["Contact_Roles__c"].kind == "list"
    assert specs["VAT_Number__c"].length == 64


def test_a_company_archived_in_hubspot_is_created_archived_and_stays_so(
    portal: HubSpotSandbox,
    hubspot_sync: tuple[Sync, HubSpotConnector],
    sessions: sessionmaker[Session],
) -> None:
    sync, _ = hubspot_sync
    company = portal.create(
        "companies",
        {
            "name": "Vandelay Industries",
            "domain": "vandelay.com",
            "crmsync_archived": "true",
            "crmsync_payment_terms_days": "60",
            "crmsync_credit_limit": "500",
            "crmsync_tax_rate": "8.875",
            "crmsync_tags": "Retail; wholesale",
        },
    )
    assert sync.reconcile().outcome == "ok"
    with sessions() as session:
        [customer] = session.scalars(select(Customer))
        assert customer.archived_at is not None
        assert (customer.payment_terms_days, customer.credit_limit) == (60, Decimal("500.00"))
        assert (customer.tax_rate, customer.tags) == (Decimal("8.875"), ["retail", "wholesale"])
    again = portal.get("companies", company["id"])
    assert again is not None and again["properties"]["crmsync_archived"] == "true"


def test_a_salesforce_field_an_admin_adds_later_is_filled_from_the_directory(
    sessions: sessionmaker[Session], tenant_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.salesforce import fields as salesforce_fields

    [credit_limit] = [field for field in CRMSYNC_FIELDS if field.name == "Credit_Limit__c"]
    present = [field for field in CRMSYNC_FIELDS if field is not credit_limit]
    with SalesforceSandbox(with_crmsync_fields=False, custom_fields=present) as lacking:
        sync = _sync(sessions, tenant_id, "salesforce", lacking.org_id, sf_connector(lacking))
        customer_id, _ = _create_local(sessions, tenant_id)
        assert sync.reconcile().outcome == "ok"
        account_id = _external_id(sessions, "customer", customer_id)
        # The admin adds the field; the worker reads describe again once its copy is old,
        # without a restart.
        lacking.add_field(credit_limit)
        monkeypatch.setattr(salesforce_fields, "RECHECK_S", 0.0)
        assert sync.reconcile().outcome == "ok"
        account = lacking.record("Account", account_id)
        assert account is not None and account["Credit_Limit__c"] == 25000.5
        with sessions() as session:
            stored = session.get(Customer, customer_id)
            assert stored is not None and stored.credit_limit == Decimal("25000.50")


# --- Both CRMs --------------------------------------------------------------------------


def test_one_customer_reaches_both_crms_and_a_change_made_in_each_comes_back(
    portal: HubSpotSandbox,
    hubspot_sync: tuple[Sync, HubSpotConnector],
    org: SalesforceSandbox,
    sessions: sessionmaker[Session],
    tenant_id: int,
) -> None:
    """Payment terms, credit limit and tags of one customer arrive in HubSpot and in
    Salesforce; a change made in HubSpot and one made in Salesforce each come back to the
    directory (and on to the other CRM), every step a real sync pass."""
    hubspot, _ = hubspot_sync
    salesforce_connector = sf_connector(org)
    assert not salesforce_connector.ensure_setup(field_specs(maps_for("salesforce", None))).problems
    salesforce = _sync(sessions, tenant_id, "salesforce", org.org_id, salesforce_connector)
    customer_id, _ = _create_local(sessions, tenant_id)
    assert hubspot.reconcile().outcome == "ok" and salesforce.reconcile().outcome == "ok"
    with sessions() as session:
        links = dict(
            session.execute(
                select(ExternalLink.connection_id, ExternalLink.external_id).where(
                    ExternalLink.local_type == "customer", ExternalLink.local_id == customer_id
                )
            ).all()
        )
    company_id, account_id = (
        links[hubspot.target.connection_id],
        links[salesforce.target.connection_id],
    )

    def in_hubspot() -> tuple[str, str, str]:
        found = portal.get("companies", company_id)
        assert found is not None
        properties = found["properties"]
        return (
            properties["crmsync_payment_terms_days"],
            properties["crmsync_credit_limit"],
            properties["crmsync_tags"],
        )

    def in_salesforce() -> tuple[object, object, object]:
        found = org.record("Account", account_id)
        assert found is not None
        return found["Payment_Terms_Days__c"], found["Credit_Limit__c"], found["Tags__c"]

    def in_directory() -> tuple[int | None, Decimal | None, list[str]]:
        customer, _ = _local(sessions, customer_id, _contact_of(sessions, customer_id))
        return customer.payment_terms_days, customer.credit_limit, customer.tags

    assert in_hubspot() == ("30", "25000.5", "eu;wholesale")
    assert in_salesforce() == (30, 25000.5, "eu;wholesale")

    # Changed in HubSpot: back in the directory, then on to Salesforce.
    portal.update(
        "companies", company_id, {"crmsync_credit_limit": "40000", "crmsync_tags": "VIP;eu"}
    )
    assert hubspot.incremental().outcome == "ok"
    assert in_directory() == (30, Decimal("40000.00"), ["eu", "vip"])
    assert salesforce.push().outcome == "ok"
    assert in_salesforce() == (30, 40000.0, "eu;vip")

    # Changed in Salesforce: back in the directory, then on to HubSpot.
    org.update("Account", account_id, {"Payment_Terms_Days__c": 45, "Tags__c": "eu; Priority"})
    assert salesforce.incremental().outcome == "ok"
    assert in_directory() == (45, Decimal("40000.00"), ["eu", "priority"])
    assert hubspot.push().outcome == "ok"
    assert in_hubspot() == ("45", "40000", "eu;priority")

    # A tax rate blanked in a CRM is not known there (the directory always has one): the
    # directory keeps its rate and the next push fills the blank.
    org.update("Account", account_id, {"Tax_Rate__c": None})
    assert salesforce.incremental().outcome == "ok"
    assert salesforce.push().outcome == "ok"
    customer, _ = _local(sessions, customer_id, _contact_of(sessions, customer_id))
    assert customer.tax_rate == Decimal("19.50")
    assert (org.record("Account", account_id) or {})["Tax_Rate__c"] == 19.5


def _contact_of(sessions: sessionmaker[Session], customer_id: int) -> int:
    with sessions() as session:
        contact_id = session.scalar(select(Contact.id).where(Contact.customer_id == customer_id))
        assert contact_id is not None
        return contact_id
