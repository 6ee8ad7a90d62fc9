"""The Salesforce connector: accounts and contacts through the unchanged simple-salesforce.

- Scans are one SOQL query each, ``queryAll`` (so the recycle bin and merge losers come
  back as ``archived`` / ``merged_into``), ordered by ``SystemModstamp, Id``, read 2,000 rows
  per batch with ``query_more``; one cursor per batch. An incremental pass starts
  ``overlap`` before the last pass ended and ends with ``getDeleted`` (15 days back at most)
  for deletions the recycle bin no longer holds. A pass from the start over more than
  ``bulk_threshold`` rows reads them with one Bulk API 2.0 job (:mod:`.bulk`).
- Reads (``fetch``) are ``Id IN (...)`` queries (also ``queryAll``), following merge losers
  to their master record.
- Writes are sObject Collections upserts keyed on our External ID field (200 per call,
  ``allOrNone: false``), so a retried create never makes a second record; linked records
  are updated by Id. Contacts carry their ``AccountId``.

Every SOQL statement is built with ``format_soql`` and nothing else. Calls, budget, session
refresh and errors are :mod:`connectors.salesforce.api`'s job. This module must not know the
database or the field mappings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from simple_salesforce import format_soql

from connectors.base import CallCounter, ConnectorBase, Cursor, Page, RemoteRecord
from connectors.batching import chunks
from connectors.budget import RequestBudget
from connectors.credentials import Credentials
from connectors.errors import Permanent
from connectors.fields import FieldLists, FieldReport, FieldSpec, by_object
from connectors.retry import RetryPolicy
from connectors.salesforce.api import (
    DEFAULT_API_VERSION,
    DEFAULT_TIMEOUT_S,
    FIFTEEN_DAYS,
    PROVIDER,
    SalesforceApi,
    TokensCallback,
    floor_minute,
    server_time,
)
from connectors.salesforce.bulk import DEFAULT_BULK_POLL_S, DEFAULT_BULK_THRESHOLD, SalesforceBulk
from connectors.salesforce.fields import SalesforceFields
from connectors.salesforce.writes import SOBJECTS, SalesforceWrites

OBJECT_TYPES = ("account", "contact")
DEFAULT_EXTERNAL_ID_FIELD = "CrmsyncId__c"
ACCOUNT_FIELDS = (
    "Name",
    "AccountNumber",
    "Type",
    "Industry",
    "Website",
    "Phone",
    "Description",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "ShippingStreet",
    "ShippingCity",
    "ShippingState",
    "ShippingPostalCode",
    "ShippingCountry",
    "NumberOfEmployees",
    "AnnualRevenue",
    "ParentId",
)
CONTACT_FIELDS = (
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Title",
    "AccountId",
    "MailingStreet",
    "MailingCity",
    "MailingState",
    "MailingPostalCode",
    "MailingCountry",
)
DEFAULT_FIELDS = {"account": ACCOUNT_FIELDS, "contact": CONTACT_FIELDS}
SYSTEM_FIELDS = ("Id", "SystemModstamp", "IsDeleted", "MasterRecordId")
QUERY_BATCH = 2_000  # Sforce-Query-Options batchSize maximum
FETCH_CHUNK = 200  # ids per Id IN (...) query: keeps the GET URL well under its limit
DEFAULT_OVERLAP_S = 300.0
QUERY_HEADERS = {"Sforce-Query-Options": f"batchSize={QUERY_BATCH}"}
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_LOCATOR_GONE = "INVALID_QUERY_LOCATOR"


@dataclass(frozen=True, kw_only=True)
class SalesforceOptions:
    """How a connection reads and writes; every field has a documented default."""

    external_id_field: str = DEFAULT_EXTERNAL_ID_FIELD  # our id, an External ID + Unique field
    # Fields queried per object type. None: the standard ones (DEFAULT_FIELDS) and those of
    # the field map that the org has (``prepare``); a mapping: exactly these.
    fields: Mapping[str, Sequence[str]] | None = None
    # An incremental pass re-reads this much before the saved cursor: SystemModstamp is
    # stamped when a transaction starts, so a long one commits rows older than rows we
    # already read. Re-reading is idempotent.
    overlap_s: float = DEFAULT_OVERLAP_S
    api_version: str = DEFAULT_API_VERSION
    timeout_s: float = DEFAULT_TIMEOUT_S
    verify: str | bool = True  # CA bundle path for the org's certificate, or the system store
    get_deleted: bool = True  # end incremental passes with getDeleted (hard deletes)
    # A pass from the start (first pass, reconcile) over more rows than this reads them with
    # one Bulk API 2.0 query job instead of 2,000-row REST batches; 0: never.
    bulk_threshold: int = DEFAULT_BULK_THRESHOLD
    bulk_poll_s: float = DEFAULT_BULK_POLL_S  # wait between a bulk job's status polls
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class SalesforceConnector(ConnectorBase):
    provider: ClassVar[str] = PROVIDER
    display_name: ClassVar[str] = "Salesforce"
    synced_types: ClassVar[tuple[str, ...]] = OBJECT_TYPES
    refuses_stale_writes: ClassVar[bool] = True  # If-Unmodified-Since

    def __init__(
        self,
        *,
        account_id: str,
        credentials: Credentials,
        budget: RequestBudget,
        base_url: str | None = None,
        on_tokens: TokensCallback | None = None,
        options: SalesforceOptions | None = None,
        counter: CallCounter | None = None,
        field_lists: FieldLists | None = None,
    ) -> None:
        instance_url = base_url or credentials.instance_url
        if not instance_url:
            raise Permanent(
                "a Salesforce connection needs its instance URL",
                provider=PROVIDER,
                code="NO_INSTANCE_URL",
            )
        self.account_id = account_id
        self.options = options or SalesforceOptions()
        self.counter = counter or CallCounter()
        for name in [self.options.external_id_field, *_all(self.options.fields or {})]:
            if not _FIELD_NAME.match(name):
                raise Permanent(f"not a field name: {name!r}", provider=PROVIDER, code="BAD_FIELD")
        self.api = SalesforceApi(
            instance_url=instance_url,
            credentials=credentials,
            budget=budget,
            counter=self.counter,
            on_tokens=on_tokens,
            verify=self.options.verify,
            version=self.options.api_version,
            timeout_s=self.options.timeout_s,
            retry=self.options.retry,
        )
        self.writes = SalesforceWrites(
            api=self.api, external_id_field=self.options.external_id_field
        )
        # Fields the field map uses that the org has, besides the connection's list.
        self._wanted: dict[str, tuple[str, ...]] = {}
        # A describe asks about every field a query names, so a pass describes each object
        # once: the fields queried always, the map's once ``prepare`` asks.
        self.fields = SalesforceFields(
            api=self.api,
            kept=field_lists,
            always={object_type: self._fields(object_type) for object_type in OBJECT_TYPES},
        )
        self.bulk = SalesforceBulk(
            api=self.api,
            fields=self.fields,
            threshold=self.options.bulk_threshold,
            poll_s=self.options.bulk_poll_s,
        )

    # ---- setup -------------------------------------------------------------------------

    def ensure_setup(self, fields: Sequence[FieldSpec] = ()) -> FieldReport:
        """Check that both objects have our External ID field, and which of ``fields``
        the org has. Salesforce's REST API cannot create fields: a missing External ID
        field is a permanent error that names it; the map's missing fields are reported
        (by API name, with the type to create) and left out of the sync."""
        wanted = self.options.external_id_field
        for object_type in OBJECT_TYPES:
            sobject = SOBJECTS[object_type]
            found = self.fields.describe(object_type, [wanted], fresh=True).get(wanted.lower())
            if found is None or not found.get("externalId"):
                problem = "is not an External ID" if found else "does not exist"
                raise Permanent(
                    f"Salesforce field {sobject}.{wanted} {problem}. Create it in Setup > Object "
                    f"Manager > {sobject} > Fields & Relationships as a Text field marked "
                    "External ID and Unique; the REST API cannot create fields.",
                    provider=PROVIDER,
                    code="EXTERNAL_ID_FIELD_MISSING",
                    details={"object": sobject, "field": wanted},
                )
        return self.fields.check(fields)

    def prepare(self, fields: Sequence[FieldSpec]) -> FieldReport:
        """Query and write ``fields`` from now on, those the org has (by ``describe``,
        read again after a while); report the others."""
        for spec in fields:
            if not _FIELD_NAME.match(spec.name):
                raise Permanent(
                    f"not a field name: {spec.name!r}", provider=PROVIDER, code="BAD_FIELD"
                )
        report = self.fields.check(fields)
        unavailable = report.unavailable
        self._wanted = {
            object_type: tuple(
                spec.name for spec in specs if spec.name not in unavailable.get(object_type, ())
            )
            for object_type, specs in by_object(fields).items()
        }
        return report

    # ---- scans -------------------------------------------------------------------------

    def scan(
        self, object_type: str, *, cursor: Cursor | None = None, full: bool = False
    ) -> Iterator[Page]:
        self._check(object_type)
        return self._scan(object_type, cursor, full)

    def _start(self, cursor: Cursor | None, full: bool) -> tuple[datetime | None, set[str]]:
        """(lower bound, ids at exactly that time already read) to resume from."""
        mode = "full" if full else "incremental"
        if not cursor or (full and (cursor.get("mode") != "full" or cursor.get("done"))):
            return None, set()
        since = _parse_time(cursor.get("since"))
        if since is None:
            return None, set()
        if cursor.get("done") or cursor.get("mode") != mode:
            return since - timedelta(seconds=self.options.overlap_s), set()
        return since, set(cursor.get("seen") or ())

    def _scan(self, object_type: str, cursor: Cursor | None, full: bool) -> Iterator[Page]:
        since, seen = self._start(cursor, full)
        # Rows before the resume point of an interrupted pass were read already; a finished
        # pass's successor starts ``overlap`` earlier and skips nothing.
        resume = since if seen else None
        lower = since
        mode = "full" if full else "incremental"
        archived_seen: set[str] = set()

        def state(done: bool) -> Cursor:
            # A finished pass needs no resume point: the next one starts ``overlap`` earlier.
            return {
                "v": 1,
                "mode": mode,
                "since": _format_time(since),
                "seen": [] if done else sorted(seen),
                "done": done,
            }

        bulk = self.bulk.batches(object_type, self._fields(object_type)) if since is None else None
        result = next(bulk) if bulk is not None else self._query_from(object_type, since)
        while True:
            records = []
            for raw in result.get("records") or []:
                stamp = _parse_time(raw.get("SystemModstamp")) or since
                if resume is not None and stamp is not None:
                    if stamp < resume or (stamp == resume and raw["Id"] in seen):
                        continue  # read before the pass was interrupted
                    resume = None  # rows come in order: everything from here on is new
                record = self._to_record(object_type, raw)
                if record.archived:
                    archived_seen.add(record.external_id)
                records.append(record)
                if stamp != since:
                    since, seen = stamp, set()
                seen.add(raw["Id"])
            if result.get("done", True):
                if not full and self.options.get_deleted and lower is not None:
                    records += self._purged(object_type, lower, archived_seen)
                yield Page(records, state(True), True)
                return
            if records:  # a batch of rows read before is no page: its cursor is the old one
                yield Page(records, state(False))
            if bulk is not None:
                result = next(bulk)
                continue
            try:
                result = self._query_more(result["nextRecordsUrl"])
            except Permanent as error:
                if error.code != _LOCATOR_GONE:
                    raise
                # The caller was slow and the query locator expired: query again from here.
                resume = since
                result = self._query_from(object_type, since)

    def _query_from(self, object_type: str, since: datetime | None) -> dict[str, Any]:
        fields = ", ".join(self._fields(object_type))
        sobject = SOBJECTS[object_type]
        if since is None:
            soql = format_soql(
                "SELECT {:literal} FROM {:literal} ORDER BY SystemModstamp, Id", fields, sobject
            )
        else:
            # format_soql drops sub-second digits: the bound is floored to the second and
            # rows at or before the resume key are skipped when read.
            soql = format_soql(
                "SELECT {:literal} FROM {:literal} WHERE SystemModstamp >= {} "
                "ORDER BY SystemModstamp, Id",
                fields,
                sobject,
                since,
            )
        answer: dict[str, Any] = self.api.call(
            "queryAll",
            lambda sf, o: sf.query(soql, include_deleted=True, headers=QUERY_HEADERS, **o),
            bulk=True,
        )
        return answer

    def _query_more(self, next_url: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.api.call(
            "queryMore",
            lambda sf, o: sf.query_more(
                next_url, identifier_is_url=True, headers=QUERY_HEADERS, **o
            ),
            bulk=True,
        )
        return answer

    def _purged(self, object_type: str, since: datetime, seen: set[str]) -> list[RemoteRecord]:
        """Deletions getDeleted reports that the recycle bin query did not show (records
        hard-deleted or emptied from the bin), within its 15-day reach."""
        now = server_time(self.api.last_headers()) or datetime.now(UTC)
        start = floor_minute(max(since, now - FIFTEEN_DAYS + timedelta(minutes=1)))
        # Seconds are ignored: end at the next whole minute so this minute's deletes count
        # (Salesforce covers up to now when the end lies ahead).
        end = floor_minute(now) + timedelta(minutes=1)
        if start >= end:
            return []
        sobject = SOBJECTS[object_type]
        params = {"start": start.isoformat(), "end": end.isoformat()}
        answer = self.api.call(
            "getDeleted",
            lambda sf, o: sf.restful(f"sobjects/{sobject}/deleted/", params=params, **o),
            bulk=True,
        )
        return [
            _tombstone(object_type, item["id"], _parse_time(item.get("deletedDate")))
            for item in (answer or {}).get("deletedRecords") or []
            if item["id"] not in seen
        ]

    # ---- reads -------------------------------------------------------------------------

    def fetch(self, object_type: str, external_ids: Sequence[str]) -> list[RemoteRecord]:
        self._check(object_type)
        wanted = list(dict.fromkeys(str(i) for i in external_ids))
        found = self._by_ids(object_type, wanted)
        records = [found.get(_key(i)) or _tombstone(object_type, i) for i in wanted]
        masters = [r.merged_into for r in records if r.merged_into]
        missing = [m for m in dict.fromkeys(masters) if m and _key(m) not in found]
        extra = list(self._by_ids(object_type, missing).values()) if missing else []
        return records + extra

    def _by_ids(self, object_type: str, ids: list[str]) -> dict[str, RemoteRecord]:
        fields = ", ".join(self._fields(object_type))
        found: dict[str, RemoteRecord] = {}
        for chunk in chunks(ids, FETCH_CHUNK):
            soql = format_soql(
                "SELECT {:literal} FROM {:literal} WHERE Id IN {}",
                fields,
                SOBJECTS[object_type],
                chunk,
            )
            result = self.api.call(
                "queryAll", lambda sf, o, q=soql: sf.query(q, include_deleted=True, **o)
            )
            for raw in result.get("records") or []:
                record = self._to_record(object_type, raw)
                found[_key(record.external_id)] = record
        return found

    def find(self, object_type: str, field_name: str, value: str) -> list[RemoteRecord]:
        """Live records whose ``field_name`` equals ``value`` (e.g. an email or a name)."""
        self._check(object_type)
        if not _FIELD_NAME.match(field_name):
            raise Permanent(
                f"not a field name: {field_name!r}", provider=PROVIDER, code="BAD_FIELD"
            )
        soql = format_soql(
            "SELECT {:literal} FROM {:literal} WHERE {:literal} = {} ORDER BY Id LIMIT 200",
            ", ".join(self._fields(object_type)),
            SOBJECTS[object_type],
            field_name,
            value,
        )
        result = self.api.call("query", lambda sf, o: sf.query(soql, **o))
        return [self._to_record(object_type, raw) for raw in result.get("records") or []]

    def find_prefix(self, object_type: str, field_name: str, prefix: str) -> list[RemoteRecord]:
        """Live records whose ``field_name`` starts with ``prefix`` (``%`` and ``_`` in it
        are literal)."""
        self._check(object_type)
        if not _FIELD_NAME.match(field_name):
            raise Permanent(
                f"not a field name: {field_name!r}", provider=PROVIDER, code="BAD_FIELD"
            )
        soql = format_soql(
            "SELECT {:literal} FROM {:literal} WHERE {:literal} LIKE '{:like}%' ORDER BY Id LIMIT 200",
            ", ".join(self._fields(object_type)),
            SOBJECTS[object_type],
            field_name,
            prefix,
        )
        result = self.api.call("query", lambda sf, o: sf.query(soql, **o))
        return [self._to_record(object_type, raw) for raw in result.get("records") or []]

    # ---- people ------------------------------------------------------------------------

    def find_owner(self, email: str) -> str | None:
        """The Id of the active Salesforce User with this email, or None: what a customer's
        sales rep is as an Account's ``OwnerId``. Several users may share an email (a
        sandbox copy, an integration user); the oldest active one is taken."""
        wanted = email.strip()
        if not wanted:
            return None
        soql = format_soql(
            "SELECT Id, Email FROM User WHERE Email = {} AND IsActive = true "
            "ORDER BY CreatedDate, Id LIMIT 1",
            wanted,
        )
        result = self.api.call("query", lambda sf, o: sf.query(soql, **o))
        records = result.get("records") or []
        return str(records[0]["Id"]) if records else None

    # ---- helpers -----------------------------------------------------------------------

    def _fields(self, object_type: str) -> list[str]:
        chosen = self.options.fields
        if chosen is None:
            wanted = [*DEFAULT_FIELDS[object_type], *self._wanted.get(object_type, ())]
        else:
            wanted = list(chosen.get(object_type, DEFAULT_FIELDS[object_type]))
        names = [*SYSTEM_FIELDS, *wanted, self.options.external_id_field]
        if object_type == "contact":
            names.append("AccountId")
        return list(dict.fromkeys(names))

    def _to_record(self, object_type: str, raw: dict[str, Any]) -> RemoteRecord:
        props = {k: v for k, v in raw.items() if k != "attributes"}
        account = props.get("AccountId") if object_type == "contact" else None
        return RemoteRecord(
            object_type=object_type,
            external_id=str(raw["Id"]),
            properties=props,
            modified_at=_parse_time(raw.get("SystemModstamp")) or datetime.now(UTC),
            archived=bool(raw.get("IsDeleted")),
            merged_into=raw.get("MasterRecordId") or None,
            associations=(account,) if account else (),
            local_id=props.get(self.options.external_id_field) or None,
        )


def _all(fields: Mapping[str, Sequence[str]]) -> list[str]:
    return [name for names in fields.values() for name in names]


def _key(record_id: str) -> str:
    # 15- and 18-character ids name the same record; the first 15 are case-sensitive.
    return record_id[:15]


def _parse_time(value: Any) -> datetime | None:
    """Salesforce datetimes: ``2024-01-01T00:00:00.000+0000`` (or ISO with ``Z``)."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _format_time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds") if moment else None


