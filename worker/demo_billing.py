"""The demo's billing record: one customer with everything finance keeps on it, linked by
hand to a HubSpot company, and its billing fields travelling both ways.

The steps, each through the same calls the CLI makes:

1. the tenant's own legal entity (``legal-entities add``) and typed custom properties
   (``properties add``);
2. a customer with invoice recipients, a tax rate, that legal entity, tags, typed custom
   values, payment terms and a credit limit (``customers add``) and an alias
   (``customers alias add``);
3. a company a salesperson made in HubSpot for the same business, linked to it by hand
   (``customers link``), and both CRMs brought up to date (a push each);
4. an edit in each CRM (the credit limit and tags in HubSpot, the payment terms in
   Salesforce), read back by an incremental sync of each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from customers import aliases, db, service
from customers.delivery import invoice_to
from customers.legal_entities import NewLegalEntity, add_legal_entity
from customers.models import Customer
from customers.property_definitions import Definition, add_definition
from customers.sync_state import ExternalLink
from mappings import load_map, to_local
from mappings.engine import local_value
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from worker import database
from worker.settings import get_settings
from worker.sync.linking import link_customer
from worker.sync.merging import columns

RunPass = Callable[[int, str, str], object]  # (connection id, pass, label)

NAME = "Northwind Traders GmbH"
CUSTOMER: dict[str, Any] = {
    "name": NAME,
    "email": "ap@northwind.example",
    "website": "northwind.example",
    "billing_street": "Speicherstadt 12",
    "billing_city": "Hamburg",
    "billing_postal_code": "20457",
    "billing_country": "DE",
    "currency": "EUR",
    "payment_terms_days": 30,
    "credit_limit": "25000",
    "tax_rate": "19",
    "tax_country": "DE",
    "legal_entity": "OURS-DE",
    "invoice_recipients": ["ap@northwind.example", "invoices@northwind.example"],
    "invoice_cc": ["controller@northwind.example"],
    "sales_rep_email": "sam.rep@example.com",
    "custom_properties": {"seats": "12", "renewal": "2027-03-31", "tier": "gold"},
}
TAGS = ("wholesale", "eu")
# What must arrive in both CRMs and may come back from each.
TRAVELLING = ("payment_terms_days", "credit_limit", "tags")
DEFINITIONS = (
    Definition("seats", "Seats", "Contract", "number"),
    Definition("renewal", "Renewal date", "Contract", "date"),
    Definition("tier", "Tier", "Contract", "enum", ("gold", "silver", "bronze")),
)


@dataclass
class BillingRecord:
    """What the step saw, for the demo's summary."""

    customer_id: int = 0
    arrived: str = ""
    in_both: bool = False  # each CRM holds the directory's terms, credit limit and tags
    came_back: str = ""


