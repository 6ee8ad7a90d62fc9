"""The in-memory org: Account and Contact records, thread-safe.

Every change goes through :class:`OrgStore`, whichever door it came in by (REST API,
admin methods, seeding), so audit fields, the delete log, external-id uniqueness and
change notifications behave the same for all of them.

Records are plain dicts holding every field of their object. They are replaced, never
mutated, on change (copy-on-write), so a list of record references taken under the lock
is a consistent snapshot that queries can read without holding it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from .errors import ApiError, entity_is_deleted, not_found, precondition_failed
from .ids import IdFactory, to_18, truncate_ms
from .schema import FieldDef, ObjectDef
from .validation import check_unique, prepare

Record = dict[str, Any]
ChangeListener = Callable[[str, str, str], None]

MAX_MERGE_RECORDS = 3
# Deleted records stay in the recycle bin (queryAll, getDeleted, undelete) this long,
# then Salesforce purges them for good.
RECYCLE_BIN_RETENTION = timedelta(days=15)


class OrgStore:
    """All records of one org, with the rules Salesforce applies when they change."""

    def __init__(
        self,
        schema: dict[str, ObjectDef],
        *,
        ids: IdFactory,
        clock: Callable[[], datetime],
        user_id: str,
        restricted_picklists: bool = False,
    ) -> None:
        self.schema = schema
        self.ids = ids
        self.user_id = user_id
        self._clock = clock
        self.restricted_picklists = restricted_picklists
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Record]] = {name: {} for name in schema}
        # (object, field) -> normalized value -> id, live records only
        self.unique_index: dict[tuple[str, str], dict[str, str]] = {
            (name, f.name): {} for name, obj in schema.items() for f in obj.fields.values()
            if f.unique
        }  # fmt: skip
        self.delete_log: dict[str, dict[str, datetime]] = {name: {} for name in schema}
        self._deleted_with: dict[str, str] = {}  # contact id -> account id deleted with it
        self._listeners: list[ChangeListener] = []
        self._templates: dict[str, Record] = {
            name: dict.fromkeys(obj.fields) | {"IsDeleted": False}
            for name, obj in schema.items()
        }  # fmt: skip
        self._recycle_bin: deque[tuple[datetime, str, str]] = deque()  # in deletion order
        self.created_at = self.now()

    def add_field(self, object_name: str, definition: FieldDef) -> None:
        """A field an admin adds in Setup: every record, old and new, has it, null until
        set."""
        with self.lock:
            self.schema[object_name].add(definition)
            self._templates[object_name][definition.name] = None
            for record in self.records[object_name].values():
                record.setdefault(definition.name, None)
            if definition.unique:
                self.unique_index[(object_name, definition.name)] = {}

    # --- plumbing --------------------------------------------------------------------

    def now(self) -> datetime:
        return truncate_ms(self._clock())

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def notify(self, events: Iterable[tuple[str, str, str]]) -> None:
        for event in events:
            for listener in self._listeners:
                listener(*event)

    def object(self, name: str) -> ObjectDef:
        return self.schema[name]

    def unique_key(self, definition: FieldDef, value: Any) -> str:
        text = str(value)
        return text if definition.case_sensitive else text.lower()

    # --- reads -----------------------------------------------------------------------

    def purge_recycle_bin(self) -> None:
        """Hard-delete what has been in the recycle bin longer than Salesforce keeps it."""
        cutoff = self.now() - RECYCLE_BIN_RETENTION
        with self.lock:
            while self._recycle_bin and self._recycle_bin[0][0] < cutoff:
                deleted_at, object_name, record_id = self._recycle_bin.popleft()
                if self.delete_log[object_name].get(record_id) != deleted_at:
                    continue  # undeleted (and maybe deleted again) since
                del self.delete_log[object_name][record_id]
                self.records[object_name].pop(record_id, None)
                self._deleted_with.pop(record_id, None)

    def find(self, object_name: str, record_id: str) -> Record | None:
        """The record (deleted or not) with this 15- or 18-character id, or None."""
        normalized = to_18(record_id)
        if normalized is None:
            return None
        self.purge_recycle_bin()
        return self.records[object_name].get(normalized)

    def get_live(self, object_name: str, record_id: str) -> Record:
        record = self.find(object_name, record_id)
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise entity_is_deleted()
        return record

    def snapshot(self, object_name: str) -> list[Record]:
        with self.lock:
            self.purge_recycle_bin()
            return list(self.records[object_name].values())

    def find_by_external_id(self, object_name: str, field_name: str, value: Any) -> list[str]:
        """Ids of live records whose external-id field equals ``value``."""
        definition = self.schema[object_name].fields[field_name]
        with self.lock:
            if field_name == "Id":
                record = self.find(object_name, str(value))
                return [record["Id"]] if record and not record["IsDeleted"] else []
            index = self.unique_index.get((object_name, field_name))
            key = self.unique_key(definition, value)
            if index is not None:
                found = index.get(key)
                return [found] if found else []
            return [
                record["Id"]
                for record in self.records[object_name].values()
                if not record["IsDeleted"]
                and record[field_name] is not None
                and self.unique_key(definition, record[field_name]) == key
            ]

    # --- validation ------------------------------------------------------------------

    def prepare(
        self, object_name: str, body: Mapping[str, Any], *, existing: Record | None
    ) -> dict[str, Any]:
        """Check a JSON body for create (``existing`` None) or update; return the changes."""
        return prepare(self, object_name, body, existing=existing)

    def check_unique(
        self, object_name: str, definition: FieldDef, value: Any, existing: Record | None
    ) -> None:
        check_unique(self, object_name, definition, value, existing)

    def _index(self, object_name: str, record: Record, *, add: bool) -> None:
        for (name, field_name), index in self.unique_index.items():
            if name != object_name or record[field_name] is None:
                continue
            key = self.unique_key(self.schema[name].fields[field_name], record[field_name])
            if add:
                index[key] = record["Id"]
            elif index.get(key) == record["Id"]:
                del index[key]

    def _computed(self, object_name: str, record: Record) -> None:
        if object_name in ("Contact", "User"):
            record["Name"] = " ".join(p for p in (record["FirstName"], record["LastName"]) if p)

    def _put(self, object_name: str, record: Record) -> None:
        self._computed(object_name, record)
        self.records[object_name][record["Id"]] = record

    def add_user(
        self, *, email: str, first_name: str, last_name: str, user_id: str | None = None
    ) -> str:
        """Add an active User (as an admin does in Setup); returns its Id."""
        with self.lock:
            now = self.now()
            record: Record = dict(self._templates["User"])
            record.update(
                Id=user_id or self.ids.new("User"), Username=email.lower(), Email=email,
                FirstName=first_name or None, LastName=last_name, IsActive=True,
                CreatedDate=now, LastModifiedDate=now, SystemModstamp=now,
            )  # fmt: skip
            self._put("User", record)
            self._index("User", record, add=True)
            return str(record["Id"])

    def deactivate_user(self, user_id: str) -> None:
        with self.lock:
            record = self.get_live("User", user_id)
            record.update(IsActive=False, LastModifiedDate=self.now(), SystemModstamp=self.now())

    def insert(self, object_name: str, changes: Mapping[str, Any]) -> str:
        """Store an already prepared create; returns the new id. Caller holds the lock."""
        now = self.now()
        record: Record = dict(self._templates[object_name])
        record.update(changes)
        record["Id"] = self.ids.new(object_name)
        record["OwnerId"] = record["OwnerId"] or self.user_id
        record["CreatedById"] = record["LastModifiedById"] = self.user_id
        record["CreatedDate"] = record["LastModifiedDate"] = record["SystemModstamp"] = now
        self._put(object_name, record)
        self._index(object_name, record, add=True)
        record_id: str = record["Id"]
        return record_id

    def apply(
        self, object_name: str, record: Record, changes: Mapping[str, Any], *, system: bool = False
    ) -> Record:
        """Store an already prepared update. Caller holds the lock.

        ``system`` stands for a change made by automation (a trigger, a flow): it bumps
        SystemModstamp but not LastModifiedDate, which is why sync cursors must use the
        former.
        """
        now = self.now()
        self._index(object_name, record, add=False)
        updated = {**record, **changes, "SystemModstamp": now}
        if not system:
            updated["LastModifiedDate"] = now
            updated["LastModifiedById"] = self.user_id
        self._put(object_name, updated)
        self._index(object_name, updated, add=True)
        return updated

    def create(self, object_name: str, body: Mapping[str, Any]) -> str:
        with self.lock:
            record_id = self.insert(object_name, self.prepare(object_name, body, existing=None))
        self.notify([(object_name, record_id, "created")])
        return record_id

    def update(
        self,
        object_name: str,
        record_id: str,
        body: Mapping[str, Any],
        *,
        system: bool = False,
        unmodified_since: datetime | None = None,
    ) -> None:
        """Update one record; with ``unmodified_since`` (an ``If-Unmodified-Since`` date,
        whole seconds) only if its LastModifiedDate, read to the second as HTTP dates are,
        is not later: otherwise 412 and nothing is written."""
        with self.lock:
            record = self.get_live(object_name, record_id)
            if unmodified_since is not None:
                modified = record["LastModifiedDate"].replace(microsecond=0)
                if modified > unmodified_since:
                    raise precondition_failed()
            changes = self.prepare(object_name, body, existing=record)
            self.apply(object_name, record, changes, system=system)
        self.notify([(object_name, record["Id"], "updated")])

    def upsert(
        self, object_name: str, field_name: str, value: str, body: Mapping[str, Any]
    ) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created). Raises 300 on many."""
        with self.lock:
            matches = self.find_by_external_id(object_name, field_name, value)
            if len(matches) > 1:
                raise ApiError(300, "MULTIPLE_CHOICES", "multiple records", body=matches)
            if matches:
                record = self.records[object_name][matches[0]]
                changes = self.prepare(object_name, body, existing=record)
                self.apply(object_name, record, changes)
                result = (record["Id"], False)
            else:
                if field_name == "Id":
                    raise not_found()
                full = {**body, field_name: value}
                result = (
                    self.insert(object_name, self.prepare(object_name, full, existing=None)),
                    True,
                )
        self.notify([(object_name, result[0], "created" if result[1] else "updated")])
        return result

    def _mark_deleted(self, object_name: str, record: Record, master_id: str | None = None) -> None:
        now = self.now()
        self._index(object_name, record, add=False)
        updated = {**record, "IsDeleted": True, "SystemModstamp": now, "LastModifiedDate": now}
        if master_id:
            updated["MasterRecordId"] = master_id
        self._put(object_name, updated)
        self.delete_log[object_name][record["Id"]] = now
        self._recycle_bin.append((now, object_name, record["Id"]))

    def delete(self, object_name: str, record_id: str) -> None:
        """Move a record to the recycle bin; an Account takes its Contacts with it."""
        with self.lock:
            events = self.delete_locked(object_name, self.get_live(object_name, record_id))
        self.notify(events)

    def delete_locked(self, object_name: str, record: Record) -> list[tuple[str, str, str]]:
        """Delete a live record; caller holds the lock and sends the returned events."""
        self._mark_deleted(object_name, record)
        events = [(object_name, record["Id"], "deleted")]
        if object_name == "Account":
            for contact in list(self.records["Contact"].values()):
                if contact["AccountId"] == record["Id"] and not contact["IsDeleted"]:
                    self._mark_deleted("Contact", contact)
                    self._deleted_with[contact["Id"]] = record["Id"]
                    events.append(("Contact", contact["Id"], "deleted"))
        return events

    def undelete(self, object_name: str, record_id: str) -> None:
        events = []
        with self.lock:
            record = self.find(object_name, record_id)
            if record is None:
                raise not_found()
            if not record["IsDeleted"] or record["MasterRecordId"]:
                raise ApiError(400, "UNDELETE_FAILED", "Entity is not in the recycle bin", [])
            restored = [(object_name, record)]
            if object_name == "Account":
                restored += [
                    ("Contact", self.records["Contact"][contact_id])
                    for contact_id, account_id in self._deleted_with.items()
                    if account_id == record["Id"]
                ]
            for name, item in restored:
                for definition in self.schema[name].fields.values():
                    if definition.unique and item[definition.name] is not None:
                        self.check_unique(name, definition, item[definition.name], None)
            for name, item in restored:
                updated = self.apply(name, item, {"IsDeleted": False})
                self.delete_log[name].pop(item["Id"], None)
                self._deleted_with.pop(item["Id"], None)
                events.append((name, updated["Id"], "undeleted"))
        self.notify(events)

    def merge(
        self,
        object_name: str,
        master_id: str,
        loser_ids: list[str],
        master_values: Mapping[str, Any] | None = None,
    ) -> None:
        """Merge up to two records into a master, as the merge() call does.

        Losers go to the recycle bin with MasterRecordId set; their child Contacts and
        child Accounts are re-parented to the master.
        """
        if not 1 <= len(loser_ids) <= MAX_MERGE_RECORDS - 1:
            raise ApiError(
                400,
                "INVALID_ARGUMENT_TYPE",
                f"A merge request can contain up to {MAX_MERGE_RECORDS} records",
            )
        events = []
        with self.lock:
            master = self.get_live(object_name, master_id)
            losers = [self.get_live(object_name, loser) for loser in loser_ids]
            if any(loser["Id"] == master["Id"] for loser in losers):
                raise ApiError(400, "INVALID_ID_FIELD", "Cannot merge a record into itself")
            for loser in losers:
                self._mark_deleted(object_name, loser, master_id=master["Id"])
                events.append((object_name, loser["Id"], "deleted"))
            changes = self.prepare(object_name, master_values or {}, existing=master)
            self.apply(object_name, master, changes)
            events.append((object_name, master["Id"], "updated"))
            loser_set = {loser["Id"] for loser in losers}
            children = [("Contact", "AccountId"), ("Account", "ParentId")]
            for child_object, reference in children if object_name == "Account" else []:
                for child in list(self.records[child_object].values()):
                    if child[reference] in loser_set and not child["IsDeleted"]:
                        self.apply(child_object, child, {reference: master["Id"]})
                        events.append((child_object, child["Id"], "updated"))
        self.notify(events)

    def bulk_load(self, object_name: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Insert trusted rows fast (seeding): no validation, no notifications."""
        ids = []
        with self.lock:
            for row in rows:
                ids.append(self.insert(object_name, row))
        return ids