def _tombstone(object_type: str, record_id: str, when: datetime | None = None) -> RemoteRecord:
    return RemoteRecord(
        object_type=object_type,
        external_id=record_id,
        properties={},
        modified_at=when or datetime.now(UTC),
        archived=True,
    )


_RECORD_ID = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
KEY_PREFIXES = {"account": "001", "contact": "003"}  # the first 3 characters of each's ids


def _suffix(id15: str) -> str:
    """The 3 characters an 18-character id adds: which of the 15 are upper case."""
    letters = []
    for start in (0, 5, 10):
        bits = sum(1 << n for n, c in enumerate(id15[start : start + 5]) if "A" <= c <= "Z")
        letters.append(_SUFFIX_ALPHABET[bits])
    return "".join(letters)


def record_id_problem(object_type: str, record_id: str) -> str | None:
    """Why ``record_id`` cannot be the id of a Salesforce ``object_type``, or None. Asked
    before the CRM is: Salesforce answers a malformed id in a query with an error of its
    own (``INVALID_QUERY_FILTER_OPERATOR``), not with "no such record"."""
    if not _RECORD_ID.fullmatch(record_id):
        return "is not a Salesforce id (15 or 18 letters and digits)"
    if len(record_id) == 18 and record_id[15:].upper() != _suffix(record_id[:15]):
        return "is not a Salesforce id (its last 3 characters do not match the first 15)"
    prefix = KEY_PREFIXES.get(object_type)
    if prefix is not None and record_id[:3] != prefix:
        other = next((name for name, p in KEY_PREFIXES.items() if p == record_id[:3]), None)
        return f"is the id of {'a ' + other if other else 'another kind of record'}, not of an {object_type}"
    return None
