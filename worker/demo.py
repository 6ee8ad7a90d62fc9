"""``crmsync demo``: the whole product on one machine, with nothing running beforehand.

It starts the HubSpot and Salesforce sandboxes (real HTTP and HTTPS servers in this
process), seeds both with overlapping businesses, adds a few local customers that overlap
too, connects both CRMs, runs a full two-way sync, then edits a record in each CRM and
locally and shows each edit arrive on the other sides; last, a billing record with
everything finance keeps on it, linked by hand, travels both ways (``worker.demo_billing``).
Embedded defaults: a SQLite file and the in-process job broker; the demo keeps its data in
its own folder, made anew each run.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from connectors.credentials import Credentials
from customers import db, service
from customers.models import Customer
from customers.sync_state import Connection, DuplicateReview, ExternalLink, SyncConflict
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import SeedCompany, generate_companies
from worker import database
from worker.demo_billing import billing_record
from worker.settings import get_settings

HUBSPOT_WRITES = (
    "companies.batch.update",
    "companies.batch.upsert",
    "contacts.batch.update",
    "contacts.batch.upsert",
)
SALESFORCE_WRITES = ("collections.upsert", "collections.update", "composite")


@dataclass
class DemoSize:
    hubspot_companies: int = 2000
    salesforce_accounts: int = 1500
    overlap: int = 500  # businesses in both CRMs
    local_customers: int = 300  # already in the directory; some in the CRMs too
    contacts_per_company: int = 1
    seed: int = 7


def _use_demo_database(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["CRMSYNC_DATA_DIR"] = str(folder)
    os.environ["CRMSYNC_DATABASE_URL"] = f"sqlite:///{(folder / 'crmsync.db').as_posix()}"
    os.environ.pop("CRMSYNC_BROKER_URL", None)
    get_settings.cache_clear()
    database.reset()
    db.upgrade(database.engine())


def _writes(faults: Any, keys: tuple[str, ...]) -> int:
    calls = faults.snapshot()["calls"]
    return sum(calls.get(key, 0) for key in keys)


class Demo:
    def __init__(self, console: Console, size: DemoSize, folder: Path) -> None:
        self.console = console
        self.size = size
        self.folder = folder
        self.totals: Counter[str] = Counter()

    def run(self) -> None:
        from worker.embedded import jobs_run_here

        _use_demo_database(self.folder)
        # Progress bars tell the story; per-job INFO lines would scroll them away.
        for name in ("worker", "dramatiq", "connectors"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.console.rule("crmsync demo")
        with HubSpotSandbox(seed=self.size.seed) as hubspot, SalesforceSandbox() as salesforce:
            self._seed(hubspot, salesforce)
            with jobs_run_here():
                hubspot_id, salesforce_id = self._connect(hubspot, salesforce)
                self._full_sync(hubspot_id, "HubSpot")
                self._full_sync(salesforce_id, "Salesforce")
                self._full_sync(hubspot_id, "HubSpot (again: what Salesforce brought)")
                self._live_edits(hubspot, salesforce, hubspot_id, salesforce_id)
                self.billing = billing_record(
                    self.console, hubspot, salesforce, hubspot_id, salesforce_id, self._sync
                )
            self._summary(hubspot, salesforce)

    # -- setup -------------------------------------------------------------------------------

    def _seed(self, hubspot: HubSpotSandbox, salesforce: SalesforceSandbox) -> None:
        size = self.size
        total = size.hubspot_companies + size.salesforce_accounts - size.overlap
        businesses = list(
            generate_companies(
                total, contacts_per_company=size.contacts_per_company, seed=size.seed
            )
        )
        hubspot.seed(businesses[: size.hubspot_companies])
        salesforce.seed(businesses[size.hubspot_companies - size.overlap :])
        local = businesses[size.hubspot_companies - size.overlap - size.local_customers // 2 :][
            : size.local_customers
        ]
        with db.transaction(database.sessions()) as session:
            tenant = service.get_tenant(session, get_settings().tenant)
            for number, company in enumerate(local):
                self._add_local(session, tenant.id, company, number)
        self.console.print(
            f"seeded HubSpot with {size.hubspot_companies:,} companies and Salesforce with "
            f"{size.salesforce_accounts:,} accounts ({size.overlap:,} businesses in both), each with "
            f"{size.contacts_per_company} contact(s); the directory starts with {len(local):,} customers"
        )

    @staticmethod
    def _add_local(session: Any, tenant_id: int, company: SeedCompany, number: int) -> None:
        email = f"billing@{company.domain}"
        values: dict[str, Any] = {
            "name": company.name,
            "email": email,
            "website": company.website,
            "billing_street": company.street,
            "billing_city": company.city,
            "billing_postal_code": company.postal_code or None,
            "billing_country": company.country_code,
            "currency": "EUR",
            "payment_terms_days": 30,
        }
        if service.find_by_email(session, tenant_id, email) is None:
            service.create_customer(session, tenant_id, values)

    def _connect(self, hubspot: HubSpotSandbox, salesforce: SalesforceSandbox) -> tuple[int, int]:
        from worker.sync import connections

        sf = salesforce.credentials
        with db.transaction(database.sessions()) as session:
            tenant_id = service.get_tenant(session, get_settings().tenant).id
        hubspot_id = connections.connect(
            database.sessions(),
            tenant_id=tenant_id,
            provider="hubspot",
            account_id=str(hubspot.portal_id),
            name="HubSpot sandbox",
            credentials=Credentials(access_token=hubspot.access_token),
            base_url=hubspot.url,
        )
        salesforce_id = connections.connect(
            database.sessions(),
            tenant_id=tenant_id,
            provider="salesforce",
            account_id=salesforce.org_id,
            name="Salesforce sandbox",
            credentials=Credentials(
                access_token=salesforce.access_token(),
                refresh_token=sf.refresh_token,
                client_id=sf.consumer_key,
                client_secret=sf.consumer_secret,
                instance_url=salesforce.instance_url,
            ),
            base_url=salesforce.instance_url,
            options={"verify": salesforce.cert_path},
        )
        self.console.print(
            f"connected HubSpot (connection {hubspot_id}) and Salesforce (connection {salesforce_id})"
        )
        return hubspot_id, salesforce_id

    # -- syncing -----------------------------------------------------------------------------------

    def _sync(self, connection_id: int, pass_name: str, label: str) -> Counter[str]:
        from worker.sync.passes import Sync

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} records"),
            TimeElapsedColumn(),
            console=self.console,
        ) as progress:
            task = progress.add_task(label, total=None)

            def report(object_type: str, read: int) -> None:
                progress.update(task, completed=read, description=f"{label}: {object_type}s")

            sync = Sync(connection_id, sessions=database.sessions(), progress=report)
            started = time.perf_counter()
            run = getattr(sync, pass_name)()
            elapsed = time.perf_counter() - started
        counts = Counter(run.counts)
        self.totals.update(counts)
        return counts + Counter({"seconds_x1000": int(elapsed * 1000)})

    def _full_sync(self, connection_id: int, label: str) -> None:
        counts = self._sync(connection_id, "reconcile", f"full sync {label}")
        self.console.print(
            f"  {label}: read {counts['read']:,} + {counts['contacts_read']:,} contacts, "
            f"created {counts['created']:,} + {counts['contacts_created']:,} locally and "
            f"{counts['crm_created']:,} in the CRM, linked {counts['linked']:,}, updated {counts['updated']:,}, "
            f"held {counts['held']:,} for review, {counts['api_calls']:,} API calls, "
            f"{counts['seconds_x1000'] / 1000:.1f} s"
        )

    def _live_edits(
        self,
        hubspot: HubSpotSandbox,
        salesforce: SalesforceSandbox,
        hubspot_id: int,
        salesforce_id: int,
    ) -> None:
        self.console.rule("live edits")
        sessions = database.sessions()
        with sessions() as session:
            pairs = session.execute(
                select(ExternalLink.external_id, ExternalLink.local_id, ExternalLink.connection_id)
                .where(ExternalLink.local_type == "customer")
                .order_by(ExternalLink.local_id)
            ).all()
        by_customer: dict[int, dict[int, str]] = {}
        for external_id, local_id, connection_id in pairs:
            by_customer.setdefault(local_id, {})[connection_id] = external_id
        both = [(cid, ids) for cid, ids in by_customer.items() if len(ids) == 2]
        (first, first_ids), (second, second_ids), (third, third_ids) = both[:3]

        # 1. A salesperson edits a company in HubSpot.
        hubspot.update(
            "companies", first_ids[hubspot_id], {"city": "Springfield", "phone": "+1 415 555 0100"}
        )
        self._sync(hubspot_id, "incremental", "HubSpot changes")
        self._sync(salesforce_id, "push", "push to Salesforce")
        account = salesforce.record("Account", first_ids[salesforce_id]) or {}
        self._show(
            "HubSpot edit (city, phone)",
            first,
            f"Salesforce: {account.get('BillingCity')}, {account.get('Phone')}",
        )

        # 2. Someone edits the account in Salesforce.
        salesforce.update(
            "Account", second_ids[salesforce_id], {"Description": "Key account since 2019"}
        )
        self._sync(salesforce_id, "incremental", "Salesforce changes")
        self._sync(hubspot_id, "push", "push to HubSpot")
        company = hubspot.get("companies", second_ids[hubspot_id]) or {"properties": {}}
        self._show(
            "Salesforce edit (description)",
            second,
            f"HubSpot: {company['properties'].get('description')}",
        )

        # 3. Finance edits the customer locally: one write per CRM, and no echo writes after.
        hubspot_before = _writes(hubspot.faults, HUBSPOT_WRITES)
        salesforce_before = _writes(salesforce.faults, SALESFORCE_WRITES)
        with database.sessions()() as session, session.begin():
            tenant_id = service.get_tenant(session, get_settings().tenant).id
            service.update_customer(
                session, tenant_id, third, {"billing_city": "Köln", "notes": "Pays in 30 days"}
            )
        for connection_id, label in ((hubspot_id, "HubSpot"), (salesforce_id, "Salesforce")):
            self._sync(connection_id, "push", f"push to {label}")
        for connection_id, label in ((hubspot_id, "HubSpot"), (salesforce_id, "Salesforce")):
            self._sync(connection_id, "push", f"echo check {label}")  # reads its own write back
        self.hubspot_writes = _writes(hubspot.faults, HUBSPOT_WRITES) - hubspot_before
        self.salesforce_writes = _writes(salesforce.faults, SALESFORCE_WRITES) - salesforce_before
        company = hubspot.get("companies", third_ids[hubspot_id]) or {"properties": {}}
        account = salesforce.record("Account", third_ids[salesforce_id]) or {}
        self._show(
            "local edit (city, notes)",
            third,
            f"HubSpot: {company['properties'].get('city')}; Salesforce: {account.get('BillingCity')}; "
            f"CRM writes: HubSpot {self.hubspot_writes}, Salesforce {self.salesforce_writes}",
        )

    def _show(self, what: str, customer_id: int, elsewhere: str) -> None:
        with database.sessions()() as session:
            customer = session.get(Customer, customer_id)
            assert customer is not None
            here = f"{customer.name}: {customer.billing_city}, {customer.phone}, {customer.notes or '-'}"
        self.console.print(
            f"[bold]{what}[/] -> directory: {escape(here)}\n    {escape(elsewhere)}",
            markup=True,
            highlight=False,
        )

    def _summary(self, hubspot: HubSpotSandbox, salesforce: SalesforceSandbox) -> None:
        with database.sessions()() as session:
            customers = session.scalar(select(func.count()).select_from(Customer)) or 0
            held = session.scalar(select(func.count()).select_from(DuplicateReview)) or 0
            conflicts = session.scalar(select(func.count()).select_from(SyncConflict)) or 0
            categorized = (
                session.scalar(
                    select(func.count()).select_from(Customer).where(Customer.category.is_not(None))
                )
                or 0
            )
            connections = session.scalar(select(func.count()).select_from(Connection)) or 0
        rows = [
            ("customers in the directory", customers),
            ("customers created from CRM records", self.totals["created"]),
            ("contacts created from CRM records", self.totals["contacts_created"]),
            ("CRM records created from the directory", self.totals["crm_created"]),
            ("CRM records linked to existing customers", self.totals["linked"]),
            (
                "CRM contacts attached to their customer",
                self.totals["contacts_linked"] + self.totals["contacts_created"],
            ),
            ("records updated", self.totals["updated"] + self.totals["crm_updated"]),
            ("conflicts resolved by rule (kept for review)", conflicts),
            ("likely duplicates held for review", held),
            (
                "echo writes avoided",
                self.totals["echo"] + self.totals["contacts_echo"] + self.totals["echo_skipped"],
            ),
            ("customers categorized", categorized),
            (
                "CRM writes for one local edit (HubSpot, Salesforce)",
                f"{self.hubspot_writes}, {self.salesforce_writes}",
            ),
            (
                f"billing record (customer {self.billing.customer_id}): terms, credit limit "
                "and tags in both CRMs",
                "yes" if self.billing.in_both else "no",
            ),
            ("a change in each CRM came back", self.billing.came_back),
            ("API calls", self.totals["api_calls"]),
            ("connections", connections),
        ]
        table = Table(title="demo summary", title_justify="left")
        table.add_column("what")
        table.add_column("count", justify="right")
        for label, value in rows:
            table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
        self.console.print(table)
        self.console.print(
            f"the demo's database is {self.folder / 'crmsync.db'}; try "
            f"CRMSYNC_DATA_DIR={self.folder} crmsync customers list",
            style="dim",
        )


def run_demo(
    console: Console, size: DemoSize, folder: Path, progress: Callable[[str], None] | None = None
) -> None:
    Demo(console, size, folder).run()
