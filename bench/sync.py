"""The sync through real ``crmsync worker`` processes: the full inbound pass, an
incremental pass over 1% changed records, and a push of local edits.

Each pass is one job per connection (a chain of jobs when it runs past
``CRMSYNC_PASS_SLICE_S``), queued on Redis and timed from the enqueue to its last
``sync_runs`` row finishing, with the counts of all; HubSpot's pass runs first, then Salesforce's (one at a time,
like the references they are compared with). API calls are the run's own count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bench.report import bulk_minimum_calls, minimum_calls
from bench.stack import Sandboxes, Sizes, Stack
from connectors.salesforce.bulk import DEFAULT_BULK_THRESHOLD, RESULT_RECORDS
from customers import db, service
from customers.service import get_tenant
from customers.sync_state import ExternalLink

HUBSPOT_SEARCH = 200  # records per CRM search call (an incremental pass)
HUBSPOT_LIST = 100  # records per list page (a first pass, and a reconcile)
HUBSPOT_ASSOCIATIONS = 1_000  # contact ids per v4 association batch read
HUBSPOT_BATCH_WRITE = 100  # records per batch update / upsert call
HUBSPOT_HISTORY_READ = 50  # records per batch read with property history
SALESFORCE_QUERY = 2_000  # rows per query batch
SALESFORCE_COLLECTION = 200  # records per sObject Collections call
SALESFORCE_COMPOSITE = 25  # conditional sObject Rows updates per Composite call


def guarded_update_minimum(provider: str, records: int) -> int:
    """The fewest calls that update linked records without replacing a CRM edit unseen:
    HubSpot a batch update (100) and a history read (50) to find such edits; Salesforce
    conditional updates, 25 to a Composite call (sObject Collections take no condition)."""
    if provider == "hubspot":
        return math.ceil(records / HUBSPOT_BATCH_WRITE) + math.ceil(records / HUBSPOT_HISTORY_READ)
    return math.ceil(records / SALESFORCE_COMPOSITE)


def unguarded_update_minimum(provider: str, records: int) -> int:
    """The fewest calls that update these records at all (no guard): batch updates of 100
    (HubSpot), sObject Collections of 200 (Salesforce)."""
    per_call = HUBSPOT_BATCH_WRITE if provider == "hubspot" else SALESFORCE_COLLECTION
    return math.ceil(records / per_call)


def inbound_minimum(provider: str, parents: int, contacts: int) -> int:
    """The fewest calls that read these records with the pass's API (search for HubSpot,
    with one v4 association read per 1,000 contacts; SOQL query batches for Salesforce)."""
    if provider == "hubspot":
        return (minimum_calls(parents, HUBSPOT_SEARCH) + minimum_calls(contacts, HUBSPOT_SEARCH)
                + math.ceil(contacts / HUBSPOT_ASSOCIATIONS))  # fmt: skip
    return minimum_calls(parents, SALESFORCE_QUERY) + minimum_calls(contacts, SALESFORCE_QUERY)


def salesforce_full_minimum(records: int, bulk_threshold: int = DEFAULT_BULK_THRESHOLD) -> int:
    """The fewest calls of a Salesforce pass from the start over one object: REST query
    batches, or above ``bulk_threshold`` rows (as the connector chooses) one Bulk API 2.0
    job. The ``COUNT()`` the connector asks to choose is its own, not the API's, minimum."""
    if 0 < bulk_threshold < records:
        return bulk_minimum_calls(records, RESULT_RECORDS)
    return minimum_calls(records, SALESFORCE_QUERY)


def first_sync_minimum(provider: str, parents: int, contacts: int) -> int:
    """The fewest calls of a first pass: HubSpot lists (100 a page, contacts with their
    companies inline) and reads each recycle bin once; Salesforce queries each object, by
    a Bulk API 2.0 job above the connector's bulk threshold."""
    if provider == "hubspot":
        return minimum_calls(parents, HUBSPOT_LIST) + minimum_calls(contacts, HUBSPOT_LIST) + 2
    return salesforce_full_minimum(parents) + salesforce_full_minimum(contacts)


def sync_timeout(records: int) -> float:
    return max(600.0, records / 20)  # today's pass is slow: give it room rather than fail


