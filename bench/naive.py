"""Reference 2, the naive peer: the script a user would write to copy both CRMs into a
database, run on the same data as the sync.

It pages everything in with the SDKs (``hubspot.Client(...).crm.companies.get_all()`` and
contacts with their companies; simple-salesforce ``query_all``), then for each record does
an ORM ``session.merge(...)`` into a table of its own and ``session.commit()``. It runs in
a child process, as the workers do, against the sandboxes in the bench process. When the
per-record loop passes its time limit it stops, and the whole run is extrapolated from the
records done (the fetch as measured, plus every record at the rate measured).

    python -m bench.naive < spec.json      # prints one JSON line of figures
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class NaiveRecord(Base):
    __tablename__ = "naive_records"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    website: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(120))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime]


COMPANY_PROPERTIES = ["name", "domain", "phone", "city", "country", "website"]
CONTACT_PROPERTIES = ["firstname", "lastname", "email", "phone"]


def fetch(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Everything, as the SDKs return it: (source, kind, record)."""
    client = HubSpot(access_token=spec["hubspot_token"], host=spec["hubspot_url"])
    companies = client.crm.companies.get_all(properties=COMPANY_PROPERTIES)
    contacts = client.crm.contacts.get_all(
        properties=CONTACT_PROPERTIES, associations=["companies"]
    )
    session = requests.Session()
    session.verify = spec["salesforce_cert"]
    session.trust_env = False
    sf = Salesforce(
        instance_url=spec["salesforce_url"], session_id=spec["salesforce_session"], session=session
    )
    accounts = sf.query_all(
        "SELECT Id, Name, Website, Phone, BillingCity, BillingCountry FROM Account"
    )
    people = sf.query_all("SELECT Id, FirstName, LastName, Email, Phone, AccountId FROM Contact")
    return ([("hubspot", "company", r) for r in companies] + [("hubspot", "contact", r) for r in contacts]
            + [("salesforce", "account", r) for r in accounts["records"]]
            + [("salesforce", "contact", r) for r in people["records"]])  # fmt: skip


def to_row(source: str, kind: str, record: Any) -> NaiveRecord:
    now = datetime.now(UTC)
    if source == "hubspot":
        p = record.properties or {}
        parent = None
        if kind == "contact" and record.associations and "companies" in record.associations:
            results = record.associations["companies"].results
            parent = results[0].id if results else None
        name = p.get("name") or " ".join(filter(None, (p.get("firstname"), p.get("lastname"))))
        return NaiveRecord(source=source, external_id=record.id, kind=kind, name=name, email=p.get("email"),
                           phone=p.get("phone"), website=p.get("website") or p.get("domain"), city=p.get("city"),
                           country=p.get("country"), parent_id=parent, synced_at=now)  # fmt: skip
    name = record.get("Name") or " ".join(
        filter(None, (record.get("FirstName"), record.get("LastName")))
    )
    return NaiveRecord(source=source, external_id=record["Id"], kind=kind, name=name, email=record.get("Email"),
                       phone=record.get("Phone"), website=record.get("Website"), city=record.get("BillingCity"),
                       country=record.get("BillingCountry"), parent_id=record.get("AccountId"), synced_at=now)  # fmt: skip


def run(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    records = fetch(spec)
    fetch_s = time.perf_counter() - started
    engine = create_engine(spec["database_url"])
    Base.metadata.create_all(engine)
    merged = 0
    merge_started = time.perf_counter()
    deadline = merge_started + spec["seconds"]
    try:
        with Session(engine) as session:
            for source, kind, record in records:
                session.merge(to_row(source, kind, record))
                session.commit()
                merged += 1
                if time.perf_counter() > deadline:
                    break
        merge_s = time.perf_counter() - merge_started
    finally:
        Base.metadata.drop_all(engine)
        engine.dispose()
    capped = merged < len(records)
    per_record_s = merge_s / max(merged, 1)
    seconds = fetch_s + per_record_s * len(records)
    return {"records": len(records), "merged": merged, "fetch_s": round(fetch_s, 3), "merge_s": round(merge_s, 3),
            "seconds": round(seconds, 3), "records_per_s": len(records) / seconds if seconds else None,
            "extrapolated": capped}  # fmt: skip


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the peer in a child process (``spec``: sandbox URLs and tokens, database URL,
    time limit in seconds)."""
    import subprocess

    from bench.stack import ROOT

    done = subprocess.run([sys.executable, "-m", "bench.naive"], input=json.dumps(spec), text=True,
                          capture_output=True, cwd=ROOT, timeout=3600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the naive peer failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.stdin.read()))))
