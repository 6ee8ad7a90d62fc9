"""The checks that read the soak's history: deletes and merges accounted for, and edits
not lost. Mixed into ``bench.soak.checks.Checks``, which loads what they read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from typing import Any

from bench.soak.crm_state import CrmState
from bench.soak.history import History, Operation, crm_key, customer_key
from bench.soak.outcome import Outcome, Problem
from customers.models import Contact, Customer
from customers.sync_state import ExternalLink, SyncConflict
from mappings.engine import read_entry
from worker.sync.target import SyncTarget


class HistoryChecks(ABC):
    history: History
    links: list[ExternalLink]
    links_of: dict[tuple[str, int], list[ExternalLink]]
    customers: dict[int, Customer]
    contacts: dict[int, Contact]
    crm: dict[str, CrmState]
    targets: dict[int, SyncTarget]
    conflicts: list[SyncConflict]

    def provider(self, link: ExternalLink) -> str:
        return self.targets[link.connection_id].provider

    def key_of(self, link: ExternalLink) -> str:
        return crm_key(self.provider(link), link.object_type, link.external_id)

    @abstractmethod
    def story(self, local_type: str, local_id: int, *extra_keys: str) -> list[str]:
        """The logged history of a local record and the CRM records named."""

    def deletes_and_merges(self) -> Outcome:
        outcome = Outcome("deleted or merged records not accounted for", 0)
        linked = {(self.provider(lk), lk.object_type, lk.external_id): lk for lk in self.links}
        for op in self.history.operations:
            if op.side not in ("hubspot", "salesforce") or op.kind not in ("delete", "merge"):
                continue
            outcome.checked += 1
            provider = op.side
            object_type = "company" if provider == "hubspot" else "account"
            # A merge's first key is the record the others went into (a HubSpot merge makes
            # a new one, so both of the merged records go; a Salesforce master stays).
            gone = [
                key.rsplit(":", 1)[-1]
                for key in (op.keys[:1] if op.kind == "delete" else op.keys[1:])
            ]
            for external_id in gone:
                link = linked.get((provider, object_type, external_id))
                if link is not None:
                    outcome.problems.append(Problem(crm_key(provider, object_type, external_id), "link",
                        f"{op.kind}d in {provider} but still linked to customer {link.local_id}",
                        self.story("customer", link.local_id, op.keys[0])))  # fmt: skip
                carried = op.carried.get(external_id, "")
                if not carried.isdigit():
                    continue  # never synced before it went: nothing local to account for
                customer = self.customers.get(int(carried))
                if customer is None:
                    continue
                if (
                    op.kind == "delete"
                    and customer.archived_at is None
                    and customer.deleted_at is None
                ):
                    outcome.problems.append(Problem(f"customer {customer.id}", "archived_at",
                        f"its {provider} record {external_id} was deleted but it is not archived",
                        self.story("customer", customer.id, *op.keys)))  # fmt: skip
                survivor = (self._survivor(provider, op.keys[0].rsplit(":", 1)[-1])
                            if op.kind == "merge" else None)  # fmt: skip
                again = [
                    lk.external_id
                    for lk in self.links_of.get(("customer", customer.id), [])
                    if self.provider(lk) == provider and lk.external_id != survivor
                ]
                if again and op.kind == "merge":
                    outcome.problems.append(Problem(f"customer {customer.id}", "link",
                        f"its {provider} record {external_id} was merged into {survivor}, and it is now "
                        f"linked to another {provider} record {again[0]} (the merged-away business is back)",
                        self.story("customer", customer.id, *op.keys)))  # fmt: skip
                elif again:
                    outcome.problems.append(Problem(f"customer {customer.id}", "link",
                        f"its {provider} record {external_id} was deleted, and it is now linked to "
                        f"another {provider} record {again[0]} (the deleted business is back)",
                        self.story("customer", customer.id, *op.keys)))  # fmt: skip
        return outcome

    def _carriers(self) -> dict[str, set[str]]:
        """Per customer id, the CRM records that carried it when they were deleted or merged:
        records once linked to the customer, whose edits reached it then."""
        carriers: dict[str, set[str]] = defaultdict(set)
        for op in self.history.operations:
            for key in op.keys:
                carried = op.carried.get(key.rsplit(":", 1)[-1])
                if carried:
                    carriers[carried].add(key)
        return carriers

    def _survivor(self, provider: str, external_id: str) -> str:
        """Where a record ended up after every later merge of it (a chain of merges)."""
        merged_into = {gone: op.keys[0] for op in self.history.operations
                       if op.side == provider and op.kind == "merge" for gone in op.keys[1:]}  # fmt: skip
        key = crm_key(provider, "company" if provider == "hubspot" else "account", external_id)
        seen = set()
        while key in merged_into and key not in seen:
            seen.add(key)
            key = merged_into[key]
        return key.rsplit(":", 1)[-1]

    # -- 4. lost edits -----------------------------------------------------------------------------

    def lost_edits(self) -> Outcome:
        outcome = Outcome("edits lost", 0)
        operations = self.history.operations
        decided = 0
        link_by_key = {self.key_of(lk): lk for lk in self.links}
        for index, op in enumerate(operations):
            if op.kind != "edit" or not op.ok or op.side == "chaos":
                continue
            customer_id = self._edited_customer(op, link_by_key)
            if customer_id is None:
                continue  # its CRM record went (deleted, merged) or was never linked
            customer = self.customers.get(customer_id)
            if customer is None:
                continue
            keys = {
                customer_key(customer_id),
                *op.keys,
                *self._carriers().get(str(customer_id), ()),
            }
            keys.update(self.key_of(lk) for lk in self.links_of.get(("customer", customer_id), []))
            ((name, value),) = op.fields.items()
            if any(_supersedes(later, keys, name) for later in operations[index + 1 :]):
                continue
            outcome.checked += 1
            wrong = self._where_not(customer, name, value)
            if not wrong:
                continue
            if self._conflict_after(customer_id, name, op):
                decided += 1
                outcome.explained.append(f"{op.side} edit of customer {customer_id} {name}={value!r}: "
                                         f"a conflict on {name} was decided by its rule")  # fmt: skip
                continue
            outcome.problems.append(Problem(f"customer {customer_id}", name,
                f"{op.side} set {value!r} at +{op.at - self.history.started:.2f}s, no later edit of it; "
                f"now {', '.join(wrong)}", self.story("customer", customer_id, *op.keys)))  # fmt: skip
        outcome.notes.append(
            f"{outcome.checked} edits not superseded checked; {decided} decided by a conflict rule"
        )
        return outcome

    def _edited_customer(self, op: Operation, link_by_key: dict[str, ExternalLink]) -> int | None:
        key = op.keys[0]
        if key.startswith("customer:"):
            return int(key.split(":")[1])
        link = link_by_key.get(key)
        return link.local_id if link is not None and link.local_type == "customer" else None

    def _where_not(self, customer: Customer, name: str, value: Any) -> list[str]:
        wrong = []
        if getattr(customer, name) != value:
            wrong.append(f"local {getattr(customer, name)!r}")
        for link in self.links_of.get(("customer", customer.id), []):
            record = self.crm[self.provider(link)].get(link.object_type, link.external_id)
            if record is None or not record.live:
                continue
            object_map = self.targets[link.connection_id].map_for(link.object_type)
            entry = next(e for e in object_map.synced if name in e.local)
            try:
                crm_values = read_entry(
                    object_map, entry, record.properties.get(entry.remote), None
                )
            except (ValueError, TypeError):
                crm_values = (record.properties.get(entry.remote),)
            crm_value = dict(zip(entry.local, crm_values, strict=True))[name]
            if crm_value != value:
                wrong.append(f"{self.key_of(link)} {crm_value!r}")
        return wrong

    def _conflict_after(self, customer_id: int, name: str, op: Operation) -> bool:
        return any(c.local_id == customer_id and c.object_type != "contact" and name in c.field
                   and c.created_at.timestamp() >= op.at - 1.0 for c in self.conflicts)  # fmt: skip


def _supersedes(later: Operation, keys: set[str], name: str) -> bool:
    if not keys.intersection(later.keys) or not later.ok:
        return False
    return later.kind in ("merge", "delete") or (later.kind == "edit" and name in later.fields)


def gone_on_purpose(history: History, provider: str, external_id: str) -> str | None:
    """When and how the workload made a CRM record go (deleted, merged away), if it did."""
    for op in history.operations:
        if op.side != provider or op.kind not in ("delete", "merge"):
            continue
        ids = [k.rsplit(":", 1)[-1] for k in op.keys]
        if op.kind == "delete" and external_id == ids[0]:
            return f"deleted in {provider} at +{op.at - history.started:.2f}s"
        if op.kind == "merge" and external_id in ids[1:]:
            return f"merged into {ids[0]} in {provider} at +{op.at - history.started:.2f}s"
    return None
