"""Reference 3, the well-written peer: the copy of both CRMs into a database that a careful
engineer would write in an afternoon, run on the same data as the sync.

It streams pages with the SDKs (HubSpot ``basic_api.get_page``, 100 records a page, contacts
with their companies; simple-salesforce ``query`` and ``query_more``, 2,000 rows a page) and
writes each page with ONE multi-row ``INSERT .. ON CONFLICT DO UPDATE`` into a table of its
own, committed per page. No validation, no duplicate checks, no links, no outbox: what it
leaves out is what crmsync does beyond copying. It runs in a child process, as the workers
do, against the sandboxes in the bench process; its CPU is that process's own (SDK calls
and JSON decoding included), as crmsync's is its worker processes'. Like crmsync's connector
it takes HubSpot's JSON as the SDK's call returns it (``_preload_content=False``): the SDK's
model objects parse two timestamps per record with dateutil, which alone costs more CPU than
this peer's writes.

    python -m bench.peer < spec.json      # prints one JSON line of figures
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import psycopg
import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce
from sqlalchemy.engine import make_url

COLUMNS = ("source", "external_id", "kind", "name", "email", "phone", "website", "city",
           "country", "parent_id", "synced_at")  # fmt: skip
TABLE = "peer_records"
CREATE = f"""CREATE TABLE {TABLE} (
    source text NOT NULL, external_id text NOT NULL, kind text NOT NULL, name text,
    email text, phone text, website text, city text, country text, parent_id text,
    synced_at timestamptz NOT NULL, PRIMARY KEY (source, external_id))"""
COMPANY_PROPERTIES = ["name", "domain", "phone", "city", "country", "website"]
CONTACT_PROPERTIES = ["firstname", "lastname", "email", "phone"]
HUBSPOT_PAGE = 100
ACCOUNTS = "SELECT Id, Name, Website, Phone, BillingCity, BillingCountry FROM Account"
PEOPLE = "SELECT Id, FirstName, LastName, Email, Phone, AccountId FROM Contact"

Row = tuple[Any, ...]


@cache
def upsert_sql(rows: int) -> str:
    """One statement for a whole page: ``rows`` value tuples, updated on conflict."""
    values = ", ".join(["(" + ", ".join(["%s"] * len(COLUMNS)) + ")"] * rows)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])
    return (
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {values} "
        f"ON CONFLICT (source, external_id) DO UPDATE SET {updates}"
    )


def _full_name(first: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, last) if part)


def _primary_company(record: dict[str, Any]) -> str | None:
    results = ((record.get("associations") or {}).get("companies") or {}).get("results") or []
    for item in results:
        if item.get("type") == "contact_to_company":
            return str(item["id"])
    return str(results[0]["id"]) if results else None


def hubspot_pages(client: HubSpot, kind: str) -> Iterator[list[Row]]:
    """Rows of each HubSpot list page."""
    segment, properties = (
        ("companies", COMPANY_PROPERTIES) if kind == "company" else ("contacts", CONTACT_PROPERTIES)
    )
    api = getattr(client.crm, segment).basic_api
    associations = ["companies"] if kind == "contact" else None
    after = None
    while True:
        response = api.get_page(
            limit=HUBSPOT_PAGE, after=after, properties=properties, associations=associations,
            _preload_content=False,
        )  # fmt: skip
        page = json.loads(response.data)
        now = datetime.now(UTC)
        rows = []
        for record in page["results"]:
            p = record.get("properties") or {}
            if kind == "company":
                rows.append(("hubspot", record["id"], kind, p.get("name"), None, p.get("phone"),
                             p.get("website") or p.get("domain"), p.get("city"), p.get("country"),
                             None, now))  # fmt: skip
            else:
                rows.append(("hubspot", record["id"], kind, _full_name(p.get("firstname"), p.get("lastname")),
                             p.get("email"), p.get("phone"), None, None, None,
                             _primary_company(record), now))  # fmt: skip
        yield rows
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if after is None:
            return


def salesforce_pages(sf: Salesforce, kind: str) -> Iterator[list[Row]]:
    """Rows of each SOQL query batch."""
    result = sf.query(ACCOUNTS if kind == "account" else PEOPLE)
    while True:
        now = datetime.now(UTC)
        if kind == "account":
            rows = [("salesforce", r["Id"], kind, r.get("Name"), None, r.get("Phone"), r.get("Website"),
                     r.get("BillingCity"), r.get("BillingCountry"), None, now)
                    for r in result["records"]]  # fmt: skip
        else:
            rows = [("salesforce", r["Id"], kind, _full_name(r.get("FirstName"), r.get("LastName")),
                     r.get("Email"), r.get("Phone"), None, None, None, r.get("AccountId"), now)
                    for r in result["records"]]  # fmt: skip
        yield rows
        if result.get("done", True):
            return
        result = sf.query_more(result["nextRecordsUrl"], identifier_is_url=True)


def _clients(spec: dict[str, Any]) -> tuple[HubSpot, Salesforce]:
    session = requests.Session()
    session.verify = spec["salesforce_cert"]
    session.trust_env = False
    hubspot = HubSpot(access_token=spec["hubspot_token"], host=spec["hubspot_url"])
    salesforce = Salesforce(
        instance_url=spec["salesforce_url"], session_id=spec["salesforce_session"], session=session
    )
    return hubspot, salesforce


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Copy everything once; wall and CPU seconds of the whole run, and of its writes."""
    url = make_url(spec["database_url"]).set(drivername="postgresql")
    connection = psycopg.connect(url.render_as_string(hide_password=False))
    records = pages = 0
    write_cpu_s = 0.0
    try:
        connection.execute(CREATE)
        connection.commit()
        wall, cpu = time.perf_counter(), time.process_time()
        hubspot, salesforce = _clients(spec)
        streams = [hubspot_pages(hubspot, "company"), hubspot_pages(hubspot, "contact"),
                   salesforce_pages(salesforce, "account"), salesforce_pages(salesforce, "contact")]  # fmt: skip
        for stream in streams:
            for rows in stream:
                if not rows:
                    continue
                started = time.process_time()
                values = [value for row in rows for value in row]
                connection.execute(upsert_sql(len(rows)), values)  # type: ignore[arg-type]
                connection.commit()
                write_cpu_s += time.process_time() - started
                records += len(rows)
                pages += 1
        seconds = time.perf_counter() - wall
        cpu_s = time.process_time() - cpu
        stored = connection.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    finally:
        connection.rollback()
        connection.execute(f"DROP TABLE IF EXISTS {TABLE}")
        connection.commit()
        connection.close()
    return {
        "records": records, "stored": stored[0] if stored else 0, "pages": pages,
        "seconds": round(seconds, 3), "records_per_s": records / seconds if seconds else None,
        "cpu_s": round(cpu_s, 3), "write_cpu_s": round(write_cpu_s, 3),
        "cpu_us_per_record": 1e6 * cpu_s / records if records else None,
    }  # fmt: skip


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the peer in a child process (``spec``: sandbox URLs and tokens, database URL)."""
    import subprocess

    from bench.stack import ROOT

    done = subprocess.run([sys.executable, "-m", "bench.peer"], input=json.dumps(spec), text=True,
                          capture_output=True, cwd=ROOT, timeout=3600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the well-written peer failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.stdin.read()))))
