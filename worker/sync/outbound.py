"""Pushing local changes to one connection's CRM.

The outbox holds every local change; each connection keeps its own position in it (a
``sync_cursors`` row of kind ``outbox``), so one change reaches every CRM of the tenant.
A push reads a batch of outbox rows past the position, coalesces them per record (five
quick edits make one write), and for each record writes only what differs from the link's
base: a value the CRM already has is never written, and a change that came from this CRM
has nothing left to push. Records without a link are created by upsert on our own id, so a
retried create cannot make a second CRM record.

The position moves past a batch only when every record in it was accepted by the CRM or
recorded as a failure (a transient error for the whole batch leaves it, to be retried).
Local soft deletes are not pushed: deleting in the sales team's CRM is a person's call. An
archived customer without a link is not created in the CRM (a CRM delete leaves exactly
that); a linked one keeps syncing its fields.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector, RemoteRecord, WriteRequest, WriteResult
from connectors.errors import Changed, NotFound
from customers import service
from customers.db import transaction
from customers.models import Contact, Customer, OutboxEntry
from customers.sync_state import ExternalLink, SyncCursor, SyncFailure, outbox_cursor
from customers.types import utcnow
from mappings import ObjectMap, fingerprint, outbound_changes, to_remote
from worker.failures import UNRESOLVED, has_open_failures, record_failure, resolve_failures
from worker.jobs import shutdown
from worker.jobs.enqueue import PUSH_RECORDS
from worker.jobs.payload import JobCall
from worker.locks import lock_connection
from worker.sync.inbound import apply_page
from worker.sync.links import ID_WRITTEN
from worker.sync.merging import columns
from worker.sync.target import SyncTarget

log = logging.getLogger(__name__)

OUTBOX_BATCH = 1000
# Rounds of read, merge and write for a record the CRM keeps refusing because it changed
# since we read it (someone editing it right now); then it is a failure, retried later.
WRITE_ATTEMPTS = 3
# How long a missing outbox id is waited for (its transaction may not have committed yet)
# before it counts as the id of a rolled-back transaction. Longer than any transaction that
# writes outbox rows (a page of a sync).
OUTBOX_GAP_WAIT_S = 300.0
# The code of an inbound failure that a concurrent local write caused (``customers.errors``).
STALE_VERSION = "StaleVersion"


class OutboxPosition:
    """The connection's position in the outbox."""

    def __init__(self, session: Session, connection_id: int) -> None:
        row: SyncCursor | None = session.scalar(outbox_cursor(connection_id))
        if row is None:
            row = SyncCursor(connection_id=connection_id, object_type="*", kind="outbox")
            row.value = {"position": 0}
            session.add(row)
        self.row = row

    @property
    def value(self) -> int:
        return int(self.row.value.get("position", 0))

    def move_to(self, position: int) -> None:
        self.row.value = {"position": position}
        self.row.updated_at = utcnow()


def outbox_positions(session: Session) -> dict[int, int]:
    """Connection id -> its position in the outbox, for the connections that have one (one
    without a position starts at 0 on its first push, see ``OutboxPosition``)."""
    rows = session.execute(
        select(SyncCursor.connection_id, SyncCursor.value).where(
            SyncCursor.object_type == "*", SyncCursor.kind == "outbox"
        )
    )
    return {connection_id: int((value or {}).get("position", 0)) for connection_id, value in rows}


def start_at_end(session: Session, connection_id: int, tenant_id: int) -> None:
    """A new connection starts after the outbox's history; a reconcile pushes what it lacks."""
    newest = session.scalar(
        select(func.max(OutboxEntry.id)).where(OutboxEntry.tenant_id == tenant_id)
    )
    OutboxPosition(session, connection_id).move_to(newest or 0)