@dataclass
class Pass:
    """One pass over both connections."""

    seconds: float = 0.0
    records: int = 0
    api_calls: int = 0
    minimum: int = 0
    per_crm: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: list[list[float]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    peak_rss_mb: dict[int, float] = field(default_factory=dict)
    worker_cpu_s: dict[int, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_s(self) -> float | None:
        return self.records / self.seconds if self.seconds else None

    def add(self, provider: str, records: int, seconds: float, api_calls: int, minimum: int,
            counts: dict[str, Any]) -> None:  # fmt: skip
        self.seconds += seconds
        self.records += records
        self.api_calls += api_calls
        self.minimum += minimum
        self.per_crm[provider] = {
            "records": records, "seconds": round(seconds, 3),
            "records_per_s": round(records / seconds, 1) if seconds else None,
            "api_calls": api_calls, "minimum_calls": minimum, "counts": dict(counts),
        }  # fmt: skip


def _read(counts: dict[str, Any]) -> int:
    return int(counts.get("read", 0)) + int(counts.get("contacts_read", 0))


def full_inbound(stack: Stack, connections: dict[str, int], sizes: Sizes) -> Pass:
    """The inbound-only pass that applies every CRM record: ``sync_changes`` on a new
    connection (no cursor: it scans everything), sampling links made every half second."""
    result = Pass()
    origin = time.monotonic()
    cpu_before = stack.cpu_s()

    def sample() -> None:
        result.samples.append([round(time.monotonic() - origin, 3), stack.links()])

    sample()
    for provider, parents, contacts in (("hubspot", sizes.companies, sizes.contacts),
                                        ("salesforce", sizes.accounts, sizes.account_contacts)):  # fmt: skip
        start = time.monotonic() - origin
        run, seconds = stack.run("sync_changes", connections[provider],
                                 timeout_s=sync_timeout(sizes.total), sample=sample)  # fmt: skip
        counts = dict(run.counts)
        result.add(provider, _read(counts), seconds, int(counts.get("api_calls", 0)),
                   first_sync_minimum(provider, parents, contacts), counts)  # fmt: skip
        result.phases.append({"name": provider, "start_s": round(start, 3), "end_s": round(start + seconds, 3),
                              "records_per_s": result.per_crm[provider]["records_per_s"]})  # fmt: skip
    result.peak_rss_mb = stack.peak_rss_mb()
    result.worker_cpu_s = {
        pid: round(cpu - cpu_before.get(pid, 0.0), 2) for pid, cpu in stack.cpu_s().items()
    }
    result.extra["categorization_backlog_s"] = round(stack.drain(sync_timeout(sizes.total)), 1)
    return result


def change_records(sandboxes: Sandboxes, share: float) -> dict[str, dict[str, int]]:
    """Edit ``share`` of each CRM's records as a person in the CRM would."""

    def every(ids: list[str]) -> list[str]:
        if not ids:
            return []
        step = max(1, round(1 / share))
        return ids[::step]

    hubspot, salesforce = sandboxes.hubspot, sandboxes.salesforce
    changed: dict[str, dict[str, int]] = {"hubspot": {}, "salesforce": {}}
    for object_type, prop in (("companies", "description"), ("contacts", "jobtitle")):
        chosen = every(hubspot.ids(object_type))
        for number, record_id in enumerate(chosen):
            hubspot.update(object_type, record_id, {prop: f"bench change {number}"})
        changed["hubspot"][object_type] = len(chosen)
    for sobject, prop in (("Account", "Description"), ("Contact", "Title")):
        ids = [r["Id"] for r in salesforce.records(sobject, include_deleted=False)]
        chosen = every(ids)
        for number, record_id in enumerate(chosen):
            salesforce.update(sobject, record_id, {prop: f"bench change {number}"})
        changed["salesforce"][sobject] = len(chosen)
    return changed


def incremental(
    stack: Stack, connections: dict[str, int], sandboxes: Sandboxes, share: float
) -> Pass:
    changed = change_records(sandboxes, share)
    result = Pass(extra={"changed": changed})
    for provider, (parents, contacts) in (("hubspot", changed["hubspot"].values()),
                                          ("salesforce", changed["salesforce"].values())):  # fmt: skip
        run, seconds = stack.run("sync_changes", connections[provider], timeout_s=600)
        counts = dict(run.counts)
        result.add(provider, _read(counts), seconds, int(counts.get("api_calls", 0)),
                   inbound_minimum(provider, parents, contacts), counts)  # fmt: skip
    stack.drain(600)
    return result


def outbound(stack: Stack, connections: dict[str, int], sandboxes: Sandboxes, edits: int) -> Pass:
    """``edits`` local edits (``update_customer``, which writes the outbox) of customers
    linked to each CRM, in proportion to its records, each CRM's then pushed by
    ``push_changes``. Outbox rows written before (by the inbound sync: customers new to
    the other CRM) are skipped, so the push carries the edits only."""
    with stack.sessions() as session:
        tenant_id = get_tenant(session, "default").id
        linked = {
            provider: list(session.scalars(
                select(ExternalLink.local_id).where(ExternalLink.connection_id == connection_id,
                                                    ExternalLink.local_type == "customer")
                .order_by(ExternalLink.local_id)
            ))
            for provider, connection_id in connections.items()
        }  # fmt: skip
    available = sum(len(ids) for ids in linked.values())
    wanted = min(edits, available)
    result = Pass(extra={"edits_requested": edits})
    from worker.sync.outbound import start_at_end

    with db.transaction(stack.sessions) as session:
        for connection_id in connections.values():
            start_at_end(session, connection_id, tenant_id)
    done = 0
    for index, (provider, connection_id) in enumerate(connections.items()):
        share = (
            wanted - done
            if index == len(connections) - 1
            else round(wanted * len(linked[provider]) / max(available, 1))
        )
        ids = linked[provider][:share]
        done += len(ids)
        with db.transaction(stack.sessions) as session:
            for number, customer_id in enumerate(ids):
                service.update_customer(
                    session, tenant_id, customer_id, {"notes": f"bench push {number}"}
                )
        with db.transaction(stack.sessions) as session:
            for other in connections.values():
                if other != connection_id:  # the other CRM lacks these: it would create them
                    start_at_end(session, other, tenant_id)
        before = sandboxes.push_calls()[provider]
        run, seconds = stack.run("push_changes", connection_id, timeout_s=max(600.0, len(ids) / 10))
        spent = sandboxes.push_calls()[provider] - before
        counts = dict(run.counts)
        pushed = int(counts.get("crm_updated", 0)) + int(counts.get("crm_created", 0))
        result.add(
            provider, pushed, seconds, spent, guarded_update_minimum(provider, len(ids)), counts
        )
        result.per_crm[provider].update(
            edits=len(ids), push_calls=spent, all_api_calls=counts.get("api_calls"),
            push_calls_per_1000=round(1000 * spent / max(len(ids), 1), 2),
            guarded_minimum=guarded_update_minimum(provider, len(ids)),
            unguarded_minimum=unguarded_update_minimum(provider, len(ids)),
        )  # fmt: skip
    stack.drain(600)
    return result
