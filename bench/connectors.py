"""API calls per 1,000 records for the connectors' bulk paths, next to the minimum the API
allows, and records per second, against both sandboxes with their limits off.

    python -m bench.connectors [--records 20000]

Minimums: HubSpot lists and batches 100 records per call (10 per 1,000) and searches 200 per
call (5 per 1,000); searched contacts add one v4 association call per 1,000 (listed ones
carry their companies inline). Salesforce queries 2,000 rows per call (0.5 per 1,000) and
writes 200 per sObject Collections call (5 per 1,000); its full scans are measured by REST
(bulk reads off) and once by a Bulk API 2.0 query job, whose minimum is the job, one status
poll and one results call per 50,000 rows. A full HubSpot scan (a first sync, a
reconcile) lists; an incremental one searches. Below the table: a first sync of 1,000,000
HubSpot companies projected from HubSpot's published limits, by list and by search, beside
the calls counted here. Figures are printed, never asserted: timing depends on the machine.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench import projection
from bench.report import bulk_minimum_calls
from connectors.base import CallCounter, WriteRequest
from connectors.budget import MemoryBudget, hubspot_limits, salesforce_limits
from connectors.credentials import Credentials
from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector, SalesforceOptions
from connectors.salesforce.bulk import RESULT_RECORDS
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies

DEFAULT_RECORDS = 20_000
CONTACTS_PER_COMPANY = 1
# A HubSpot pass finished at the epoch: the incremental (search) scan of every record.
SEARCH_FROM_START = {"v": 1, "mode": "incremental", "since_ms": 0, "done": True}


@dataclass
class Figure:
    crm: str
    operation: str
    records: int
    calls: int
    minimum_per_1000: float
    seconds: float

    @property
    def per_1000(self) -> float:
        return 1000 * self.calls / max(self.records, 1)

    def row(self) -> str:
        minimum_calls = math.ceil(self.records * self.minimum_per_1000 / 1000)
        over = 100 * (self.calls - minimum_calls) / max(minimum_calls, 1)
        return (
            f"{self.crm:<11} {self.operation:<30} {self.records:>8} {self.calls:>6} "
            f"{self.per_1000:>10.2f} {self.minimum_per_1000:>12.2f} {over:>+7.1f}% "
            f"{self.records / max(self.seconds, 1e-9):>10.0f}"
        )


def _measure(
    crm: str, operation: str, minimum: float, counter: CallCounter, run: Callable[[], int]
) -> Figure:
    before = counter.total
    started = time.perf_counter()
    records = run()
    return Figure(crm, operation, records, counter.total - before, minimum,
                  time.perf_counter() - started)  # fmt: skip


def _scan(connector: HubSpotConnector | SalesforceConnector, object_type: str, full: bool,
          cursor: dict | None = None) -> int:  # fmt: skip
    return sum(len(page.records) for page in connector.scan(object_type, cursor=cursor, full=full))


def bench_hubspot(records: int) -> list[Figure]:
    sandbox = HubSpotSandbox(limits=None)
    sandbox.seed(generate_companies(records, contacts_per_company=CONTACTS_PER_COMPANY, seed=1))
    sandbox.start()
    try:
        budget = MemoryBudget(
            provider="hubspot",
            account_id="bench",
            limits=hubspot_limits(per_10s=1_000_000, search_per_s=1_000_000, daily=None),
        )
        connector = HubSpotConnector(
            account_id=str(sandbox.portal_id),
            credentials=Credentials(access_token=sandbox.access_token),
            budget=budget,
            base_url=sandbox.url,
        )
        connector.ensure_setup()
        counter = connector.counter
        figures = [
            _measure("hubspot", "full scan company", 10, counter,
                     lambda: _scan(connector, "company", True)),
            _measure("hubspot", "full scan contact (+assoc)", 10, counter,
                     lambda: _scan(connector, "contact", True)),
            _measure("hubspot", "incremental company", 5, counter,
                     lambda: _scan(connector, "company", False, SEARCH_FROM_START)),
            _measure("hubspot", "incremental contact (+assoc)", 6, counter,
                     lambda: _scan(connector, "contact", False, SEARCH_FROM_START)),
        ]  # fmt: skip
        company_ids = sandbox.ids("companies")
        writes = [
            WriteRequest(object_type="company", local_id=f"B{n}", properties={"name": f"Bench {n}"})
            for n in range(records)
        ]
        figures.append(
            _measure("hubspot", "upsert company (new)", 10, counter,
                     lambda: len(connector.upsert("company", writes)))
        )  # fmt: skip
        figures.append(
            _measure("hubspot", "upsert company (again)", 10, counter,
                     lambda: len(connector.upsert("company", writes)))
        )  # fmt: skip
        contacts = [
            WriteRequest(object_type="contact", local_id=f"P{n}",
                         properties={"firstname": f"Person {n}"},
                         associations=(company_ids[n % len(company_ids)],))
            for n in range(records)
        ]  # fmt: skip
        figures.append(
            _measure("hubspot", "upsert contact (+assoc)", 11, counter,
                     lambda: len(connector.upsert("contact", contacts)))
        )  # fmt: skip
        return figures
    finally:
        sandbox.stop()


def bench_salesforce(records: int) -> list[Figure]:
    sandbox = SalesforceSandbox(daily_api_limit=10_000_000).start()
    try:
        sandbox.seed(generate_companies(records, contacts_per_company=CONTACTS_PER_COMPANY, seed=1))
        creds = Credentials(access_token=sandbox.access_token())
        budget = MemoryBudget(
            provider="salesforce", account_id="bench", limits=salesforce_limits(daily=None)
        )
        connector = SalesforceConnector(
            account_id=sandbox.org_id,
            credentials=creds,
            budget=budget,
            base_url=sandbox.instance_url,
            # REST figures: the bulk path is measured on its own below.
            options=SalesforceOptions(verify=sandbox.cert_path, bulk_threshold=0),
        )
        connector.ensure_setup()
        counter = connector.counter
        done: dict[str, dict] = {}

        def full(object_type: str) -> int:
            pages = list(connector.scan(object_type, full=True))
            done[object_type] = pages[-1].cursor
            return sum(len(p.records) for p in pages)

        figures = [
            _measure("salesforce", "full scan account", 0.5, counter, lambda: full("account")),
            _measure("salesforce", "full scan contact", 0.5, counter, lambda: full("contact")),
            # Everything was seeded within the overlap window: the pass re-reads it all.
            _measure("salesforce", "incremental account", 0.5, counter,
                     lambda: _scan(connector, "account", False, done["account"])),
        ]  # fmt: skip
        figures.append(bench_salesforce_bulk(sandbox, creds, budget, records))
        writes = [
            WriteRequest(object_type="account", local_id=f"B{n}", properties={"Name": f"Bench {n}"})
            for n in range(records)
        ]
        figures.append(
            _measure("salesforce", "upsert account (new)", 5, counter,
                     lambda: len(connector.upsert("account", writes)))
        )  # fmt: skip
        figures.append(
            _measure("salesforce", "upsert account (again)", 5, counter,
                     lambda: len(connector.upsert("account", writes)))
        )  # fmt: skip
        return figures
    finally:
        sandbox.stop()


def bench_salesforce_bulk(
    sandbox: SalesforceSandbox, creds: Credentials, budget: MemoryBudget, records: int
) -> Figure:
    """A full account scan by one Bulk API 2.0 query job (and the ``COUNT()`` before it)."""
    connector = SalesforceConnector(
        account_id=sandbox.org_id,
        credentials=creds,
        budget=budget,
        base_url=sandbox.instance_url,
        options=SalesforceOptions(verify=sandbox.cert_path, bulk_threshold=1, bulk_poll_s=0.1),
    )
    connector.ensure_setup()
    minimum = 1000 * bulk_minimum_calls(records, RESULT_RECORDS) / max(records, 1)
    return _measure(
        "salesforce",
        "full scan account (bulk)",
        minimum,
        connector.counter,
        lambda: _scan(connector, "account", True),
    )


def projected(figures: list[Figure]) -> list[str]:
    """A first sync of 1,000,000 companies by list and by search at HubSpot's published
    limits, beside the calls this run counted for the same scans of its companies."""
    scans = {f.operation: f for f in figures if f.crm == "hubspot"}
    lines = [f"First sync of {projection.MILLION:,} HubSpot companies at the published limits "
             f"({projection.LIMITS_TEXT}):"]  # fmt: skip
    for api, operation in (("list", "full scan company"), ("search", "incremental company")):
        counted = scans.get(operation)
        made = projection.first_sync(api)
        line = f"  {api:<7} {made.calls:>7,} calls, {made.minutes:5.1f} min"
        if counted is not None:
            expected = projection.first_sync(api, counted.records).calls
            line += (f"  (counted here: {counted.calls:,} calls for {counted.records:,} companies; "
                     f"the page math says {expected:,})")  # fmt: skip
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    args = parser.parse_args()
    print(
        f"{'CRM':<11} {'operation':<30} {'records':>8} {'calls':>6} {'calls/1000':>10} "
        f"{'minimum/1000':>12} {'vs min':>8} {'records/s':>10}"
    )
    hubspot = bench_hubspot(args.records)
    for figure in hubspot + bench_salesforce(args.records):
        print(figure.row(), flush=True)
    print()
    print("\n".join(projected(hubspot)))
    print(
        "\nPer pass, not per record: a HubSpot full scan ends with one recycle-bin page "
        "(deletions);\na Salesforce incremental pass ends with one getDeleted call (deletions "
        "the recycle bin lost);\na Salesforce bulk scan starts with one COUNT() query (to choose "
        "bulk) and polls its job."
    )


if __name__ == "__main__":
    main()