def billing_record(
    console: Console,
    hubspot: HubSpotSandbox,
    salesforce: SalesforceSandbox,
    hubspot_id: int,
    salesforce_id: int,
    run_pass: RunPass,
) -> BillingRecord:
    console.rule("a billing record, linked by hand")
    sessions = database.sessions()
    seen = BillingRecord()
    with db.transaction(sessions) as session:
        tenant_id = service.get_tenant(session, get_settings().tenant).id
        add_legal_entity(session, tenant_id, NewLegalEntity("OURS-DE", "Ours GmbH", "DE"))
        for definition in DEFINITIONS:
            add_definition(session, tenant_id, definition)
        customer = service.create_customer(session, tenant_id, CUSTOMER, tags=TAGS)
        aliases.add_alias(session, tenant_id, customer.id, system="erp", reference="NW-1001")
        seen.customer_id = customer.id

    # A salesperson already made the company in HubSpot; finance links it by hand.
    company = hubspot.create(
        "companies", {"name": "Northwind Traders", "domain": "northwind.example"}
    )
    linked = link_customer(sessions, tenant_id, seen.customer_id, hubspot_id, company["id"])
    for conflict in linked.conflicts:  # both sides had a value: the field's rule decided
        _say(
            console,
            "linked by hand:",
            f"{conflict['field']} differed (directory {conflict['local']!r}, HubSpot "
            f"{conflict['crm']!r}): rule {conflict['rule']} kept {conflict['kept']!r}, and the "
            "conflict is recorded",
        )
    _say(
        console,
        "linked by hand:",
        f"the directory filled {len(linked.to_push)} HubSpot properties, HubSpot filled "
        f"{len(linked.filled_locally)} directory field(s)",
    )
    run_pass(hubspot_id, "push", "push to HubSpot")
    run_pass(salesforce_id, "push", "push to Salesforce")
    account_id = _external_id(seen.customer_id, salesforce_id)
    properties = (hubspot.get("companies", company["id"]) or {"properties": {}})["properties"]
    account = salesforce.record("Account", account_id) or {}
    seen.arrived = (
        f"HubSpot: terms {properties.get('crmsync_payment_terms_days')}, credit limit "
        f"{properties.get('crmsync_credit_limit')}, tags {properties.get('crmsync_tags')}; "
        f"Salesforce: terms {account.get('Payment_Terms_Days__c')}, credit limit "
        f"{account.get('Credit_Limit__c')}, tags {account.get('Tags__c')}"
    )
    with sessions() as session:
        record = columns(service.get_customer(session, tenant_id, seen.customer_id))
    directory = {name: local_value(record, name) for name in TRAVELLING}
    seen.in_both = (
        _travelling("hubspot", "company", properties)
        == _travelling("salesforce", "account", account)
        == directory
    )

    hubspot.update(
        "companies",
        company["id"],
        {"crmsync_credit_limit": "40000", "crmsync_tags": "eu;wholesale;priority"},
    )
    salesforce.update("Account", account_id, {"Payment_Terms_Days__c": 45})
    run_pass(hubspot_id, "incremental", "HubSpot changes")
    run_pass(salesforce_id, "incremental", "Salesforce changes")
    with sessions() as session:
        back = service.get_customer(session, tenant_id, seen.customer_id)
        seen.came_back = (
            f"credit limit {back.credit_limit} (HubSpot), terms {back.payment_terms_days} days "
            f"(Salesforce), tags {', '.join(back.tags)} (HubSpot)"
        )
        console.print(_card(session, tenant_id, back))
    _say(console, "arrived", seen.arrived)
    _say(console, "came back", seen.came_back)
    return seen


def _say(console: Console, label: str, text: str) -> None:
    """A line with a bold label; the values in it are printed as they are, not as markup."""
    console.print(f"[bold]{label}[/] {escape(text)}", markup=True, highlight=False)


def _travelling(provider: str, object_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """The travelling fields as the directory reads them from one CRM's record."""
    mapped = load_map(provider, object_type)
    remotes = {mapped.entry(name).remote for name in TRAVELLING}
    read = to_local(mapped, {name: value for name, value in record.items() if name in remotes})
    return {name: read.get(name) for name in TRAVELLING}


def _external_id(customer_id: int, connection_id: int) -> str:
    with database.sessions()() as session:
        external_id = session.scalar(
            select(ExternalLink.external_id).where(
                ExternalLink.connection_id == connection_id,
                ExternalLink.local_type == "customer",
                ExternalLink.local_id == customer_id,
            )
        )
    if external_id is None:
        raise RuntimeError(f"customer {customer_id} was not created by connection {connection_id}")
    return external_id


def _card(session: Any, tenant_id: int, customer: Customer) -> Table:
    links = session.execute(
        select(ExternalLink.connection_id, ExternalLink.external_id)
        .where(ExternalLink.local_type == "customer", ExternalLink.local_id == customer.id)
        .order_by(ExternalLink.connection_id)
    ).all()
    to = invoice_to(customer)
    custom = ", ".join(
        f"{key}={value}" for key, value in sorted(customer.custom_properties.items())
    )
    rows = [
        ("invoices go to", f"{', '.join(to.addresses)} ({to.source.value})"),
        ("cc", ", ".join(customer.invoice_cc)),
        ("tax", f"{customer.tax_rate} % ({customer.tax_country})"),
        ("legal entity", customer.legal_entity.code if customer.legal_entity else "-"),
        (
            "payment terms, credit limit",
            f"{customer.payment_terms_days} days, {customer.credit_limit}",
        ),
        ("tags", ", ".join(customer.tags)),
        ("custom properties (typed)", custom),
        ("aliases", ", ".join(str(a) for a in aliases.aliases_of(session, customer.id))),
        ("links (connection: CRM id)", ", ".join(f"{c}: {e}" for c, e in links)),
    ]
    table = Table(
        show_header=False, title=f"customer {customer.id}: {customer.name}", title_justify="left"
    )
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table
