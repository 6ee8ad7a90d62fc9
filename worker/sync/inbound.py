"""Applying a page of CRM records to the directory.

For each record, in its own savepoint (a bad record fails alone; the rest of the page
commits):

- merged away in the CRM: its link moves to the surviving record (or is dropped when the
  survivor is linked already);
- deleted in the CRM: the local record is archived (never deleted) and unlinked;
- no newer than what was applied last: skipped (stale, or the overlap of an incremental
  window read twice);
- linked: three-way merge against the link's base; local writes go through the service
  layer (tagged with the connection, so they are not pushed back as new changes), conflicts
  are recorded, and values local won are left for the push;
- not linked: a record that carries our own id is ours (a create whose answer was lost);
  otherwise a sure duplicate links, a likely one is held for review, and no match creates
  the customer (when the connection allows it) and asks for its categorization.

Contacts attach to the customer their CRM company/account is linked to.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import RemoteRecord
from connectors.errors import Permanent
from customers import contacts as contact_service
from customers import service
from customers.custom_properties import CustomChanges
from customers.duplicates import DuplicateIndex
from customers.errors import DirectoryError
from customers.models import Contact, Customer
from customers.sync_state import DuplicateReview, ExternalLink, SyncConflict
from customers.types import as_id, utcnow
from mappings import (
    MergeResult,
    ObjectMap,
    RemoteValueError,
    merge,
    read_remote,
    snapshot,
    to_local,
)
from mappings.engine import local_changes, new_customer_values
from mappings.spec import CUSTOM_PREFIX
from worker.failures import has_open_failures, record_failure, resolve_failures
from worker.jobs.enqueue import SYNC_RECORDS
from worker.jobs.payload import JobCall
from worker.sync.directory_index import directory_index, page_keys
from worker.sync.new_records import ID_WRITTEN, NewRecords, contact_first_name
from worker.sync.target import SyncTarget

log = logging.getLogger(__name__)


@dataclass
class PageResult:
    counts: Counter[str] = field(default_factory=Counter)
    created_customers: list[int] = field(default_factory=list)
    needs_push: bool = False


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


def columns(record: Customer | Contact) -> dict[str, Any]:
    """A local record's values as the maps read them: its columns, and a customer's tags
    (a table of their own)."""
    values = {column.key: getattr(record, column.key) for column in type(record).__table__.columns}
    if isinstance(record, Customer):
        values["tags"] = record.tags
    return values


def tag_changes(current: list[str], wanted: Any) -> tuple[list[str], list[str]]:
    """The tags to add and to remove to go from ``current`` to ``wanted``."""
    target = set(wanted or [])
    return sorted(target - set(current)), sorted(set(current) - target)


class InboundPage:
    """Applies one page of one object type; holds what it loaded in bulk for the page."""

    def __init__(self, session: Session, target: SyncTarget, object_type: str) -> None:
        self.session = session
        self.target = target
        self.object_type = object_type
        self.object_map: ObjectMap = target.map_for(object_type)
        self.is_parent = self.object_map.local_type == "customer"
        self.result = PageResult()
        self.links: dict[str, ExternalLink] = {}
        self._duplicates: DuplicateIndex | None = None
        self.parent_links: dict[str, ExternalLink] = {}
        self.synced: list[str] = []  # external ids applied: their old failures are resolved
        self.new_records = NewRecords(self)
        # Records loaded for the page, held here: the session's identity map keeps only weak
        # references, so without this each merge would read its record again.
        self.held: list[Customer | Contact] = []

    # -- bulk loading ---------------------------------------------------------------------

    def _load_links(self, records: Sequence[RemoteRecord]) -> None:
        ids = {r.external_id for r in records}
        ids |= {r.merged_into for r in records if r.merged_into}
        ids |= {merged for r in records for merged in r.merged_ids}
        self.links = self.links_for(self.object_type, ids)
        # One query for the linked local records, so each merge finds its record loaded.
        local_ids = [link.local_id for link in self.links.values()]
        model = Customer if self.is_parent else Contact
        for start in range(0, len(local_ids), 500):
            self.held.extend(
                self.session.scalars(
                    select(model).where(model.id.in_(local_ids[start : start + 500]))
                )
            )
        if not self.is_parent:
            parents = {r.associations[0] for r in records if r.associations}
            self.parent_links = self.links_for(self.target.parent_type, parents)
            self.new_records.load_parents({link.local_id for link in self.parent_links.values()})

    def links_for(self, object_type: str, external_ids: set[str]) -> dict[str, ExternalLink]:
        found: dict[str, ExternalLink] = {}
        ids = sorted(external_ids)
        for start in range(0, len(ids), 500):
            rows = self.session.scalars(
                select(ExternalLink).where(
                    ExternalLink.connection_id == self.target.connection_id,
                    ExternalLink.object_type == object_type,
                    ExternalLink.external_id.in_(ids[start : start + 500]),
                )
            )
            found.update({link.external_id: link for link in rows})
        return found

    @property
    def duplicates(self) -> DuplicateIndex:
        if self._duplicates is None:
            self._duplicates = directory_index(self.session, self.target.tenant_id)
        return self._duplicates

    # -- the page ---------------------------------------------------------------------------

    def apply(self, records: Sequence[RemoteRecord]) -> PageResult:
        records = _merge_order(records)
        self._load_links(records)
        if self.is_parent and any(self._may_link(record) for record in records):
            # Before any row is written: the guard's lock order (``service.guard_tenant``).
            # Held until the page commits, so the duplicate index this page checks against
            # is caught up with every customer committed by anyone before it.
            service.guard_tenant(self.session, self.target.tenant_id)
            new = [record for record in records if self._may_link(record)]
            self.duplicates.prefetch(page_keys(self.object_map, new))
        for record in records:
            self.count("read")
            self._load_linked_in_bulk(record)
            if self._stale(record):
                self.count("stale")  # nothing to write: no savepoint either
                # Applied already (by another job): a failure this record left is settled.
                self.synced.append(record.external_id)
            elif not self.new_records.take(record):
                if self.new_records.depends:
                    self.new_records.flush()
                self.apply_one(record)
        self.new_records.flush()
        if self.synced and has_open_failures(self.session, self.target.connection_id):
            resolve_failures(
                self.session,
                connection_id=self.target.connection_id,
                direction="inbound",
                object_type=self.object_type,
                external_ids=self.synced,
            )
        return self.result

    def _may_link(self, record: RemoteRecord) -> bool:
        """The record may create a customer or link one (it is live and not linked)."""
        return not (record.archived or record.merged_into or record.external_id in self.links)

    def apply_one(self, record: RemoteRecord) -> None:
        """Apply one record in its own savepoint: a bad record fails alone."""
        try:
            with self.session.begin_nested():
                outcome = self._apply_one(record)
            self.count(outcome)
        except (DirectoryError, Permanent, RemoteValueError) as error:
            self.fail(record, error)

    def _load_linked_in_bulk(self, record: RemoteRecord) -> None:
        """A record named again in the same page after its link was written in bulk."""
        named = {record.external_id, *record.merged_ids} & self.new_records.linked
        if named:
            self.links.update(self.links_for(self.object_type, named))

    def _stale(self, record: RemoteRecord) -> bool:
        link = self.links.get(record.external_id)
        return (
            link is not None
            and not record.merged_into
            and not record.archived
            and not record.merged_ids
            and link.remote_modified_at is not None
            and record.modified_at <= link.remote_modified_at
        )

    def count(self, outcome: str, amount: int = 1) -> None:
        """Customer outcomes by their name, contact outcomes as ``contacts_<name>``."""
        self.result.counts[outcome if self.is_parent else f"contacts_{outcome}"] += amount

    def fail(self, record: RemoteRecord, error: BaseException) -> None:
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

    def _apply_one(self, record: RemoteRecord) -> str:
        if record.merged_into:
            return self._merged_away(record)
        link = self.links.get(record.external_id)
        if link is None and record.merged_ids:
            link = self._adopt_merged(record)
        if link is not None:
            self._retire_merged(record, link)
        if link is not None and self._deleted_locally(link):
            return self._ignored(record, link)
        if record.archived:
            return self._deleted(record, link)
        if link is not None:
            if (
                link.remote_modified_at is not None
                and record.modified_at <= link.remote_modified_at
            ):
                return "stale"
            return self.merge_record(record, link)
        return self._new(record)

    def _deleted_locally(self, link: ExternalLink) -> bool:
        local = self._local(link)
        return local.deleted_at is not None

    def _ignored(self, record: RemoteRecord, link: ExternalLink) -> str:
        """The linked local record was deleted locally: the link stays (it remembers that
        this CRM record is that business, so no pass creates it again) and the CRM record's
        changes are ignored; deleting it in the CRM is a person's call there. Once it is
        deleted or merged away in the CRM, the link goes too, and the customer can be
        purged."""
        if record.archived:
            self.session.delete(link)
            self.links.pop(record.external_id, None)
            self.session.flush()
        else:
            link.remote_modified_at = record.modified_at
            self.synced.append(record.external_id)  # nothing to retry: settled
        return "ignored_deleted"

    # -- merges and deletes -------------------------------------------------------------------

    def _merged_away(self, record: RemoteRecord) -> str:
        loser = self.links.pop(record.external_id, None)
        if loser is None:
            return "unchanged"
        target = record.merged_into or ""
        if target not in self.links and target in self.new_records.linked:
            self.links.update(self.links_for(self.object_type, {target}))  # linked in bulk
        survivor = self.links.get(target)
        if survivor is None:
            self._move(loser, record.merged_into or loser.external_id)
            self._write_id(loser)
        else:
            self._retire(loser)
        self.session.flush()
        return "merged"

    def _move(self, link: ExternalLink, external_id: str) -> None:
        """The link follows its CRM record into a merge. The record it points at now is
        not read yet and was never written by us: its time is unknown, so a push reads it
        before writing (``ExternalLink.read_as_of``)."""
        link.external_id = external_id
        link.remote_modified_at = None
        link.remote_written_at = None
        self.links[external_id] = link

    def _write_id(self, link: ExternalLink) -> None:
        """The link moved to a record that may not carry our id (HubSpot makes a new record
        of a merge): the push writes it there."""
        service.write_outbox(
            self.session,
            tenant_id=self.target.tenant_id,
            entity_type=link.local_type,
            entity_id=link.local_id,
            operation="update",
        )
        link.base = {**(link.base or {}), ID_WRITTEN: False}

    def _retire_merged(self, record: RemoteRecord, link: ExternalLink) -> None:
        """A linked survivor names records merged into it that were linked too."""
        for merged_id in record.merged_ids:
            loser = self.links.get(merged_id)
            if loser is not None and loser is not link:
                self.links.pop(merged_id)
                self._retire(loser)
                self.count("merged")

    def _retire(self, loser: ExternalLink) -> None:
        """Both merged CRM records were linked: the CRM keeps one record, the directory
        keeps both customers (history: invoices point at them) and archives the loser's, as
        a CRM delete would, so that no pass creates it in the CRM again. Left live and
        unlinked, the next reconcile pushed it back as a new CRM record."""
        self._archive_local(loser)
        self.session.delete(loser)
        self.session.flush()

    def _adopt_merged(self, record: RemoteRecord) -> ExternalLink | None:
        """A survivor that is not linked, but records merged into it were (HubSpot: every
        merge makes a new record). It keeps the link of the customer whose id it carries,
        which is the primary's (a merge keeps the primary's values), else the first named;
        ``_retire_merged`` archives the others' customers."""
        linked = [self.links[i] for i in record.merged_ids if i in self.links]
        if not linked:
            return None
        link = next((lk for lk in linked if str(lk.local_id) == record.local_id), linked[0])
        self.links.pop(link.external_id)
        self._move(link, record.external_id)
        if record.local_id != str(link.local_id):
            self._write_id(link)
        self.session.flush()
        self.count("merged")
        return link

    def _deleted(self, record: RemoteRecord, link: ExternalLink | None) -> str:
        if link is None:
            return "unchanged"
        self._archive_local(link)
        self.session.delete(link)
        self.links.pop(record.external_id, None)
        self.session.flush()
        return "archived"

    def _archive_local(self, link: ExternalLink) -> None:
        """Archive the linked customer (or remove the linked contact): never delete it."""
        if self._deleted_locally(link):
            return  # deleted locally already: nothing left to archive
        if self.is_parent:
            service.archive_customer(
                self.session,
                self.target.tenant_id,
                link.local_id,
                origin_connection_id=self.target.connection_id,
            )
        else:
            contact_service.remove_contact(
                self.session,
                self.target.tenant_id,
                link.local_id,
                origin_connection_id=self.target.connection_id,
            )

    # -- linked records -------------------------------------------------------------------------

    def _local(self, link: ExternalLink) -> Customer | Contact:
        local: Customer | Contact | None = (
            self.session.get(Customer, link.local_id)
            if self.is_parent
            else self.session.get(Contact, link.local_id)
        )
        if local is None:
            raise DirectoryError(
                f"{link.local_type} {link.local_id} linked to {link.external_id} is gone"
            )
        return local

    def _region(self, local: Customer | Contact) -> str | None:
        return local.customer.billing_country if isinstance(local, Contact) else None

    def merge_record(self, record: RemoteRecord, link: ExternalLink) -> str:
        local = self._local(link)
        current = columns(local)
        result = merge(
            self.object_map,
            base=link.base or {},
            local=current,
            remote=record.properties,
            local_changed_at=local.updated_at,
            remote_modified_at=record.modified_at,
            region=self._region(local),
        )
        if result.problems:
            self.fail(record, RemoteValueError(result.problems, {}))
        changed = self._write_local(local, result, current)
        self._record_conflicts(record, link, result)
        self._store_base(link, record, result, current)
        if result.remote_writes:
            self.result.needs_push = True
        if changed:
            return "updated"
        return "echo" if not result.conflicts else "unchanged"

    def _write_local(
        self, local: Customer | Contact, result: MergeResult, current: dict[str, Any]
    ) -> bool:
        if not result.local_writes:
            return False
        if isinstance(local, Customer):
            writes, custom = _custom_writes(result.local_writes)
            archived = writes.pop("archived", None)
            add_tags, remove_tags = (
                tag_changes(current["tags"], writes.pop("tags")) if "tags" in writes else ([], [])
            )
            changes = local_changes(self.object_map, writes, current)
            service.update_customer(
                self.session,
                self.target.tenant_id,
                local.id,
                changes,
                custom=custom,
                add_tags=add_tags,
                remove_tags=remove_tags,
                origin_connection_id=self.target.connection_id,
            )
            if archived is not None:
                service.set_archived(
                    self.session,
                    self.target.tenant_id,
                    local.id,
                    archived=bool(archived),
                    origin_connection_id=self.target.connection_id,
                )
        else:
            changes = local_changes(self.object_map, result.local_writes, current)
            contact_service.update_contact(
                self.session,
                self.target.tenant_id,
                local.id,
                changes,
                origin_connection_id=self.target.connection_id,
            )
        return True

    def _record_conflicts(
        self, record: RemoteRecord, link: ExternalLink, result: MergeResult
    ) -> None:
        for conflict in result.conflicts:
            self.count("conflicts")
            self.session.add(
                SyncConflict(
                    connection_id=self.target.connection_id,
                    object_type=self.object_type,
                    external_id=record.external_id,
                    local_id=link.local_id,
                    field=conflict.field,
                    base_value=conflict.base,
                    local_value=conflict.local,
                    remote_value=conflict.remote,
                    resolved_value=conflict.resolved,
                    rule=f"{conflict.rule} ({conflict.winner.value} won)",
                )
            )

    def _store_base(
        self, link: ExternalLink, record: RemoteRecord, result: MergeResult, current: dict[str, Any]
    ) -> None:
        base = dict(result.base)
        if result.remote_writes:
            # Local won these entries but the CRM does not hold them yet: keep the CRM's
            # value as the base, so the push sees local != base and sends them.
            read, _ = read_remote(self.object_map, record.properties, region=None)
            for entry in self.object_map.synced:
                if entry.remote in result.remote_writes and entry.key in read:
                    base.update(zip(entry.local, read[entry.key], strict=True))
            service.write_outbox(
                self.session,
                tenant_id=self.target.tenant_id,
                entity_type=link.local_type,
                entity_id=link.local_id,
                operation="update",
                fields=sorted(result.remote_writes),
            )
        base[ID_WRITTEN] = record.local_id == str(link.local_id)
        if not base[ID_WRITTEN]:
            self.result.needs_push = True
        link.base = base
        link.fingerprint = result.fingerprint
        link.remote_modified_at = record.modified_at
        link.last_synced_at = utcnow()
        self.synced.append(record.external_id)

    # -- records we have not seen ---------------------------------------------------------------

    def _link(self, record: RemoteRecord, local_id: int) -> ExternalLink:
        link = self.new_link(record, local_id)
        self.session.add(link)
        self.session.flush()
        return link

    def new_link(self, record: RemoteRecord, local_id: int) -> ExternalLink:
        """A link for a record just created or matched; the caller adds it to the session."""
        link = ExternalLink(
            connection_id=self.target.connection_id,
            object_type=self.object_type,
            external_id=record.external_id,
            local_type=self.object_map.local_type,
            local_id=local_id,
            base={},
        )
        self.links[record.external_id] = link
        return link

    def _linked_locally(self, local_id: int) -> bool:
        return (
            self.session.scalar(
                select(ExternalLink.id).where(
                    ExternalLink.connection_id == self.target.connection_id,
                    ExternalLink.object_type == self.object_type,
                    ExternalLink.local_id == local_id,
                )
            )
            is not None
        )

    def _new(self, record: RemoteRecord) -> str:
        if self.is_parent:
            return self._new_customer(record)
        return self._new_contact(record)

    def _new_customer(self, record: RemoteRecord) -> str:
        values = to_local(self.object_map, record.properties)
        own = self._own_record(record, Customer)
        if own is not None:
            self.merge_record(record, self._link(record, own))
            return "linked"
        check = self.duplicates.check(
            name=values.get("name"),
            email=values.get("email"),
            domain=values.get("domain"),
            tax_id=values.get("tax_id"),
        )
        sure = check.sure
        if sure is not None:
            refused = self._not_matchable(sure.customer_id)
            if refused is None:
                self.merge_record(record, self._link(record, sure.customer_id))
                return "linked"
            sure = replace(sure, reasons=(*sure.reasons, refused))
        if check.found:
            candidates = [sure] if sure else []
            candidates += list(check.likely)
            self._hold(record, values, [c for c in candidates if c is not None])
            return "held"
        if not self.target.auto_create:
            self._hold(record, values, [])
            return "held"
        fields, tags = new_customer_values(values)
        customer = service.create_customer(
            self.session,
            self.target.tenant_id,
            fields,
            origin_connection_id=self.target.connection_id,
            tags=tags,
        )
        if values.get("archived"):  # archived in the CRM: so is the new customer
            service.set_archived(
                self.session,
                self.target.tenant_id,
                customer.id,
                archived=True,
                origin_connection_id=self.target.connection_id,
            )
        self.duplicates.add(
            customer.id,
            name=customer.name,
            email=customer.email,
            domain=customer.domain,
            tax_id=customer.tax_id,
        )
        self.merge_record(record, self._link(record, customer.id))
        self.result.created_customers.append(customer.id)
        return "created"

    def _not_matchable(self, customer_id: int) -> str | None:
        """Why a sure duplicate may not be linked to this record without a person, if so.

        When the customer is linked to another record of this connection, this one is a
        duplicate inside the CRM: held for review and shown as one. When it is archived, a
        CRM delete or merge archived it (or a person did): linking it again by matching
        would bring back a business the CRM removed, so only a person decides that
        (``reviews link``)."""
        customer = self.session.get(Customer, customer_id)
        if customer is None or customer.deleted_at is not None:
            return "deleted"
        if customer.archived_at is not None:
            return "archived: only a person links it again"
        linked = self.session.scalar(
            select(ExternalLink.external_id).where(
                ExternalLink.connection_id == self.target.connection_id,
                ExternalLink.object_type == self.object_type,
                ExternalLink.local_id == customer_id,
            )
        )
        if linked is not None:
            return f"linked to {self.object_type} {linked}: a duplicate inside the CRM"
        return None

    def _own_record(
        self, record: RemoteRecord, model: type[Customer] | type[Contact]
    ) -> int | None:
        """Our id in the CRM record names a live local record not linked yet: ours."""
        # The CRM holds this id in a field a person can edit: anything but one of our ids
        # ('²', twenty digits) names no record here, and must not fail the page.
        local_id = as_id(record.local_id)
        if local_id is None:
            return None
        local: Customer | Contact | None = (
            self.session.get(Customer, local_id)
            if model is Customer
            else self.session.get(Contact, local_id)
        )
        if (
            local is None
            or local.tenant_id != self.target.tenant_id
            or local.deleted_at is not None
        ):
            return None
        return None if self._linked_locally(local.id) else local.id

    def _hold(self, record: RemoteRecord, values: dict[str, Any], candidates: list[Any]) -> None:
        review = self.session.scalar(
            select(DuplicateReview).where(
                DuplicateReview.connection_id == self.target.connection_id,
                DuplicateReview.object_type == self.object_type,
                DuplicateReview.external_id == record.external_id,
            )
        )
        if review is None:
            review = DuplicateReview(
                tenant_id=self.target.tenant_id,
                connection_id=self.target.connection_id,
                object_type=self.object_type,
                external_id=record.external_id,
            )
            self.session.add(review)
        review.candidates = [
            {"customer_id": c.customer_id, "score": c.score, "reasons": list(c.reasons)}
            for c in candidates
        ]
        review.values = {
            k: (
                str(v)
                if v is not None and not isinstance(v, str | int | float | bool | dict | list)
                else v
            )
            for k, v in values.items()
        }
        review.status = "open"
        self.session.flush()

    def _new_contact(self, record: RemoteRecord) -> str:
        parent = self.parent_links.get(record.associations[0]) if record.associations else None
        if parent is None:
            return "orphan"  # its company is not linked (yet): a later pass attaches it
        customer = self.session.get(Customer, parent.local_id)
        if customer is None or customer.deleted_at is not None:
            return "orphan"
        own = self._own_record(record, Contact)
        if own is None:
            values = to_local(self.object_map, record.properties, region=customer.billing_country)
            email = values.get("email")
            match = next(
                (
                    c
                    for c in customer.contacts
                    if email
                    and c.email == email
                    and c.deleted_at is None
                    and not self._linked_locally(c.id)
                ),
                None,
            )
            if match is None:
                contact_first_name(values)
                contact = contact_service.add_contact(
                    self.session,
                    self.target.tenant_id,
                    customer.id,
                    values,
                    origin_connection_id=self.target.connection_id,
                )
                self.merge_record(record, self._link(record, contact.id))
                return "created"
            own = match.id
        self.merge_record(record, self._link(record, own))
        return "linked"


def _custom_writes(writes: Mapping[str, Any]) -> tuple[dict[str, Any], CustomChanges]:
    """Split a merge's local writes into column writes and key-by-key custom property
    changes: a CRM value for one custom key changes that key only, applied by the service
    to the stored properties, so it never erases the keys the CRM does not send. A blank
    removes the key (nothing to remove is no change)."""
    custom = {
        name.removeprefix(CUSTOM_PREFIX): value
        for name, value in writes.items()
        if name.startswith(CUSTOM_PREFIX)
    }
    column_writes = {
        name: value for name, value in writes.items() if not name.startswith(CUSTOM_PREFIX)
    }
    changes = CustomChanges(
        set={key: value for key, value in custom.items() if value is not None},
        unset=[key for key, value in custom.items() if value is None],
        missing_ok=True,
    )
    return column_writes, changes


def apply_page(
    session: Session, target: SyncTarget, object_type: str, records: Sequence[RemoteRecord]
) -> PageResult:
    """Apply one page of CRM records of one type; the caller owns the transaction."""
    return InboundPage(session, target, object_type).apply(records)


def local_snapshot(object_map: ObjectMap, local: Customer | Contact) -> dict[str, Any]:
    return snapshot(object_map, columns(local))
