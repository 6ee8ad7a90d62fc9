"""Applying a page of CRM records to the directory.

For each record, in its own savepoint (a bad record fails alone; the rest of the page
commits); plain updates of linked records share one, flushed once, and go one by one only
when one of them fails:

- merged away in the CRM: its link moves to the surviving record (or is dropped when the
  survivor is linked already);
- deleted in the CRM: the local record is archived (never deleted) and unlinked;
- no newer than what was applied last: skipped (stale, or the overlap of an incremental
  window read twice; ``worker.sync.links.is_stale``);
- linked: three-way merge against the link's base (``worker.sync.merging``);
- not linked: matched or created as its side says (``worker.sync.sides``: a customer, or a
  contact of the customer its CRM company/account is linked to); plain creates are taken
  aside and written in bulk (``worker.sync.new_records``).

:class:`InboundPage` decides the order and the path of each record; what the page's work
shares is its context (``worker.sync.page``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from connectors.base import RemoteRecord
from connectors.errors import Permanent
from customers import service
from customers.db import one_of
from customers.errors import DirectoryError
from customers.models import Contact, Customer
from customers.sync_state import ExternalLink
from mappings import RemoteValueError
from worker.failures import has_open_failures, resolve_failures
from worker.sync.directory_index import page_keys
from worker.sync.links import ID_WRITTEN, is_stale
from worker.sync.merging import local_record, merge_record
from worker.sync.new_records import new_records
from worker.sync.page import CHUNK, PageContext, PageResult
from worker.sync.sides import page_context
from worker.sync.target import SyncTarget


def _only_changes(record: RemoteRecord) -> bool:
    """The record is neither merged nor deleted in the CRM: it changes its own values only."""
    return not (record.merged_into or record.archived or record.merged_ids)


def _merge_order(records: Sequence[RemoteRecord]) -> list[RemoteRecord]:
    """The page in the order merges need. A record merged away comes first, so its link
    moves to the record it went into before that one is applied (a Salesforce master that
    was not linked takes the link instead of making a customer of its own); unless a record
    of the page names it among the records merged into it (HubSpot: a merge makes a new
    record): then that record comes first and decides which link it keeps."""
    named = {old for record in records for old in record.merged_ids}

    def rank(record: RemoteRecord) -> int:
        if record.merged_into is None:
            return 1
        return 2 if record.external_id in named else 0

    return sorted(records, key=rank)


class InboundPage:
    """Applies one page of one object type, in the page's context."""

    def __init__(self, page: PageContext) -> None:
        self.page = page
        self.new_records = new_records(page)
        self.updates: list[RemoteRecord] = []  # plain updates, applied together

    # -- bulk loading ---------------------------------------------------------------------

    def _load_links(self, records: Sequence[RemoteRecord]) -> None:
        page = self.page
        ids = {r.external_id for r in records}
        ids |= {r.merged_into for r in records if r.merged_into}
        ids |= {merged for r in records for merged in r.merged_ids}
        page.links = page.links_for(page.object_type, ids)
        # One query for the linked local records, so each merge finds its record loaded.
        local_ids = [link.local_id for link in page.links.values()]
        model = page.side.model
        query = select(model)
        if page.side.has_parents:
            # A contact's merge reads phones in its customer's country: the page's customers
            # in one query, not one lazy load (and its three eager ones) per contact. Their
            # own contacts are left until asked for.
            query = query.options(selectinload(Contact.customer).lazyload(Customer.contacts))
        for start in range(0, len(local_ids), CHUNK):
            page.held.extend(
                page.session.scalars(
                    query.where(one_of(page.session, model.id, local_ids[start : start + CHUNK]))
                )
            )
        if page.side.has_parents:
            parents = {r.associations[0] for r in records if r.associations}
            page.parent_links = page.links_for(page.target.parent_type, parents)
        self.new_records.load()

    # -- the page ---------------------------------------------------------------------------

    def apply(self, records: Sequence[RemoteRecord]) -> PageResult:
        page = self.page
        records = _merge_order(records)
        self._load_links(records)
        if page.side.guards_tenant and any(self._may_link(record) for record in records):
            # Before any row is written: the guard's lock order (``service.guard_tenant``).
            # Held until the page commits, so the duplicate index this page checks against
            # is caught up with every customer committed by anyone before it.
            service.guard_tenant(page.session, page.target.tenant_id)
            new = [record for record in records if self._may_link(record)]
            page.duplicates.prefetch(page_keys(page.local_values, new))
        for record in records:
            page.count("read")
            self._load_linked_in_bulk(record)
            if self._stale(record):
                page.count("stale")  # nothing to write: no savepoint either
                # Applied already (by another job): a failure this record left is settled.
                page.synced.append(record.external_id)
            elif self._plain_update(record):
                self.updates.append(record)
            elif not self.new_records.take(record):
                self._flush_updates()
                if self.new_records.depends:
                    self._flush_new()
                self.apply_one(record)
        self._flush_updates()
        self._flush_new()
        if page.synced and has_open_failures(page.session, page.target.connection_id):
            resolve_failures(
                page.session,
                connection_id=page.target.connection_id,
                direction="inbound",
                object_type=page.object_type,
                external_ids=page.synced,
            )
        return page.result

    def _plain_update(self, record: RemoteRecord) -> bool:
        """A linked record that only changes (no merge, no delete): it writes its own local
        record and link and nothing another record of the page reads."""
        return record.external_id in self.page.links and _only_changes(record)

    def _flush_updates(self) -> None:
        """Apply the plain updates gathered, in one savepoint flushed once at its end: a
        page of edits writes its customers, outbox rows and links in a few batched
        statements, not five round trips each. If any of them fails, the savepoint is rolled
        back and they go one by one, each in its own, so a bad record fails alone as
        ever (and a row changed under the batch is merged as it now is)."""
        group, self.updates = self.updates, []
        if len(group) < 2:
            for record in group:
                self.apply_one(record)
            return
        page = self.page
        counts, synced, needs_push = (
            Counter(page.result.counts),
            len(page.synced),
            page.result.needs_push,
        )
        try:
            with service.unit_savepoint(page.session, flush=False):
                outcomes = [self._apply_one(record) for record in group]
                page.session.flush()
        except (DirectoryError, Permanent, RemoteValueError, IntegrityError, StaleDataError):
            page.result.counts, page.result.needs_push = counts, needs_push
            del page.synced[synced:]
            for record in group:
                self.apply_one(record)
            return
        for outcome in outcomes:
            page.count(outcome)

    def _flush_new(self) -> None:
        """Write the records taken aside; any it hands back go one by one."""
        for record in self.new_records.flush():
            self.apply_one(record)

    def _may_link(self, record: RemoteRecord) -> bool:
        """The record may create a customer or link one (it is live and not linked)."""
        return not (record.archived or record.merged_into or record.external_id in self.page.links)

    def apply_one(self, record: RemoteRecord) -> None:
        """Apply one record in its own savepoint: a bad record fails alone. The directory's
        writes for it share that savepoint (``service.unit_savepoint``)."""
        try:
            with service.unit_savepoint(self.page.session):
                outcome = self._apply_one(record)
            self.page.count(outcome)
        except (DirectoryError, Permanent, RemoteValueError) as error:
            self.page.fail(record, error)

    def _load_linked_in_bulk(self, record: RemoteRecord) -> None:
        """A record named again in the same page after its link was written in bulk."""
        named = {record.external_id, *record.merged_ids} & self.page.bulk_linked
        if named:
            self.page.links.update(self.page.links_for(self.page.object_type, named))

    def _stale(self, record: RemoteRecord) -> bool:
        """Stale before anything else is looked at: a plain update no newer than its link."""
        link = self.page.links.get(record.external_id)
        return link is not None and _only_changes(record) and is_stale(link, record)

    def _apply_one(self, record: RemoteRecord) -> str:
        if record.merged_into:
            return self._merged_away(record)
        link = self.page.links.get(record.external_id)
        if link is None and record.merged_ids:
            link = self._adopt_merged(record)
        if link is not None:
            self._retire_merged(record, link)
        if link is not None and self._deleted_locally(link):
            return self._ignored(record, link)
        if record.archived:
            return self._deleted(record, link)
        if link is not None:
            if is_stale(link, record):
                return "stale"
            return merge_record(self.page, record, link)
        return self.page.side.new(self.page, record)

    def _deleted_locally(self, link: ExternalLink) -> bool:
        local = local_record(self.page, link)
        return local.deleted_at is not None

    def _ignored(self, record: RemoteRecord, link: ExternalLink) -> str:
        """The linked local record was deleted locally: the link stays (it remembers that
        this CRM record is that business, so no pass creates it again) and the CRM record's
        changes are ignored; deleting it in the CRM is a person's call there. Once it is
        deleted or merged away in the CRM, the link goes too, and the customer can be
        purged."""
        if record.archived:
            self.page.session.delete(link)
            self.page.links.pop(record.external_id, None)
            self.page.session.flush()
        else:
            link.remote_modified_at = record.modified_at
            self.page.synced.append(record.external_id)  # nothing to retry: settled
        return "ignored_deleted"

    # -- merges and deletes -------------------------------------------------------------------

    def _merged_away(self, record: RemoteRecord) -> str:
        loser = self.page.links.pop(record.external_id, None)
        if loser is None:
            return "unchanged"
        target = record.merged_into or ""
        if target not in self.page.links and target in self.page.bulk_linked:  # linked in bulk
            self.page.links.update(self.page.links_for(self.page.object_type, {target}))
        survivor = self.page.links.get(target)
        if survivor is None:
            self._move(loser, record.merged_into or loser.external_id)
            self._write_id(loser)
        else:
            self._retire(loser)
        self.page.session.flush()
        return "merged"

    def _move(self, link: ExternalLink, external_id: str) -> None:
        """The link follows its CRM record into a merge. The record it points at now is
        not read yet and was never written by us: its time is unknown, so a push reads it
        before writing (``ExternalLink.read_as_of``)."""
        link.external_id = external_id
        link.remote_modified_at = None
        link.remote_written_at = None
        self.page.links[external_id] = link

    def _write_id(self, link: ExternalLink) -> None:
        """The link moved to a record that may not carry our id (HubSpot makes a new record
        of a merge): the push writes it there."""
        service.write_outbox(
            self.page.session,
            tenant_id=self.page.target.tenant_id,
            entity_type=link.local_type,
            entity_id=link.local_id,
            operation="update",
        )
        link.base = {**(link.base or {}), ID_WRITTEN: False}

    def _retire_merged(self, record: RemoteRecord, link: ExternalLink) -> None:
        """A linked survivor names records merged into it that were linked too."""
        for merged_id in record.merged_ids:
            loser = self.page.links.get(merged_id)
            if loser is not None and loser is not link:
                self.page.links.pop(merged_id)
                self._retire(loser)
                self.page.count("merged")

    def _retire(self, loser: ExternalLink) -> None:
        """Both merged CRM records were linked: the CRM keeps one record, the directory
        keeps both customers (history: invoices point at them) and archives the loser's, as
        a CRM delete would, so that no pass creates it in the CRM again. Left live and
        unlinked, the next reconcile pushed it back as a new CRM record."""
        self._archive_local(loser)
        self.page.session.delete(loser)
        self.page.session.flush()

    def _adopt_merged(self, record: RemoteRecord) -> ExternalLink | None:
        """A survivor that is not linked, but records merged into it were (HubSpot: every
        merge makes a new record). It keeps the link of the customer whose id it carries,
        which is the primary's (a merge keeps the primary's values), else the first named;
        ``_retire_merged`` archives the others' customers."""
        linked = [self.page.links[i] for i in record.merged_ids if i in self.page.links]
        if not linked:
            return None
        link = next((lk for lk in linked if str(lk.local_id) == record.local_id), linked[0])
        self.page.links.pop(link.external_id)
        self._move(link, record.external_id)
        if record.local_id != str(link.local_id):
            self._write_id(link)
        self.page.session.flush()
        self.page.count("merged")
        return link

    def _deleted(self, record: RemoteRecord, link: ExternalLink | None) -> str:
        if link is None:
            return "unchanged"
        self._archive_local(link)
        self.page.session.delete(link)
        self.page.links.pop(record.external_id, None)
        self.page.session.flush()
        return "archived"

    def _archive_local(self, link: ExternalLink) -> None:
        """Archive the linked customer (or remove the linked contact): never delete it."""
        if self._deleted_locally(link):
            return  # deleted locally already: nothing left to archive
        self.page.side.archive(self.page, link.local_id)


def apply_page(
    session: Session,
    target: SyncTarget,
    object_type: str,
    records: Sequence[RemoteRecord],
    *,
    defer_to_push: bool = False,
) -> PageResult:
    """Apply one page of CRM records of one type; the caller owns the transaction. With
    ``defer_to_push`` (a pass's read of a CRM that cannot refuse a stale write), a linked
    record the CRM shows agreeing with a local change still to be pushed is left to the
    push (``PageContext.defer_to_push``)."""
    page = page_context(session, target, object_type)
    page.defer_to_push = defer_to_push
    return InboundPage(page).apply(records)
