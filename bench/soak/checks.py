"""The soak's checks, run once everything is at rest. Each gives a count that must be 0 and,
for each problem, the record, the field and the history that led to it.

- ``fields``: for every link, each synced entry of the field map holds the same value on
  both sides: the local value as the CRM would hold it (``mappings.engine.project``, the
  merge's own comparison) equals the CRM value read through the map. ``dont_sync`` entries
  are not in the map's synced entries; every other rule syncs both ways once at rest.
- ``duplicates``: no CRM record linked twice, no local record linked twice to one CRM, no
  two live CRM records carrying the same local id, no live customer made by a sync whose
  CRM record is live but linked elsewhere or not at all.
- ``deletes and merges``: a CRM record deleted or merged away is linked no more; the
  customer a deleted record carried is archived; a merged-away record's customer is not
  linked again to a new record of that CRM.
- ``lost edits``: an edit (local or CRM) whose field no later operation touched holds its
  value locally and in every linked CRM record, unless a conflict on that field was
  recorded after it (then the field's rule decided, and the count says so).
- ``echo writes``: one more incremental sync and push per connection writes nothing.
- ``open failures``: each open failure is explained (its CRM record was deleted or merged
  on purpose) or counted.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bench.soak.crm_state import CrmRecord, CrmState
from bench.soak.history import History, crm_key, customer_key
from bench.soak.history_checks import HistoryChecks, gone_on_purpose
from bench.soak.outcome import Outcome, Problem
from customers.models import Contact, Customer, OutboxEntry
from customers.sync_state import (
    Connection,
    DuplicateReview,
    ExternalLink,
    SyncConflict,
    SyncFailure,
    SyncRun,
)
from mappings.engine import entry_values, phone_region, project, read_entry
from worker.sync.merging import columns
from worker.sync.target import SyncTarget

if TYPE_CHECKING:
    from bench.soak.harness import Setup

EXISTING_CONTACT = re.compile(r"Contact already exists\. Existing ID: (\d+)")
HUBSPOT_WRITES = ("companies.batch.update", "companies.batch.upsert", "companies.batch.create",
                  "contacts.batch.update", "contacts.batch.upsert", "contacts.batch.create",
                  "companies.update", "contacts.update", "companies.create", "contacts.create",
                  "associations.batch.create", "associations.create")  # fmt: skip
SALESFORCE_WRITES = ("collections.upsert", "collections.update", "collections.create",
                     "sobject.upsert", "sobject.update", "sobject.create")  # fmt: skip


class Checks(HistoryChecks):
    def __init__(self, setup: Setup, history: History) -> None:
        self.setup = setup
        self.history = history
        self.totals: dict[str, Any] = {}

    # -- loading --------------------------------------------------------------------------

    def _load(self) -> None:
        with self.setup.sessions() as session:
            self.targets = {
                c.id: SyncTarget.from_connection(c) for c in session.scalars(select(Connection))
            }
            self.links = list(session.scalars(select(ExternalLink)))
            self.customers = {c.id: c for c in session.scalars(select(Customer))}
            self.contacts = {c.id: c for c in session.scalars(select(Contact))}
            self.failures = list(
                session.scalars(select(SyncFailure).where(SyncFailure.status == "open"))
            )
            self.conflicts = list(session.scalars(select(SyncConflict)))
            self.created_by: dict[int, list[int]] = defaultdict(list)
            for entity_id, origin in session.execute(select(OutboxEntry.entity_id, OutboxEntry.origin_connection_id).where(
                    OutboxEntry.entity_type == "customer", OutboxEntry.operation == "create",
                    OutboxEntry.origin_connection_id.is_not(None))):  # fmt: skip
                self.created_by[int(origin or 0)].append(entity_id)
            self.held: dict[int, set[str]] = defaultdict(set)
            for review in session.scalars(
                select(DuplicateReview).where(DuplicateReview.status == "open")
            ):
                self.held[review.connection_id or 0].add(review.external_id)
            self.bad_runs = list(
                session.scalars(
                    select(SyncRun).where(SyncRun.outcome.not_in(["ok", "running", "continued"]))
                )
            )
            session.expunge_all()
        self.crm = {"hubspot": CrmState("hubspot", self.setup.hubspot),
                    "salesforce": CrmState("salesforce", self.setup.salesforce)}  # fmt: skip
        self.links_of: dict[tuple[str, int], list[ExternalLink]] = defaultdict(list)
        for link in self.links:
            self.links_of[(link.local_type, link.local_id)].append(link)
        self.totals = {
            "customers": len(self.customers),
            "live_customers": sum(1 for c in self.customers.values() if c.archived_at is None and c.deleted_at is None),
            "contacts": len(self.contacts),
            "links": len(self.links),
            "conflicts": len(self.conflicts),
            "failed_runs": len(self.bad_runs),
            "failed_run_errors": dict(Counter(f"{r.kind}: {(r.error or r.outcome)[:120]}" for r in self.bad_runs)),
            "hubspot_companies": len(self.crm["hubspot"].live("company")),
            "salesforce_accounts": len(self.crm["salesforce"].live("account")),
        }  # fmt: skip

    def story(self, local_type: str, local_id: int, *extra_keys: str) -> list[str]:
        """The logged operations on a local record and every CRM record linked to it, and the
        conflicts and open failures recorded for them."""
        keys = {*extra_keys}
        if local_type == "customer":
            keys.add(customer_key(local_id))
        keys.update(self.key_of(link) for link in self.links_of.get((local_type, local_id), []))
        lines = self.history.lines(keys)
        started = datetime.fromtimestamp(self.history.started).astimezone()
        for conflict in self.conflicts:
            if conflict.local_id == local_id and (local_type == "customer") == (
                conflict.object_type != "contact"
            ):
                at = (conflict.created_at.astimezone() - started).total_seconds()
                lines.append(f"  +{at:7.2f}s conflict  {conflict.field}: base {conflict.base_value!r}, local "
                             f"{conflict.local_value!r}, CRM {conflict.remote_value!r} -> {conflict.resolved_value!r} ({conflict.rule})")  # fmt: skip
        for failure in self.failures:
            if failure.local_id == local_id or failure.external_id in {
                k.rsplit(":", 1)[-1] for k in keys
            }:
                lines.append(
                    f"  failure #{failure.id} {failure.direction} {failure.error_class}: {failure.message[:160]}"
                )
        return lines or ["  (no logged operation touched it: seed data and the sync only)"]

    # -- running --------------------------------------------------------------------------

    def run_all(self, echo_round: Callable[[], None]) -> list[Outcome]:
        self._load()
        outcomes = [self.fields(), self.duplicates(), self.deletes_and_merges(), self.lost_edits()]
        outcomes.append(self.echo_writes(echo_round))
        outcomes.append(self.open_failures())
        return outcomes

    # -- 1. fields ----------------------------------------------------------------------------

    def fields(self) -> Outcome:
        outcome = Outcome("fields that differ from the sync rules", 0)
        for link in self.links:
            record = self.crm[self.provider(link)].get(link.object_type, link.external_id)
            if record is None or not record.live:
                continue  # counted by the deletes-and-merges check
            local = (self.customers if link.local_type == "customer" else self.contacts).get(
                link.local_id
            )
            if local is None:
                continue
            for name, local_shown, crm_shown in self.differences(link, local, record):
                outcome.problems.append(Problem(
                    f"{link.local_type} {link.local_id} <-> {self.key_of(link)}", name,
                    f"local {local_shown!r} vs CRM {crm_shown!r}",
                    self.story(link.local_type, link.local_id)))  # fmt: skip
            outcome.checked += 1
        return outcome

    def differences(self, link: ExternalLink, local: Customer | Contact, record: CrmRecord) -> list[tuple[str, Any, Any]]:  # fmt: skip
        object_map = self.targets[link.connection_id].map_for(link.object_type)
        values = columns(local)
        contact_region = None
        if isinstance(local, Contact):
            parent = self.customers.get(local.customer_id)
            contact_region = parent.billing_country if parent else None
        region = phone_region(object_map, values, contact_region)
        found: list[tuple[str, Any, Any]] = []
        for entry in object_map.synced:
            raw = record.properties.get(entry.remote)
            try:
                crm_values = read_entry(object_map, entry, raw, region)
            except (ValueError, TypeError) as error:
                found.append(
                    (entry.key, entry_values(entry, values), f"{raw!r} (unreadable: {error})")
                )
                continue
            local_values = entry_values(entry, values)
            if project(object_map, entry, local_values, region) != crm_values:
                found.append((entry.key, local_values, crm_values))
        return found

    # -- 2. duplicates ---------------------------------------------------------------------------

    def duplicates(self) -> Outcome:
        outcome = Outcome("duplicate customers", len(self.links))
        by_crm = Counter((lk.connection_id, lk.object_type, lk.external_id) for lk in self.links)
        by_local = Counter((lk.connection_id, lk.object_type, lk.local_id) for lk in self.links)
        for (connection_id, object_type, external_id), n in by_crm.items():
            if n > 1:
                outcome.problems.append(Problem(f"{object_type} {external_id} (connection {connection_id})", "link", f"linked {n} times"))  # fmt: skip
        for (connection_id, object_type, local_id), n in by_local.items():
            if n > 1:
                local_type = "contact" if object_type == "contact" else "customer"
                outcome.problems.append(Problem(f"{local_type} {local_id}", "link",
                    f"linked to {n} {object_type} records of connection {connection_id}", self.story(local_type, local_id)))  # fmt: skip
        for provider, state in self.crm.items():
            for object_type in state.records:
                carriers: dict[str, list[str]] = defaultdict(list)
                # Deleted records count (a record made again after a delete is made twice);
                # merged-away ones do not: the deletes-and-merges check follows those.
                for record in state.records[object_type].values():
                    if record.crmsync_id and not record.note.startswith("merged"):
                        carriers[record.crmsync_id].append(record.external_id)
                for carried, ids in carriers.items():
                    if len(ids) > 1:
                        local_type = "contact" if object_type == "contact" else "customer"
                        outcome.problems.append(Problem(f"{local_type} {carried}", "crmsync id",
                            f"{len(ids)} {provider} {object_type} records carry it (made twice): {', '.join(ids)}",
                            self.story(local_type, int(carried) if carried.isdigit() else 0, *(crm_key(provider, object_type, i) for i in ids))))  # fmt: skip
        self._one_customer_per_record(outcome)
        outcome.notes.append(
            f"{len(self.links)} links, {self.totals['live_customers']} live customers"
        )
        return outcome

    def _one_customer_per_record(self, outcome: Outcome) -> None:
        """A live CRM record names one customer: the one it is linked to is the one whose id
        it carries; and every live customer a sync created is still linked to that CRM."""
        linked = {(lk.connection_id, lk.object_type, lk.external_id): lk for lk in self.links}
        for connection_id, target in self.targets.items():
            state = self.crm[target.provider]
            parent = target.parent_type
            for record in state.live(parent):
                link = linked.get((connection_id, parent, record.external_id))
                carried = record.crmsync_id
                if link is not None and carried and carried != str(link.local_id):
                    outcome.problems.append(Problem(crm_key(target.provider, parent, record.external_id),
                        "crmsync id", f"linked to customer {link.local_id} but carries customer {carried}",
                        self.story("customer", link.local_id, crm_key(target.provider, parent, record.external_id))))  # fmt: skip
            linked_here = {
                lk.local_id
                for lk in self.links
                if lk.connection_id == connection_id and lk.object_type == parent
            }
            for customer_id in self.created_by.get(connection_id, []):
                customer = self.customers.get(customer_id)
                if (
                    customer is None
                    or customer.archived_at
                    or customer.deleted_at
                    or customer_id in linked_here
                ):
                    continue
                outcome.problems.append(Problem(f"customer {customer_id}", "link",
                    f"created from a {target.provider} record, live, and linked to no {target.provider} record",
                    self.story("customer", customer_id)))  # fmt: skip

    # -- 3. deletes and merges -------------------------------------------------------------------

    def echo_writes(self, echo_round: Callable[[], None]) -> Outcome:
        outcome = Outcome("CRM writes caused by our own writes", 2)
        hubspot, salesforce = self.setup.hubspot, self.setup.salesforce
        hubspot.faults.reset_counters()
        salesforce.faults.reset_counters()
        echo_round()
        for provider, sandbox, keys in (
            ("hubspot", hubspot, HUBSPOT_WRITES),
            ("salesforce", salesforce, SALESFORCE_WRITES),
        ):
            calls = sandbox.faults.snapshot()["calls"]
            writes = {key: calls[key] for key in keys if calls.get(key)}
            outcome.notes.append(
                f"{provider}: {sum(calls.values())} API calls, writes {writes or 0}"
            )
            for key, n in writes.items():
                outcome.problems.append(
                    Problem(provider, key, f"{n} write call(s) after convergence")
                )
        return outcome

    # -- 6. open failures -----------------------------------------------------------------------------

    def open_failures(self) -> Outcome:
        outcome = Outcome("open failures without an explanation", len(self.failures))
        for failure in self.failures:
            line = (f"#{failure.id} {failure.direction} {failure.object_type or ''} "
                    f"{failure.external_id or ''} local {failure.local_id}: {failure.error_class} {failure.message[:200]}")  # fmt: skip
            why = self._explain(failure)
            if why:
                outcome.explained.append(f"{line} -- {why}")
            else:
                outcome.problems.append(Problem(f"failure #{failure.id}", failure.object_type or "-", line,
                                                self._failure_story(failure)))  # fmt: skip
        return outcome

    def _email_held_for_review(self, failure: SyncFailure) -> str | None:
        """A contact create HubSpot refused because its email belongs to a contact of a
        company the sync holds for review (a likely duplicate: an operator's call, after
        which the failure is replayed)."""
        found = EXISTING_CONTACT.search(failure.message or "")
        if found is None or failure.connection_id is None:
            return None
        existing = self.setup.hubspot.get("contacts", found.group(1)) or {}
        companies = {a["id"] for a in existing.get("associations", {}).get("companies", [])}
        # A held company the workload merged into another since: its contacts moved along.
        absorbed = {key.rsplit(":", 1)[-1] for op in self.history.operations
                    if op.side == "hubspot" and op.kind == "merge"
                    and op.keys[0].rsplit(":", 1)[-1] in companies for key in op.keys[1:]}  # fmt: skip
        held = (companies | absorbed) & self.held.get(failure.connection_id, set())
        if not held:
            return None
        return (f"its email belongs to HubSpot contact {found.group(1)} of company "
                f"{', '.join(sorted(held))}, held for review as a likely duplicate")  # fmt: skip

    def _failure_story(self, failure: SyncFailure) -> list[str]:
        if not failure.local_id:
            return []
        if failure.object_type != "contact":
            return self.story("customer", failure.local_id)
        contact = self.contacts.get(failure.local_id)
        if contact is None:
            return []
        links = self.links_of.get(("contact", contact.id), [])
        head = [f"  contact {contact.id} ({contact.first_name} {contact.last_name}, {contact.email}) of customer "
                f"{contact.customer_id}, linked to {', '.join(self.key_of(lk) for lk in links) or 'nothing'}"]  # fmt: skip
        return head + self.story("customer", contact.customer_id)

    def _explain(self, failure: SyncFailure) -> str | None:
        held = self._email_held_for_review(failure)
        if held:
            return held
        if failure.connection_id is None or failure.external_id is None:
            return None
        provider = (
            self.targets[failure.connection_id].provider
            if failure.connection_id in self.targets
            else None
        )
        if provider is None or failure.object_type is None:
            return None
        on_purpose = gone_on_purpose(self.history, provider, failure.external_id)
        if on_purpose:
            return f"the record was {on_purpose}"
        record = self.crm[provider].get(failure.object_type, failure.external_id)
        if record is not None and not record.live and failure.object_type == "contact":
            return f"the contact was {record.note} with its company (deleted or merged on purpose)"
        return None
