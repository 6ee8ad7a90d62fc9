"""The HubSpot connector: companies and contacts through the unchanged hubspot-api-client.

- Full scans, and a first pass (no cursor yet), list every record with
  ``basic_api.get_page`` (100 per page; contacts carry their companies inline), then the
  recycle bin (``archived=true``), so a complete pass reports deletions too. The list
  endpoint shares the 190-per-10-s budget; search has its own 5 per second of 200 records,
  about half the list's pace over a whole portal. A listing stopped part-way resumes from
  its cursor; the cursor of a finished one starts the next incremental scan.
- Incremental scans search on the object's own last-modified property (companies
  ``hs_lastmodifieddate``, contacts ``lastmodifieddate``), 200 per call, sorted ascending,
  one keyset slice per call (:mod:`connectors.hubspot.scan`), so no query ever pages near
  HubSpot's 10,000-result cap and records edited mid-scan are never skipped.
- Reads (``fetch``) use batch read and report vanished ids as archived. An id merged away
  answers with the record of the merge (a new id since HubSpot's merge update), and is
  reported merged into it. Writes are batch upserts keyed on our own unique property, so a retried
  create never makes a second record; linked records are batch-updated by id.

Calls, budget, token refresh and errors are :mod:`connectors.hubspot.api`'s job. This module
must not know the database or the field mappings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import chain
from typing import Any, ClassVar

from connectors.base import CallCounter, ConnectorBase, Cursor, Page, RemoteRecord
from connectors.batching import chunks
from connectors.budget import RequestBudget
from connectors.credentials import Credentials
from connectors.errors import NotFound
from connectors.fields import FieldLists, FieldReport, FieldSpec, by_object
from connectors.hubspot.api import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT_S,
    PROVIDER,
    HubSpotApi,
    TokensCallback,
    server_time,
)
from connectors.hubspot.properties import HubSpotProperties
from connectors.hubspot.records import (
    DEFAULT_ID_PROPERTY,
    DEFAULT_PROPERTIES,
    MODIFIED_PROPERTY,
    OBJECT_TYPES,
    SEGMENTS,
    SYSTEM_PROPERTIES,
    read_properties,
    to_ms,
    to_record,
    tombstone,
    v4_associations,
)
from connectors.hubspot.scan import IncrementalScan
from connectors.hubspot.writes import HubSpotWrites
from connectors.retry import RetryPolicy

PAGE_SIZE = 100  # list and batch limit
ASSOCIATION_BATCH = 1_000  # v4 batch read and write limit we use
DEFAULT_OVERLAP_S = 300.0
OWNER_PAGE_SIZE = 100  # an email names one owner; the page only has to hold it


@dataclass(frozen=True, kw_only=True)
class HubSpotOptions:
    """How a connection reads and writes; every field has a documented default."""

    id_property: str = DEFAULT_ID_PROPERTY  # unique property holding our local id
    # Properties read per object type. None: the standard ones (DEFAULT_PROPERTIES) and
    # those the field map uses (``prepare``); a mapping: exactly these.
    properties: Mapping[str, Sequence[str]] | None = None
    # Incremental scans re-read this much before the saved cursor: search indexing lags
    # writes by seconds normally and by minutes under load; re-reading is idempotent.
    overlap_s: float = DEFAULT_OVERLAP_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class HubSpotConnector(ConnectorBase):
    provider: ClassVar[str] = PROVIDER
    display_name: ClassVar[str] = "HubSpot"
    synced_types: ClassVar[tuple[str, ...]] = OBJECT_TYPES

    def __init__(
        self,
        *,
        account_id: str,
        credentials: Credentials,
        budget: RequestBudget,
        base_url: str = DEFAULT_BASE_URL,
        on_tokens: TokensCallback | None = None,
        options: HubSpotOptions | None = None,
        counter: CallCounter | None = None,
        field_lists: FieldLists | None = None,
    ) -> None:
        self.account_id = account_id
        self.options = options or HubSpotOptions()
        self.counter = counter or CallCounter()
        self.api = HubSpotApi(
            base_url=base_url,
            credentials=credentials,
            budget=budget,
            counter=self.counter,
            on_tokens=on_tokens,
            timeout_s=self.options.timeout_s,
            retry=self.options.retry,
        )
        # Properties the field map uses, besides the connection's list (``prepare``).
        self._wanted: dict[str, tuple[str, ...]] = {}
        self._properties_by_segment = {SEGMENTS[t]: self._properties(t) for t in OBJECT_TYPES}
        self.writes = HubSpotWrites(
            api=self.api, id_property=self.options.id_property, watched=self._watched
        )
        self.setup = HubSpotProperties(
            api=self.api, id_property=self.options.id_property, kept=field_lists
        )

    # ---- setup -------------------------------------------------------------------------

    def ensure_setup(self, fields: Sequence[FieldSpec] = ()) -> FieldReport:
        """Create crmsync's property group, the unique property that holds our id, and
        the properties in ``fields`` that do not exist yet (see
        :mod:`connectors.hubspot.properties`)."""
        return self.setup.ensure_setup(fields)

    def prepare(self, fields: Sequence[FieldSpec]) -> FieldReport:
        """Read ``fields`` from now on (unless the connection names its own list of
        properties), those the portal has; report the others."""
        report = self.setup.available(fields)
        unavailable = report.unavailable
        self._wanted = {
            object_type: tuple(
                spec.name for spec in specs if spec.name not in unavailable.get(object_type, ())
            )
            for object_type, specs in by_object(fields).items()
        }
        self._properties_by_segment = {SEGMENTS[t]: self._properties(t) for t in OBJECT_TYPES}
        return report

    # ---- scans -------------------------------------------------------------------------

    def scan(
        self, object_type: str, *, cursor: Cursor | None = None, full: bool = False
    ) -> Iterator[Page]:
        self._check(object_type)
        if full or _lists(cursor):
            return self._full_scan(object_type, cursor)
        scan = IncrementalScan(
            object_type=object_type,
            search=lambda body: self._search(object_type, body),
            properties=self._properties(object_type),
            overlap_ms=int(self.options.overlap_s * 1000),
        )
        since_ms = max(scan.start(cursor)[0] - scan.overlap_ms, 0)
        return chain(
            self._recycle_bin(object_type, since_ms, cursor), scan.pages(cursor, self._records)
        )

    def _recycle_bin(
        self, object_type: str, since_ms: int, cursor: Cursor | None
    ) -> Iterator[Page]:
        """Records deleted since ``since_ms``: search never returns deleted records, so an
        incremental pass reads the recycle bin first (``archived=true``, 100 a page; one call
        while it holds fewer). Its pages carry the cursor the pass started from, so the
        search cursor moves only after the deletes were applied."""
        segment = SEGMENTS[object_type]
        after: str | None = None
        while True:
            response = self.api.call(
                f"{segment}.list",
                lambda api, o, a=after: self._list(segment, a, "archived", None, o),
                bulk=True,
            )
            data = response.data or {}
            records = [self._to_record(object_type, raw) for raw in data.get("results") or []]
            recent = [r for r in records if to_ms(r.modified_at) >= since_ms]
            if recent:
                yield Page(recent, dict(cursor or {}))
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                return

    def _full_scan(self, object_type: str, cursor: Cursor | None) -> Iterator[Page]:
        resuming = bool(cursor and cursor.get("mode") == "full" and not cursor.get("done"))
        state: dict[str, Any] = dict(cursor) if resuming and cursor else {}
        phase: str = state.get("phase", "live")
        after: str | None = state.get("after")
        started_ms: int | None = state.get("started_ms")
        segment = SEGMENTS[object_type]
        inline = ["companies"] if object_type == "contact" and phase == "live" else None
        while True:
            response = self.api.call(
                f"{segment}.list",
                lambda api, o, a=after, p=phase, i=inline: self._list(segment, a, p, i, o),
                bulk=True,
            )
            if started_ms is None:
                # The CRM's clock, a second early: the next incremental scan starts here.
                now = server_time(response.headers) or datetime.now(UTC)
                started_ms = to_ms(now) - 1000
            data = response.data or {}
            records = [self._to_record(object_type, raw) for raw in data.get("results") or []]
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if after is None and phase == "live":
                phase, inline = "archived", None
            elif after is None:
                yield Page(
                    records, {"v": 1, "mode": "full", "done": True, "since_ms": started_ms}, True
                )
                return
            yield Page(
                records,
                {"v": 1, "mode": "full", "phase": phase, "after": after, "started_ms": started_ms},
            )

    def _list(
        self, segment: str, after: str | None, phase: str, inline: list[str] | None, options: Any
    ) -> Any:
        return self.api.sdk(f"crm.{segment}.basic_api").get_page(
            limit=PAGE_SIZE,
            after=after,
            properties=self._properties_by_segment[segment],
            associations=inline,
            archived=phase == "archived",
            **options,
        )

    def _search(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        segment = SEGMENTS[object_type]
        response = self.api.call(
            f"{segment}.search",
            lambda api, o: api.sdk(f"crm.{segment}.search_api").do_search(body, **o),
            window="search",
            bulk=True,
        )
        return response.data or {}

    def _records(self, object_type: str, raws: list[dict[str, Any]]) -> list[RemoteRecord]:
        """Search results as records; contacts get their companies in one v4 batch read."""
        if object_type != "contact":
            return [self._to_record(object_type, raw) for raw in raws]
        links = self._associations([str(raw["id"]) for raw in raws], bulk=True)
        return [
            to_record(
                object_type,
                raw,
                id_property=self.options.id_property,
                associations=v4_associations(
                    links.get(str(raw["id"]), []),
                    (raw.get("properties") or {}).get("associatedcompanyid"),
                ),
            )
            for raw in raws
        ]

    # ---- reads -------------------------------------------------------------------------

    def fetch(self, object_type: str, external_ids: Sequence[str]) -> list[RemoteRecord]:
        self._check(object_type)
        wanted = list(dict.fromkeys(str(i) for i in external_ids))
        found = self._batch_read(object_type, wanted, archived=False)
        missing = [i for i in wanted if i not in found]
        if missing:
            found.update(self._batch_read(object_type, missing, archived=True))
        extra: list[RemoteRecord] = []
        # An old id of a merge answers as the merge's new record, which names the old ids
        # it took in: the old id is merged into it (never a record of its own).
        for record in list(found.values()):
            for old_id in record.merged_ids:
                if old_id in wanted and old_id not in found:
                    found[old_id] = tombstone(object_type, old_id, merged_into=record.external_id)
            if record.external_id not in wanted:
                del found[record.external_id]
                extra.append(record)
        for record_id in [i for i in wanted if i not in found]:
            # Not answered by a batch read: a single read follows a merge too.
            survivor = self._read_one(object_type, record_id)
            if survivor is None or survivor.external_id == record_id:
                found[record_id] = survivor or tombstone(object_type, record_id)
                continue
            found[record_id] = tombstone(object_type, record_id, merged_into=survivor.external_id)
            if survivor.external_id not in found and all(
                r.external_id != survivor.external_id for r in extra
            ):
                extra.append(survivor)
        records = [found[i] for i in wanted] + extra
        if object_type == "contact":
            live = [r.external_id for r in records if not r.archived]
            links = self._associations(live, bulk=False)
            records = [
                _with_associations(r, links.get(r.external_id)) if not r.archived else r
                for r in records
            ]
        return records

    def _batch_read(
        self, object_type: str, ids: list[str], *, archived: bool
    ) -> dict[str, RemoteRecord]:
        segment = SEGMENTS[object_type]
        properties = self._properties(object_type)
        found: dict[str, RemoteRecord] = {}
        for chunk in chunks(ids, PAGE_SIZE):
            body = {"properties": properties, "inputs": [{"id": i} for i in chunk]}
            response = self.api.call(
                f"{segment}.batch.read",
                lambda api, o, b=body: api.sdk(f"crm.{segment}.batch_api").read(
                    b, archived=archived, **o
                ),
            )
            for raw in (response.data or {}).get("results") or []:
                record = self._to_record(object_type, raw)
                found[record.external_id] = record
        return found

    def _read_one(self, object_type: str, record_id: str) -> RemoteRecord | None:
        segment = SEGMENTS[object_type]
        try:
            response = self.api.call(
                f"{segment}.get",
                lambda api, o: api.sdk(f"crm.{segment}.basic_api").get_by_id(
                    record_id, properties=self._properties(object_type), **o
                ),
            )
        except NotFound:
            return None
        return self._to_record(object_type, response.data)

    def _associations(self, contact_ids: list[str], *, bulk: bool) -> dict[str, list[Any]]:
        """contact id -> v4 association rows to companies (contacts without any are absent)."""
        links: dict[str, list[Any]] = {}
        for chunk in chunks(contact_ids, ASSOCIATION_BATCH):
            body = {"inputs": [{"id": i} for i in chunk]}
            response = self.api.call(
                "associations.batch.read",
                lambda api, o, b=body: api.sdk("crm.associations.v4.batch_api").get_page(
                    "contacts", "companies", b, **o
                ),
                bulk=bulk,
            )
            for row in (response.data or {}).get("results") or []:
                links[str(row["from"]["id"])] = row.get("to") or []
        return links

    # ---- people ------------------------------------------------------------------------

    def find_owner(self, email: str) -> str | None:
        """The id of the active HubSpot owner (a user who can own records) with this email,
        or None: what a customer's sales rep is called in HubSpot's ``hubspot_owner_id``."""
        wanted = email.strip().lower()
        if not wanted:
            return None
        response = self.api.call(
            "owners.list",
            lambda api, o: api.sdk("crm.owners.owners_api").get_page(
                email=wanted, limit=OWNER_PAGE_SIZE, archived=False, **o
            ),
        )
        for owner in (response.data or {}).get("results") or []:
            if str(owner.get("email") or "").lower() == wanted:
                return str(owner["id"])
        return None

    # ---- helpers -----------------------------------------------------------------------

    def _properties(self, object_type: str) -> list[str]:
        chosen = self.options.properties
        if chosen is None:
            wanted = [*DEFAULT_PROPERTIES[object_type], *self._wanted.get(object_type, ())]
        else:
            wanted = list(chosen.get(object_type, DEFAULT_PROPERTIES[object_type]))
        return read_properties(object_type, wanted, self.options.id_property)

    def _watched(self, object_type: str) -> list[str]:
        """The properties read whose edits a sync merges: not the CRM's own (identity,
        times, merges, the primary company, which the CRM changes by itself)."""
        own = {*SYSTEM_PROPERTIES, MODIFIED_PROPERTY[object_type], "associatedcompanyid"}
        return [name for name in self._properties(object_type) if name not in own]

    def _to_record(self, object_type: str, raw: dict[str, Any]) -> RemoteRecord:
        return to_record(object_type, raw, id_property=self.options.id_property)


def _lists(cursor: Cursor | None) -> bool:
    """Whether an incremental scan from ``cursor`` is a listing: there is no cursor yet
    (everything is new), or a listing stopped before its last page."""
    return not cursor or (cursor.get("mode") == "full" and not cursor.get("done"))


def _with_associations(record: RemoteRecord, rows: list[Any] | None) -> RemoteRecord:
    primary = record.properties.get("associatedcompanyid")
    return replace(record, associations=tuple(v4_associations(rows or [], primary)))


_RECORD_ID = re.compile(r"[0-9]{1,20}")


def record_id_problem(object_type: str, record_id: str) -> str | None:
    """Why ``record_id`` cannot be the id of a HubSpot ``object_type``, or None: HubSpot's
    record ids are numbers."""
    if not _RECORD_ID.fullmatch(record_id):
        return f"is not a HubSpot {object_type} id (digits only)"
    return None
