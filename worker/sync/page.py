"""What the work on one page of CRM records of one type shares: the page's context.

A page is applied record by record (``worker.sync.inbound``), its plain creates are
written in bulk (``worker.sync.new_records``), a linked record is merged
(``worker.sync.merging``) and a new one matched or created (``worker.sync.sides``); each of
them takes a :class:`PageContext` and none of them reaches into another. The context holds
the session and the connection the page is for, the object map, the links loaded for the
page, each record's values read once, the duplicate index with the page's own customers on
top, the outcome counters and the external ids applied, and records a record's failure. It says which kind of local
record the page is about through its :class:`Side`.

The context only loads links and writes failure rows: every change to the directory is
made by the modules above, through the service layer.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectors.base import RemoteRecord
from connectors.errors import Permanent
from customers.db import one_of
from customers.duplicates import DuplicateIndex
from customers.errors import DirectoryError
from customers.models import Contact, Customer, OutboxEntry
from customers.sync_state import ExternalLink, SyncFailure, outbox_cursor
from mappings import ObjectMap, RemoteValueError, to_local
from worker.failures import UNRESOLVED, record_failure
from worker.jobs.enqueue import SYNC_RECORDS
from worker.jobs.payload import JobCall
from worker.sync.directory_index import directory_index
from worker.sync.links import link_columns
from worker.sync.target import SyncTarget

# A record's failure is logged under the inbound page it failed in, as it always was.
log = logging.getLogger("worker.sync.inbound")

CHUNK = 500  # ids per ``IN (...)`` query


@dataclass
class PageResult:
    counts: Counter[str] = field(default_factory=Counter)
    created_customers: list[int] = field(default_factory=list)
    needs_push: bool = False


class Side(Protocol):
    """What differs between a page of customers (CRM companies, accounts) and a page of
    contacts (``worker.sync.sides`` has one of each)."""

    local_type: str  # ``ExternalLink.local_type``: customer | contact
    count_prefix: str  # before an outcome's name in the page's counts
    guards_tenant: bool  # linking or creating one takes the tenant's creation guard
    has_parents: bool  # each attaches to the local record its CRM parent is linked to

    @property
    def model(self) -> type[Customer] | type[Contact]:
        """The local records' model."""
        ...

    def get(self, session: Session, local_id: int) -> Customer | Contact | None:
        """The local record, deleted or not."""
        ...

    def region(self, local: Customer | Contact) -> str | None:
        """The country the maps read a local record's values in, if any."""
        ...

    def write(
        self,
        page: PageContext,
        local: Any,
        writes: dict[str, Any],
        current: dict[str, Any],
    ) -> None:
        """Write a merge's local writes through the service layer."""
        ...

    def archive(self, page: PageContext, local_id: int) -> None:
        """The CRM record is gone: archive (or remove) the local record, never delete it."""
        ...

    def new(self, page: PageContext, record: RemoteRecord) -> str:
        """A live CRM record not linked yet: link it, hold it, or create its local record;
        the outcome's name."""
        ...


