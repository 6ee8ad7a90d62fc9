"""The in-memory CRM of one HubSpot portal: companies, contacts, their associations, the
recycle bin, merges, unique values and the search index.

Every change goes through here, whoever makes it (the HTTP API with changeSource ``API``,
or the admin methods acting as a user in the HubSpot UI with ``CRM_UI``), and every change
produces the webhook events HubSpot would send, handed to ``emit``. One re-entrant lock
guards all state, so the API thread and test threads can share a store safely.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.hubspot.associations import PRIMARY, AssociationIndex
from sandbox.hubspot.errors import HubSpotError, not_found, validation_error
from sandbox.hubspot.properties import LAST_MODIFIED, OBJECT_TYPES, PropertySchema
from sandbox.hubspot.records import HistoryEntry, ObjectTable, Record, iso_ms
from sandbox.hubspot.sources import history_source
from sandbox.hubspot.unique import UniqueValues

EventSink = Callable[[list[dict[str, Any]]], None]
SINGULAR = {"companies": "company", "contacts": "contact"}
# Computed by HubSpot; changing them never produces a propertyChange event.
NO_EVENT_PROPERTIES = {"hs_lastmodifieddate", "lastmodifieddate", "hs_object_id"}
# Ids start far apart per type so an id used with the wrong object type is a 404, not a hit.
FIRST_IDS = {"companies": 20_000_000_001, "contacts": 50_000_000_001}


def now_ms() -> int:
    return int(time.time() * 1000)


class PortalStore:
    def __init__(self, *, portal_id: int, search_index_lag_s: float = 0.0, seed: int = 0) -> None:
        self.portal_id = portal_id
        self.schema = PropertySchema()
        self.tables = {
            object_type: ObjectTable(object_type, first_id=FIRST_IDS[object_type], seed=seed + n)
            for n, object_type in enumerate(OBJECT_TYPES)
        }
        self.associations = AssociationIndex()
        self.lock = threading.RLock()
        self.version = 0  # bumped by every change search can see; keys the search cache
        self.emit: EventSink = lambda events: None
        self._lag_s = search_index_lag_s
        self._pending_index: deque[tuple[float, Record, dict[str, str] | None]] = deque()
        self.unique = UniqueValues()

    # ---- reads -------------------------------------------------------------------------

    def get(
        self,
        object_type: str,
        record_id: str,
        *,
        archived: bool = False,
        follow_merges: bool = True,
        id_property: str | None = None,
    ) -> Record | None:
        with self.lock:
            table = self.tables[object_type]
            if id_property and id_property != "hs_object_id":
                record = self.find_unique(object_type, id_property, record_id)
            else:
                try:
                    numeric = int(record_id)
                except ValueError:
                    return None
                record = table.resolve(numeric, follow_merges=follow_merges)
            if record is None or record.archived != archived:
                return None
            return record

    def find_unique(self, object_type: str, name: str, value: str) -> Record | None:
        record_id = self.unique.holder(object_type, name, value)
        return None if record_id is None else self.tables[object_type].records.get(record_id)

    def unique_index(self, object_type: str, name: str) -> dict[str, int]:
        """The live value -> id index of a unique property (lowercased for email)."""
        return self.unique.index(object_type, name)

    def add_unique_index(self, object_type: str, name: str) -> None:
        with self.lock:
            self.unique.add_property(object_type, name, self.tables[object_type].live())

    def is_unique_property(self, object_type: str, name: str) -> bool:
        if object_type == "contacts" and name == "email":
            return True
        prop = self.schema.get(object_type, name)
        return prop is not None and prop.has_unique_value

    def search_view(self) -> None:
        """Make every index update that is due visible to search."""
        with self.lock:
            now = time.monotonic()
            while self._pending_index and self._pending_index[0][0] <= now:
                _, record, snapshot = self._pending_index.popleft()
                record.indexed = snapshot
                self.version += 1

    # ---- writes ------------------------------------------------------------------------

    def create(
        self,
        object_type: str,
        properties: dict[str, str],
        *,
        source: str,
        associations: Iterable[tuple[str, int, set[str]]] = (),
        when_ms: int | None = None,
    ) -> Record:
        """Create a record from validated properties; raises HubSpotError on conflicts."""
        with self.lock:
            if object_type == "companies" and not (
                properties.get("name") or properties.get("domain")
            ):
                raise validation_error("A company needs at least a name or a domain.")
            if object_type == "contacts" and not any(
                properties.get(key) for key in ("email", "firstname", "lastname")
            ):
                raise validation_error(
                    "A contact needs at least an email, a firstname or a lastname."
                )
            self.unique.check(object_type, properties, None)
            links = [*associations, *_primary_link(object_type, properties)]
            self._check_links(links)
            table = self.tables[object_type]
            stamp = when_ms or now_ms()
            record_id = table.new_id()
            props = {key: value for key, value in properties.items() if value != ""}
            props.setdefault("createdate", iso_ms(stamp))
            props["hs_object_id"] = str(record_id)
            props[LAST_MODIFIED[object_type]] = iso_ms(stamp)
            record = Record(id=record_id, props=props, created_ms=stamp, updated_ms=stamp)
            made_by = history_source(source)
            for name, value in props.items():
                record.history[name] = [HistoryEntry(value, stamp, made_by)]
            table.add(record)
            self.unique.add(object_type, record)
            self._reindex(record)
            events = [self._event(object_type, "creation", record.id, source)]
            for to_type, to_id, kinds in links:
                events += self._associate(object_type, record.id, to_type, to_id, kinds, source)
            self.emit(events)
            return record

    def update(
        self,
        object_type: str,
        record: Record,
        properties: dict[str, str],
        *,
        source: str,
    ) -> Record:
        with self.lock:
            if record.archived:
                raise not_found()
            self.unique.check(object_type, properties, record.id)
            links = _primary_link(object_type, properties)
            self._check_links(links)
            events = self._apply(object_type, record, properties, source)
            for to_type, to_id, kinds in links:
                events += self._associate(object_type, record.id, to_type, to_id, kinds, source)
            self.emit(events)
            return record

    def archive(self, object_type: str, record: Record, *, source: str) -> None:
        with self.lock:
            if record.archived:
                return
            table = self.tables[object_type]
            self.unique.discard(object_type, record)
            record.archived_ms = now_ms()
            record.updated_ms = record.archived_ms
            record.cache.clear()
            table.move_to_archive(record)
            self.version += 1
            self.emit([self._event(object_type, "deletion", record.id, source)])

    def restore(self, object_type: str, record: Record, *, source: str) -> Record:
        with self.lock:
            if not record.archived:
                return record
            self.unique.check(object_type, record.props, record.id)
            record.archived_ms = None
            record.updated_ms = now_ms()
            record.props[LAST_MODIFIED[object_type]] = iso_ms(record.updated_ms)
            record.cache.clear()
            self.tables[object_type].move_to_live(record)
            self.unique.add(object_type, record)
            self._reindex(record)
            self.emit([self._event(object_type, "restore", record.id, source)])
            return record

    def merge(self, object_type: str, primary: Record, other: Record, *, source: str) -> Record:
        """Merge two records into a new one, as HubSpot has since its merge update: the new
        record has a new id; its values are the primary's, with the other's where the
        primary has none; it takes both records' associations, the primary's first. Both
        old ids (and every id merged into them before) resolve to it from then on.

        Source: HubSpot developer changelog, "Updated merge functionality for contacts and
        companies" (developers.hubspot.com/changelog/updated-merge-functionality-for-contacts-
        and-companies)."""
        with self.lock:
            if primary.id == other.id:
                raise validation_error("Cannot merge an object with itself.")
            if primary.archived or other.archived:
                raise not_found()
            table = self.tables[object_type]
            self.unique.discard(object_type, primary)
            self.unique.discard(object_type, other)
            system = ("hs_object_id", "hs_merged_object_ids", "createdate")
            moved = {
                name: value
                for name, value in other.props.items()
                if name not in primary.props and name not in system
            }
            merged_ids = [
                *_merged_ids(primary),
                *_merged_ids(other),
                str(primary.id),
                str(other.id),
            ]
            stamp = max(now_ms(), primary.updated_ms, other.updated_ms)
            record_id = table.new_id()
            props = {**primary.props, **moved}
            props["hs_object_id"] = str(record_id)
            props["hs_merged_object_ids"] = ";".join(merged_ids)
            props[LAST_MODIFIED[object_type]] = iso_ms(stamp)
            record = Record(id=record_id, props=props, created_ms=stamp, updated_ms=stamp)
            # Each value keeps the history of the record it came from.
            for name in props:
                source_record = other if name in moved else primary
                record.history[name] = list(
                    source_record.history.get(name) or source_record.seeded_history(name)
                )
            made_by = history_source(source)
            for name in ("hs_object_id", "hs_merged_object_ids"):
                record.record_change(name, props[name], stamp, made_by)
            table.add(record)
            table.forget(primary, record_id)
            table.forget(other, record_id)
            self._move_associations(object_type, primary.id, record_id)
            self._move_associations(object_type, other.id, record_id)
            self.unique.add(object_type, record)
            self._reindex(record)
            self.emit(
                [
                    self._event(
                        object_type,
                        "merge",
                        record_id,
                        source,
                        primaryObjectId=primary.id,
                        mergedObjectIds=[other.id],
                        newObjectId=record_id,
                        numberOfPropertiesMoved=len(moved),
                    )
                ]
            )
            return record

    def associate(
        self,
        from_type: str,
        from_id: int,
        to_type: str,
        to_id: int,
        kinds: set[str],
        *,
        source: str,
    ) -> set[str]:
        with self.lock:
            self._check_links([(to_type, to_id, kinds)])
            if self.tables[from_type].resolve(from_id, follow_merges=False) is None:
                raise not_found()
            events = self._associate(from_type, from_id, to_type, to_id, kinds, source)
            self.emit(events)
            return self.associations.kinds(*_pair(from_type, from_id, to_id))

    def disassociate(
        self, from_type: str, from_id: int, to_id: int, kinds: set[str] | None, *, source: str
    ) -> None:
        with self.lock:
            contact_id, company_id = _pair(from_type, from_id, to_id)
            removed = self.associations.remove(contact_id, company_id, kinds)
            events: list[dict[str, Any]] = []
            if PRIMARY in removed:
                contact = self.tables["contacts"].records.get(contact_id)
                if contact is not None:
                    events += self._apply("contacts", contact, {"associatedcompanyid": ""}, source)
            if removed:
                events += self._association_events(
                    contact_id, company_id, PRIMARY in removed, True, source
                )
            self.emit(events)

    def purge(self, object_type: str, record: Record, *, source: str) -> None:
        """Delete a record for good (a GDPR delete): unlike archive, nothing can restore it,
        and its associations go with it."""
        with self.lock:
            for other_id in self.associations.neighbours(object_type, record.id):
                self.associations.remove(*_pair(object_type, record.id, other_id))
            if not record.archived:
                self.unique.discard(object_type, record)
            self.tables[object_type].drop(record)
            record.cache.clear()
            self.version += 1
            self.emit([self._event(object_type, "privacyDeletion", record.id, source)])

    # ---- internals ---------------------------------------------------------------------

    def _apply(
        self,
        object_type: str,
        record: Record,
        changes: dict[str, str],
        source: str,
    ) -> list[dict[str, Any]]:
        changed = {
            name: value for name, value in changes.items() if record.props.get(name, "") != value
        }
        if not changed:
            return []
        self.unique.discard(object_type, record)
        stamp = max(now_ms(), record.updated_ms)
        made_by = history_source(source)
        for name, value in changed.items():
            record.record_change(name, value, stamp, made_by)
            if value == "":
                record.props.pop(name, None)
            else:
                record.props[name] = value
        record.updated_ms = stamp
        record.props[LAST_MODIFIED[object_type]] = iso_ms(record.updated_ms)
        record.cache.clear()
        self.unique.add(object_type, record)
        self._reindex(record)
        return [
            self._event(
                object_type,
                "propertyChange",
                record.id,
                source,
                propertyName=name,
                propertyValue=value,
            )
            for name, value in changed.items()
            if name not in NO_EVENT_PROPERTIES
        ]

    def _associate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, kinds: set[str], source: str
    ) -> list[dict[str, Any]]:
        contact_id, company_id = _pair(from_type, from_id, to_id)
        events: list[dict[str, Any]] = []
        if PRIMARY in kinds:
            previous = self.associations.primary_company(contact_id)
            if previous is not None and previous != company_id:
                self.associations.remove(contact_id, previous, {PRIMARY})
                events += self._association_events(contact_id, previous, True, True, source)
        added = self.associations.add(contact_id, company_id, kinds)
        if PRIMARY in added:
            contact = self.tables["contacts"].records[contact_id]
            events += self._apply(
                "contacts", contact, {"associatedcompanyid": str(company_id)}, source
            )
        if added:
            events += self._association_events(
                contact_id, company_id, PRIMARY in added, False, source
            )
        return events

    def _association_events(
        self, contact_id: int, company_id: int, primary: bool, removed: bool, source: str
    ) -> list[dict[str, Any]]:
        common = {"associationRemoved": removed, "isPrimaryAssociation": primary}
        return [
            self._event("contacts", "associationChange", contact_id, source,
                        associationType="CONTACT_TO_COMPANY", fromObjectId=contact_id,
                        toObjectId=company_id, **common),
            self._event("companies", "associationChange", company_id, source,
                        associationType="COMPANY_TO_CONTACT", fromObjectId=company_id,
                        toObjectId=contact_id, **common),
        ]  # fmt: skip

    def _move_associations(self, object_type: str, old_id: int, new_id: int) -> None:
        for other_id in self.associations.neighbours(object_type, old_id):
            contact_id, company_id = _pair(object_type, old_id, other_id)
            kinds = self.associations.remove(contact_id, company_id)
            target = _pair(object_type, new_id, other_id)
            if (
                PRIMARY in kinds
                and object_type == "contacts"
                and self.associations.primary_company(new_id)
            ):
                kinds.discard(PRIMARY)  # the survivor's own primary company wins
            self.associations.add(target[0], target[1], kinds)
            if PRIMARY in kinds:
                contact = self.tables["contacts"].records[target[0]]
                contact.props["associatedcompanyid"] = str(target[1])
                contact.cache.clear()

    def _check_links(self, links: list[tuple[str, int, set[str]]]) -> None:
        for to_type, to_id, _ in links:
            target = self.tables[to_type].resolve(to_id, follow_merges=False)
            if target is None or target.archived:
                raise HubSpotError(
                    400,
                    f"No {SINGULAR[to_type]} with id {to_id} exists to associate with.",
                    category="VALIDATION_ERROR",
                    context={"id": [str(to_id)]},
                )

    def _reindex(self, record: Record) -> None:
        self.version += 1
        if self._lag_s <= 0:
            record.indexed = record.props
        else:
            self._pending_index.append((time.monotonic() + self._lag_s, record, dict(record.props)))

    def _event(
        self, object_type: str, kind: str, object_id: int, source: str, **fields: Any
    ) -> dict[str, Any]:
        return {
            "subscriptionType": f"{SINGULAR[object_type]}.{kind}",
            "objectId": object_id,
            "changeSource": source,
            "occurredAt": now_ms(),
            **fields,
        }


def _pair(from_type: str, from_id: int, to_id: int) -> tuple[int, int]:
    return AssociationIndex.key(from_type, from_id, to_id)


def _merged_ids(record: Record) -> list[str]:
    return [i for i in record.props.get("hs_merged_object_ids", "").split(";") if i]


def _primary_link(object_type: str, properties: dict[str, str]) -> list[tuple[str, int, set[str]]]:
    """Setting a contact's ``associatedcompanyid`` makes that company its primary one."""
    value = properties.get("associatedcompanyid") if object_type == "contacts" else None
    if not value:
        return []
    if not value.isdigit():
        raise validation_error(f"associatedcompanyid must be a company id; got {value!r}.")
    return [("companies", int(value), {PRIMARY})]
