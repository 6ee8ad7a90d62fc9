"""Reference 1, the limit: what the full inbound sync could reach if crmsync cost nothing.

- The sandbox alone: the connector's own scan (the same calls and pages as the sync's first
  pass: HubSpot's list endpoint, Salesforce's SOQL), in a child process as a worker would
  be, with no database: records per second, and the calls by endpoint. For HubSpot the
  companies are scanned once more by search from the start (the API of incremental passes),
  so both APIs' calls are counted in the same run.
- PostgreSQL alone: the same number of customer rows and link rows, COPYed in bulk into
  scratch tables made ``LIKE customers`` / ``LIKE external_links`` (their indexes included)
  in one transaction: rows per second.

    python -m bench.limits < specs.json    # the child: one JSON line, per CRM {"records", "seconds", "calls", ...}
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from bench.stack import ROOT, Sandboxes, Sizes
from sandbox.seed import SeedCompany


def scan_specs(sandboxes: Sandboxes) -> dict[str, dict[str, Any]]:
    hubspot, salesforce = sandboxes.hubspot, sandboxes.salesforce
    return {
        "hubspot": {"provider": "hubspot", "account_id": str(hubspot.portal_id), "base_url": hubspot.url,
                    "credentials": {"access_token": hubspot.access_token}, "options": {"overlap_s": 0}},
        "salesforce": {"provider": "salesforce", "account_id": salesforce.org_id, "base_url": salesforce.instance_url,
                       "credentials": {"access_token": salesforce.access_token(),
                                       "instance_url": salesforce.instance_url},
                       "options": {"overlap_s": 0, "verify": salesforce.cert_path}},
    }  # fmt: skip


def sandbox_alone(sandboxes: Sandboxes) -> dict[str, dict[str, Any]]:
    """Each CRM's scan, one after the other, in one child process; per CRM figures."""
    done = subprocess.run([sys.executable, "-m", "bench.limits"], input=json.dumps(scan_specs(sandboxes)),
                          text=True, capture_output=True, cwd=ROOT, timeout=3600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the connector scans failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# A HubSpot pass finished at the epoch: an incremental scan, by search, of every record.
SEARCH_FROM_START = {"v": 1, "mode": "incremental", "since_ms": 0, "done": True}


def _connector(spec: dict[str, Any]) -> Any:
    from connectors.budget import MemoryBudget
    from connectors.credentials import Credentials
    from connectors.registry import connector_for, limits_for

    limits = limits_for(spec["provider"], hubspot_per_10s=10**9, hubspot_search_per_s=10**9,
                        hubspot_daily=None, salesforce_daily=None)  # fmt: skip
    return connector_for(
        spec["provider"], account_id=spec["account_id"], base_url=spec["base_url"],
        credentials=Credentials(**spec["credentials"]), options=spec["options"],
        budget=MemoryBudget(provider=spec["provider"], account_id="bench", limits=limits),
    )  # fmt: skip


def _count(connector: Any, object_type: str, cursor: dict[str, Any] | None) -> dict[str, Any]:
    """One object type's scan from ``cursor``: records, seconds and calls by endpoint."""
    before = dict(connector.counter.calls)
    started = time.perf_counter()
    records = sum(len(page.records) for page in connector.scan(object_type, cursor=cursor))
    seconds = time.perf_counter() - started
    calls = {name: n - before.get(name, 0) for name, n in connector.counter.calls.items()}
    return {
        "records": records,
        "seconds": seconds,
        "by_endpoint": {k: n for k, n in calls.items() if n},
    }


def _scan(spec: dict[str, Any]) -> dict[str, Any]:
    """Every object type as the sync's first pass reads it (no cursor)."""
    connector = _connector(spec)
    scans = {
        object_type: _count(connector, object_type, None)
        for object_type in connector.object_types()
    }
    result: dict[str, Any] = {
        "records": sum(scan["records"] for scan in scans.values()),
        "seconds": sum(scan["seconds"] for scan in scans.values()),
        "calls": connector.counter.total, "by_object": scans,
    }  # fmt: skip
    if spec["provider"] == "hubspot":
        result["companies_by_search"] = _count(_connector(spec), "company", SEARCH_FROM_START)
    return result


# -- PostgreSQL alone ---------------------------------------------------------------------------

CUSTOMER_COLUMNS = ("id", "tenant_id", "name", "email", "phone", "website", "domain", "tax_id",
                    "customer_type", "status", "billing_street", "billing_city", "billing_postal_code",
                    "billing_country", "notes", "custom_properties", "created_at", "updated_at", "version")  # fmt: skip
LINK_COLUMNS = ("id", "connection_id", "object_type", "external_id", "local_type", "local_id", "base",
                "fingerprint", "remote_modified_at", "last_synced_at", "created_at")  # fmt: skip


def _rows(
    companies: list[SeedCompany], count: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = datetime.now(UTC)
    customers, links = [], []
    for number in range(count):
        company = companies[number % len(companies)]
        values = (company.name, f"billing{number}@{company.domain}", company.phone, company.website,
                  company.domain, company.tax_id, "business", "active", company.street, company.city,
                  company.postal_code, company.country_code, company.description)  # fmt: skip
        customers.append((number + 1, 1, *values, "{}", now, now, 1))
        base = dict(
            zip(("name", "email", "phone", "website", "domain", "tax_id"), values, strict=False)
        )
        links.append((number + 1, 1, "company", str(10**9 + number), "customer", number + 1, json.dumps(base),
                      f"{number:064x}", now, now, now))  # fmt: skip
    return customers, links


def postgres_alone(engine: Engine, sandboxes: Sandboxes, sizes: Sizes) -> dict[str, float]:
    """COPY ``sizes.total`` customer-shaped rows and as many link rows; rows per second."""
    customers, links = _rows(sandboxes.companies + sandboxes.accounts, sizes.total)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("CREATE TABLE bench_customers (LIKE customers INCLUDING ALL)")
        cursor.execute("CREATE TABLE bench_links (LIKE external_links INCLUDING ALL)")
        raw.commit()
        started = time.perf_counter()
        for table, columns, rows in (("bench_customers", CUSTOMER_COLUMNS, customers),
                                     ("bench_links", LINK_COLUMNS, links)):  # fmt: skip
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_customers, bench_links")
        raw.commit()
    finally:
        raw.close()
    return {"records": sizes.total, "rows": 2 * sizes.total, "seconds": seconds}


if __name__ == "__main__":
    specs = json.loads(sys.stdin.read())
    print(json.dumps({provider: _scan(spec) for provider, spec in specs.items()}))
