"""The connector protocol and the plain records that cross it.

Everything above the connectors asks four questions without knowing which CRM answers:
what changed since this cursor (``scan``), give me these records (``fetch``), write these
records (``upsert`` / ``archive``), is the account set up for us (``ensure_setup``), and
which of the map's fields does it have (``prepare``, :mod:`connectors.fields`).
:class:`ConnectorBase` holds what every connector does the same way: checking the object
type it is asked about, and handing writes to its ``writes`` object.

Records carry CRM field names and raw CRM values (strings as the API returns them);
turning them into directory fields is the job of ``mappings``. Cursors are opaque,
JSON-serializable dicts: the connector makes them and takes them back; the caller only
saves them (after every page).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from connectors.errors import ConnectorError, Permanent
from connectors.fields import FieldReport, FieldSpec

Cursor = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RemoteRecord:
    """One CRM record as the sync sees it."""

    object_type: str  # company | contact (HubSpot); account | contact (Salesforce)
    external_id: str
    properties: dict[str, Any]
    modified_at: datetime  # the CRM's own last-modified time, timezone-aware
    archived: bool = False  # deleted in the CRM (recycle bin)
    merged_into: str | None = None  # the surviving record's id when this one was merged away
    merged_ids: tuple[str, ...] = ()  # ids that were merged into this record
    associations: tuple[str, ...] = ()  # contact -> company / account ids, primary first
    local_id: str | None = None  # our customer / contact id, when the CRM holds it


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a scan. ``cursor`` resumes right after this page: save it, then apply the
    next page. ``done`` is true on the last page of a complete pass."""

    records: list[RemoteRecord]
    cursor: Cursor
    done: bool = False


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """Create or update one CRM record, keyed on our own id so a retry never duplicates."""

    object_type: str
    local_id: str
    properties: dict[str, Any]
    external_id: str | None = None  # known CRM id, if linked
    associations: tuple[str, ...] = ()  # for contacts: the company / account CRM id
    # The CRM's modified time of the record as we last read it: the write must not replace
    # an edit made after it unseen (Salesforce refuses it, HubSpot reports it).
    unmodified_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    local_id: str
    external_id: str | None
    created: bool = False
    error: ConnectorError | None = None  # this record failed; the others in the batch did not
    modified_at: datetime | None = None  # the CRM's time of this write, where it tells it
    # Properties whose value, set in the CRM after ``unmodified_since``, this write replaced:
    # name -> (that value, when it was set). Only where the CRM cannot refuse the write.
    overwritten: Mapping[str, tuple[str, datetime]] = field(default_factory=dict)
    # Properties this write left alone that were set in the CRM after ``unmodified_since``
    # and before it: name -> (the newest such value, when). The CRM's time of the write
    # becomes the time up to which the record is known, so these are merged now or never.
    unseen: Mapping[str, tuple[str, datetime]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class CallCounter:
    """API calls a connector made, by endpoint: what benchmarks and runs report."""

    calls: dict[str, int] = field(default_factory=dict)

    def add(self, endpoint: str, count: int = 1) -> None:
        self.calls[endpoint] = self.calls.get(endpoint, 0) + count

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class Connector(Protocol):
    """What every CRM connector provides."""

    provider: ClassVar[str]
    # Whether the CRM refuses a write to a record changed since a given time (Salesforce's
    # If-Unmodified-Since). Where it cannot (HubSpot), a write can replace an edit unseen,
    # and only the write's own history read finds it (see ``worker.sync.outbound``).
    refuses_stale_writes: ClassVar[bool]
    account_id: str
    counter: CallCounter

    def object_types(self) -> tuple[str, ...]:
        """The CRM object types this connector syncs, parents first (company, contact)."""
        ...

    def ensure_setup(self, fields: Sequence[FieldSpec] = ()) -> FieldReport:
        """Make sure the CRM account can be synced (e.g. the property or External ID field
        that holds our id exists) and has the map's ``fields``; create what is missing
        where the API allows it, and report what is still missing."""
        ...

    def prepare(self, fields: Sequence[FieldSpec]) -> FieldReport:
        """Read and write the map's ``fields`` from now on, those the account has; the
        report names the others, which the sync must leave out."""
        ...

    def scan(
        self, object_type: str, *, cursor: Cursor | None = None, full: bool = False
    ) -> Iterator[Page]:
        """Pages of records: with ``full`` every live record (a reconcile pass), otherwise
        those changed since ``cursor`` (with an overlap window: the caller must be
        idempotent). Deleted and merged records appear with ``archived`` / ``merged_into``
        where the CRM reports them."""
        ...

    def fetch(self, object_type: str, external_ids: Sequence[str]) -> list[RemoteRecord]:
        """Current state of these records, in as few calls as the API allows. Ids that no
        longer exist come back ``archived`` (or ``merged_into`` the survivor)."""
        ...

    def upsert(self, object_type: str, requests: Sequence[WriteRequest]) -> list[WriteResult]:
        """Create or update, keyed on ``local_id``; one result per request, in order."""
        ...

    def archive(self, object_type: str, external_ids: Sequence[str]) -> None:
        """Delete (archive / recycle bin) these records in the CRM."""
        ...

    def find_owner(self, email: str) -> str | None:
        """The CRM's id of the active user with this email who can own records (a HubSpot
        owner, a Salesforce User), or None: how a customer's sales rep is named there."""
        ...


class Writes(Protocol):
    """A connector's write side: one module per CRM (``writes.py``) implements it."""

    def upsert(self, object_type: str, requests: Sequence[WriteRequest]) -> list[WriteResult]:
        """Create or update, keyed on ``local_id``; one result per request, in order."""
        ...

    def archive(self, object_type: str, external_ids: Sequence[str]) -> None:
        """Delete (archive / recycle bin) these records in the CRM."""
        ...


class ConnectorBase:
    """The part of :class:`Connector` that is the same for every CRM: a subclass names its
    provider, its display name and its object types, and sets ``writes``."""

    provider: ClassVar[str]
    display_name: ClassVar[str]  # the CRM's name in messages
    synced_types: ClassVar[tuple[str, ...]]  # parents first
    refuses_stale_writes: ClassVar[bool] = False
    writes: Writes

    def object_types(self) -> tuple[str, ...]:
        """The CRM object types this connector syncs, parents first."""
        return self.synced_types

    def upsert(self, object_type: str, requests: Sequence[WriteRequest]) -> list[WriteResult]:
        """Create or update, keyed on ``local_id``; one result per request, in order."""
        self._check(object_type)
        return self.writes.upsert(object_type, requests)

    def archive(self, object_type: str, external_ids: Sequence[str]) -> None:
        """Delete (archive / recycle bin) these records in the CRM."""
        self._check(object_type)
        self.writes.archive(object_type, external_ids)

    def _check(self, object_type: str) -> None:
        if object_type not in self.synced_types:
            raise Permanent(
                f"{self.display_name} has no object type {object_type!r} here; "
                f"use one of {self.synced_types}",
                provider=self.provider,
                code="UNKNOWN_OBJECT_TYPE",
            )