def settled_up_to(position: int, rows: Sequence[Any], now: datetime) -> int:
    """The highest id the position may move to after pushing ``rows`` (ids above
    ``position``, in order, with their ``created_at``).

    Ids are handed out when a row is inserted, but a row is seen only once its transaction
    commits, so a missing id can be a change that is still on its way (a long page of a
    sync, a slow local write) while later ids are already visible. Moving past it would
    lose that change for good. A missing id is waited for while the row after it is younger
    than ``OUTBOX_GAP_WAIT_S``; after that it counts as rolled back (ids of failed
    transactions are never used).
    """
    settled = position
    for row in rows:
        if row.id != settled + 1 and now - row.created_at < timedelta(seconds=OUTBOX_GAP_WAIT_S):
            return settled
        settled = row.id
    return settled


class Pusher:
    def __init__(
        self, target: SyncTarget, connector: Connector, sessions: sessionmaker[Session]
    ) -> None:
        self.target = target
        self.connector = connector
        self.sessions = sessions
        self.counts: Counter[str] = Counter()
        self._synced: list[int] = []

    def drain(self, *, max_batches: int | None = None) -> Counter[str]:
        """Push outbox batches until the outbox is empty for this connection."""
        batches = 0
        after: int | None = None  # past an id that may still commit: where to read next
        while max_batches is None or batches < max_batches:
            shutdown.raise_if_stopping()
            with transaction(self.sessions) as session:
                lock_connection(session, self.target.connection_id)
                position = OutboxPosition(session, self.target.connection_id)
                # Every tenant's rows, so that only a missing id is a gap (see settled_up_to).
                rows = session.execute(
                    select(
                        OutboxEntry.id,
                        OutboxEntry.tenant_id,
                        OutboxEntry.entity_type,
                        OutboxEntry.entity_id,
                        OutboxEntry.created_at,
                    )
                    .where(OutboxEntry.id > (position.value if after is None else after))
                    .order_by(OutboxEntry.id)
                    .limit(OUTBOX_BATCH)
                ).all()
                if not rows:
                    break
                ours = [row for row in rows if row.tenant_id == self.target.tenant_id]
                self.counts["outbox_rows"] += len(ours)
                by_type: dict[str, set[int]] = {"customer": set(), "contact": set()}
                for row in ours:
                    by_type.setdefault(row.entity_type, set()).add(row.entity_id)
                self.push(session, "customer", sorted(by_type["customer"]))
                self.push(session, "contact", sorted(by_type["contact"]))
                if after is None:
                    settled = settled_up_to(position.value, rows, utcnow())
                    position.move_to(settled)
                    if settled != rows[-1].id:
                        # The rows past the gap are pushed now and read again by the next
                        # drain, until the gap commits or times out (pushed once: the
                        # second time the CRM has the values, so nothing is written).
                        self.counts["outbox_gaps"] += 1
                        after = rows[-1].id
                else:
                    after = rows[-1].id
            batches += 1
        return self.counts

    def push(self, session: Session, local_type: str, local_ids: Sequence[int]) -> None:
        """Push these local records now (also used to replay outbound failures).

        Every update of a linked record is guarded against the read-then-write window: it
        carries the CRM's time up to which we know the record (``ExternalLink.read_as_of``).
        Salesforce refuses a record changed since (412); it is read again, merged by the
        field rules and written again, up to ``WRITE_ATTEMPTS`` times. HubSpot cannot
        refuse, so it reports the values our write replaced, and those are merged by the
        field rules after the fact (``_merge_replaced``). An update the CRM answers "not
        found" is read too: a delete archives the record, and a merge moves the link to
        the record merged into, which is then written."""
        pending = list(local_ids)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            pending = self._push_once(session, local_type, pending, last=attempt == WRITE_ATTEMPTS)
            if not pending:
                return
            self.counts["changed_during_write"] += len(pending)
            object_type = self.target.parent_type if local_type == "customer" else "contact"
            links = self._links(session, object_type, pending)
            self._read_and_merge(
                session, object_type, [link.external_id for link in links.values()]
            )

    def _push_once(
        self, session: Session, local_type: str, local_ids: Sequence[int], *, last: bool
    ) -> list[int]:
        """One round of ``push``; returns the records the CRM refused because they changed
        since we read them (none on the ``last`` round: those become failures)."""
        if not local_ids:
            return []
        object_type = self.target.parent_type if local_type == "customer" else "contact"
        object_map = self.target.map_for(object_type)
        records: dict[int, Customer | Contact] = {}
        if local_type == "customer":
            # Creates a CRM record for a customer, and the read just below may link one:
            # the tenant's guard first, before the rows are locked (its lock order).
            service.guard_tenant(session, self.target.tenant_id)
        # Locked until the batch commits: an inbound page that archives and unlinks one of
        # these (a CRM delete) waits, or has committed and is seen whole, even when the
        # connection's Redis lock was lost (a Redis restart); otherwise the push could see
        # the customer live and its link gone, and create it in the CRM again.
        query = (
            select(Customer).where(Customer.id.in_(local_ids)).order_by(Customer.id)
            if local_type == "customer"
            else select(Contact).where(Contact.id.in_(local_ids)).order_by(Contact.id)
        )
        records.update((r.id, r) for r in session.scalars(query.with_for_update()))
        links = self._links(session, object_type, list(records))
        if local_type == "contact":
            self._adopt_removed(session, object_type, records, links)
        if self._read_first(session, object_type, object_map, records, links):
            links = self._links(session, object_type, list(records))
        parent_links = (
            self._links(
                session,
                self.target.parent_type,
                sorted({r.customer_id for r in records.values() if isinstance(r, Contact)}),
            )
            if local_type == "contact"
            else {}
        )
        requests: list[WriteRequest] = []
        planned: list[tuple[Customer | Contact, dict[str, Any]]] = []
        unread = self._unread_changes(session, object_type, links)
        for local_id in local_ids:
            local = records.get(local_id)
            if (
                local is None
                or local.tenant_id != self.target.tenant_id
                or local.deleted_at is not None
            ):
                self.counts["skipped"] += 1
                continue
            if local_id in links and links[local_id].external_id in unread:
                self.counts["held_for_read"] += 1
                continue
            request, base_update = self._request(
                object_type, object_map, local, links.get(local_id), parent_links
            )
            if request is None:
                continue
            requests.append(request)
            planned.append((local, base_update))
        if not requests:
            return []
        results = self.connector.upsert(object_type, requests)
        self._synced = []
        changed: list[int] = []
        for (local, base_update), request, result in zip(planned, requests, results, strict=True):
            if result.ok and result.external_id:
                link = links.get(local.id)
                if (result.overwritten or result.unseen) and link is not None:
                    self._merge_replaced(session, object_type, link, result)
                self._linked(
                    session,
                    object_type,
                    object_map,
                    local,
                    link,
                    result.external_id,
                    base_update,
                    result.modified_at,
                )
                self.counts["crm_created" if request.external_id is None else "crm_updated"] += 1
            elif not last and (
                isinstance(result.error, Changed)
                or (isinstance(result.error, NotFound) and request.external_id is not None)
            ):
                # Changed since we read it, or gone: deleted, or merged (HubSpot makes a
                # new record of a merge). The read follows it, and the write goes again.
                changed.append(local.id)
            else:
                self.counts["failed"] += 1
                assert result.error is not None
                record_failure(
                    session,
                    direction="outbound",
                    error=result.error,
                    payload=JobCall.of(
                        PUSH_RECORDS, self.target.connection_id, local_type, [local.id]
                    ).payload(),
                    connection_id=self.target.connection_id,
                    object_type=object_type,
                    external_id=request.external_id,
                    local_id=local.id,
                )
        session.flush()
        if self._synced and has_open_failures(session, self.target.connection_id):
            resolve_failures(
                session,
                connection_id=self.target.connection_id,
                direction="outbound",
                object_type=object_type,
                local_ids=self._synced,
            )
        return changed

    def _merge_replaced(
        self, session: Session, object_type: str, link: ExternalLink, result: WriteResult
    ) -> None:
        """CRM edits made since our last read that our write replaced, or left alone
        (HubSpot, which cannot refuse a write, reports both). Merge them as the CRM change
        they were, against the base before our write, so each field's rule decides and the
        conflict is on record. Where a replaced edit wins, the local record takes it, and
        since the CRM now holds our value, the base this push stores says so and the next
        push writes the edit back. An edit left alone is still in the CRM; merged now,
        because the write's time becomes the time up to which the record is known."""
        edits = {**result.unseen, **result.overwritten}
        record = RemoteRecord(
            object_type=object_type,
            external_id=link.external_id,
            properties={name: value for name, (value, _) in edits.items()},
            modified_at=max(at for _, at in edits.values()),
            local_id=str(link.local_id),
        )
        if result.overwritten:
            self.counts["edits_replaced"] += 1
        if result.unseen:
            self.counts["edits_unseen"] += 1
        apply_page(session, self.target, object_type, [record])
        session.flush()

    def _read_first(
        self,
        session: Session,
        object_type: str,
        object_map: ObjectMap,
        records: dict[int, Customer | Contact],
        links: dict[int, ExternalLink],
    ) -> bool:
        """Read the linked records about to be written whose CRM time is not known (a
        record we created whose echo is not read yet, or a link older than that time), so
        that their write can be guarded like every other (see ``push``); the read goes
        through the three-way merge. Records with nothing to write are not read. Returns
        whether anything was read."""
        ids = []
        for local_id, link in links.items():
            local = records.get(local_id)
            if local is None or local.deleted_at is not None or link.read_as_of is not None:
                continue
            region = local.customer.billing_country if isinstance(local, Contact) else None
            if outbound_changes(object_map, link.base or {}, columns(local), region)[0]:
                ids.append(link.external_id)
        if not ids:
            return False
        self._read_and_merge(session, object_type, ids)
        return True

    def _read_and_merge(self, session: Session, object_type: str, external_ids: list[str]) -> None:
        """Read these CRM records now and merge them as any inbound page (field rules,
        conflicts on record), before they are written."""
        if not external_ids:
            return
        fetched = self.connector.fetch(object_type, external_ids)
        self.counts["read_before_write"] += len(external_ids)
        apply_page(session, self.target, object_type, fetched)
        session.flush()

    def _adopt_removed(
        self,
        session: Session,
        object_type: str,
        records: dict[int, Customer | Contact],
        links: dict[int, ExternalLink],
    ) -> None:
        """A new contact with the email of a removed one of the same customer takes over the
        removed one's CRM record: removing a contact is not pushed (deleting in the CRM is
        a person's call), so the CRM still holds it, and creating the contact again would
        be refused (HubSpot: 409, the email exists). The link moves and the push updates
        that record with the new contact's values."""
        wanted: dict[tuple[int, str | None], Contact] = {
            (local.customer_id, local.email): local
            for local in records.values()
            if isinstance(local, Contact)
            and local.id not in links
            and local.email
            and local.deleted_at is None
        }
        if not wanted:
            return
        removed = session.execute(
            select(ExternalLink, Contact.customer_id, Contact.email)
            .join(Contact, Contact.id == ExternalLink.local_id)
            .where(
                ExternalLink.connection_id == self.target.connection_id,
                ExternalLink.object_type == object_type,
                Contact.deleted_at.is_not(None),
                Contact.customer_id.in_({customer_id for customer_id, _ in wanted}),
                Contact.email.in_({email for _, email in wanted}),
            )
            .order_by(ExternalLink.id)
        ).all()
        for link, customer_id, email in removed:
            local = wanted.pop((customer_id, email), None)
            if local is not None:
                link.local_id = local.id
                links[local.id] = link
                self.counts["contacts_adopted"] += 1
        session.flush()

    def _unread_changes(
        self, session: Session, object_type: str, links: dict[int, ExternalLink]
    ) -> set[str]:
        """Linked records whose last CRM change could not be applied because a concurrent
        local write changed the record first (an open inbound ``StaleVersion`` failure).
        Pushing them now would overwrite that CRM change unseen; the next read applies it
        (three-way merge, conflicts by rule), and what local still wins is pushed then."""
        if not links or not has_open_failures(session, self.target.connection_id):
            return set()
        return {
            external_id
            for external_id in session.scalars(
                select(SyncFailure.external_id).where(
                    SyncFailure.connection_id == self.target.connection_id,
                    SyncFailure.direction == "inbound",
                    SyncFailure.object_type == object_type,
                    SyncFailure.crm_code == STALE_VERSION,
                    SyncFailure.status.in_(UNRESOLVED),
                    SyncFailure.external_id.in_([link.external_id for link in links.values()]),
                )
            )
            if external_id
        }

    def _links(
        self, session: Session, object_type: str, local_ids: list[int]
    ) -> dict[int, ExternalLink]:
        if not local_ids:
            return {}
        rows = session.scalars(
            select(ExternalLink).where(
                ExternalLink.connection_id == self.target.connection_id,
                ExternalLink.object_type == object_type,
                ExternalLink.local_id.in_(local_ids),
            )
        )
        return {link.local_id: link for link in rows}

    def _request(
        self,
        object_type: str,
        object_map: ObjectMap,
        local: Customer | Contact,
        link: ExternalLink | None,
        parent_links: dict[int, ExternalLink],
    ) -> tuple[WriteRequest | None, dict[str, Any]]:
        current = columns(local)
        region = local.customer.billing_country if isinstance(local, Contact) else None
        associations: tuple[str, ...] = ()
        if isinstance(local, Contact):
            parent = parent_links.get(local.customer_id)
            if parent is None:
                self.counts["orphan"] += 1  # its customer is not in this CRM (yet)
                return None, {}
            associations = (parent.external_id,)
        if link is None and isinstance(local, Customer) and local.archived_at is not None:
            # Archived customers are not created in a CRM (as a reconcile does not create
            # them); an archive is what a CRM delete leaves, and creating the customer again
            # would undo that delete.
            self.counts["archived_skipped"] += 1
            return None, {}
        if link is None:
            properties = to_remote(object_map, current, skip_blank=True)
            _, base_update = outbound_changes(object_map, {}, current, region)
            return WriteRequest(
                object_type, str(local.id), properties, associations=associations
            ), base_update
        properties, base_update = outbound_changes(object_map, link.base or {}, current, region)
        if not properties and (link.base or {}).get(ID_WRITTEN):
            self.counts["echo_skipped"] += 1
            return None, {}
        return (
            WriteRequest(
                object_type,
                str(local.id),
                properties,
                external_id=link.external_id,
                associations=associations,
                unmodified_since=link.read_as_of,
            ),
            base_update,
        )

    def _linked(
        self,
        session: Session,
        object_type: str,
        object_map: ObjectMap,
        local: Customer | Contact,
        link: ExternalLink | None,
        external_id: str,
        base_update: dict[str, Any],
        written_at: datetime | None = None,
    ) -> None:
        if link is None:
            link = ExternalLink(
                connection_id=self.target.connection_id,
                object_type=object_type,
                external_id=external_id,
                local_type=object_map.local_type,
                local_id=local.id,
                base={},
            )
            session.add(link)
        base = {**(link.base or {}), **base_update, ID_WRITTEN: True}
        link.base = base
        link.fingerprint = fingerprint({k: v for k, v in base.items() if k != ID_WRITTEN})
        if written_at is not None:
            link.remote_written_at = written_at
        link.last_synced_at = utcnow()
        self._synced.append(local.id)