class PageContext:
    """One page's shared state; see the module docstring."""

    def __init__(
        self,
        session: Session,
        target: SyncTarget,
        object_type: str,
        object_map: ObjectMap,
        side: Side,
    ) -> None:
        self.session = session
        self.target = target
        self.object_type = object_type
        self.object_map = object_map
        self.side = side
        self.result = PageResult()
        # A pass's read, of a CRM that cannot refuse a stale write: a linked record the CRM
        # shows agreeing with a local change not pushed yet is left to the push (see
        # ``worker.sync.merging.merge_record``).
        self.defer_to_push = False
        self.links: dict[str, ExternalLink] = {}  # by external id, as loaded for the page
        self.parent_links: dict[str, ExternalLink] = {}  # a page of contacts: their parents'
        self.bulk_linked: set[str] = set()  # external ids linked in bulk: not in ``links``
        self.synced: list[str] = []  # external ids applied: their old failures are resolved
        # Records loaded for the page, held here: the session's identity map keeps only weak
        # references, so without this each merge would read its record again.
        self.held: list[Customer | Contact] = []
        self._duplicates: DuplicateIndex | None = None
        # (id of the record, region) -> (the record, kept so its id is not reused; its read)
        self._read: dict[
            tuple[int, str | None], tuple[RemoteRecord, dict[str, Any] | RemoteValueError]
        ] = {}

    @property
    def duplicates(self) -> DuplicateIndex:
        """The tenant's live customers, with those this page created on top (loaded when
        first asked for)."""
        if self._duplicates is None:
            self._duplicates = directory_index(self.session, self.target.tenant_id)
        return self._duplicates

    def local_values(self, record: RemoteRecord, region: str | None = None) -> dict[str, Any]:
        """The record's values as local fields (``mappings.to_local``), read once per page:
        the duplicate check's keys, taking a create aside and creating it each ask for them,
        and reading some thirty CRM values is most of a record's cost. A copy each time (a
        caller may fill in what is missing); a record that does not map raises its
        ``RemoteValueError`` every time."""
        key = (id(record), region)
        known = self._read.get(key)
        if known is not None:
            read = known[1]
        else:
            try:
                read = to_local(self.object_map, record.properties, region=region)
            except RemoteValueError as error:
                read = error
            self._read[key] = (record, read)
        if isinstance(read, RemoteValueError):
            raise RemoteValueError(read.problems, read.accepted)
        return dict(read)

    def left_to_push(self, link: ExternalLink) -> bool:
        """Whether a local change of the linked record waits in the outbox for this
        connection (not yet pushed, or pushed by a worker that died before it committed),
        and the push will write it: not while a read of the record failed (the push holds
        such a record until a read applies it)."""
        if self.session.scalar(
            select(SyncFailure.id)
            .where(
                SyncFailure.connection_id == self.target.connection_id,
                SyncFailure.direction == "inbound",
                SyncFailure.object_type == self.object_type,
                SyncFailure.external_id == link.external_id,
                SyncFailure.status.in_(UNRESOLVED),
            )
            .limit(1)
        ):
            return False
        cursor = self.session.scalar(outbox_cursor(self.target.connection_id))
        after = int(cursor.value.get("position", 0)) if cursor is not None else 0
        return (
            self.session.scalar(
                select(OutboxEntry.id)
                .where(
                    OutboxEntry.tenant_id == self.target.tenant_id,
                    OutboxEntry.id > after,
                    OutboxEntry.entity_type == link.local_type,
                    OutboxEntry.entity_id == link.local_id,
                    or_(
                        OutboxEntry.origin_connection_id.is_(None),
                        OutboxEntry.origin_connection_id != self.target.connection_id,
                    ),
                )
                .limit(1)
            )
            is not None
        )

    def count(self, outcome: str, amount: int = 1) -> None:
        """Customer outcomes by their name, contact outcomes as ``contacts_<name>``."""
        self.result.counts[self.side.count_prefix + outcome] += amount

    def links_for(self, object_type: str, external_ids: set[str]) -> dict[str, ExternalLink]:
        """The connection's links of these CRM records, by external id."""
        found: dict[str, ExternalLink] = {}
        ids = sorted(external_ids)
        for start in range(0, len(ids), CHUNK):
            rows = self.session.scalars(
                select(ExternalLink).where(
                    ExternalLink.connection_id == self.target.connection_id,
                    ExternalLink.object_type == object_type,
                    one_of(self.session, ExternalLink.external_id, ids[start : start + CHUNK]),
                )
            )
            found.update({link.external_id: link for link in rows})
        return found

    def new_link(self, record: RemoteRecord, local_id: int) -> ExternalLink:
        """A link for a record just created or matched; the caller adds it to the session."""
        link = ExternalLink(
            **link_columns(
                connection_id=self.target.connection_id,
                object_type=self.object_type,
                external_id=record.external_id,
                local_type=self.object_map.local_type,
                local_id=local_id,
            ),
            base={},
        )
        self.links[record.external_id] = link
        return link

    def fail(self, record: RemoteRecord, error: BaseException) -> None:
        """Count the record failed and keep a failure row that replays it."""
        self.count("failed")
        log.warning("%s %s failed: %s", self.object_type, record.external_id, error)
        if isinstance(error, RemoteValueError):
            error = Permanent(str(error), provider=self.target.provider, code="UNREADABLE_VALUE")
        elif isinstance(error, DirectoryError):
            error = Permanent(str(error), provider=self.target.provider, code=type(error).__name__)
        link = self.links.get(record.external_id)
        with self.session.begin_nested():
            record_failure(
                self.session,
                direction="inbound",
                error=error,
                payload=JobCall.of(
                    SYNC_RECORDS, self.target.connection_id, self.object_type, [record.external_id]
                ).payload(),
                connection_id=self.target.connection_id,
                object_type=self.object_type,
                external_id=record.external_id,
                local_id=link.local_id if link else None,
            )
