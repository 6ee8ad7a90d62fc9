"""New CRM records created locally in bulk.

Most records of a first full sync are plain creates: not linked, not ours, no duplicate in
the directory, values that validate. :class:`NewRecords` takes those aside while a page is
applied and writes them with a few bulk writes (``customers.bulk``: customers or contacts,
their outbox rows, their links) instead of a savepoint and a dozen round trips each. Anything else,
or anything that could depend on a record taken aside (a name like one waiting to be
created), goes through the page's record-by-record path, after the waiting records are
written, so the outcome is the one the record-by-record path would have had.

It takes the page's context (``worker.sync.page``), never the page itself: the page
(``worker.sync.inbound``) owns it, asks it to take records aside and to write them, and
applies one by one the records it hands back. A page of customers checks each record
against the directory's customers and against those waiting (:class:`NewCustomers`); a
page of contacts against its parent customers' contacts (:class:`NewContacts`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from connectors.base import RemoteRecord
from connectors.errors import Permanent
from customers import contacts as contact_service
from customers import service
from customers.bulk import insert_rows
from customers.db import one_of
from customers.duplicates import DuplicateIndex
from customers.errors import DirectoryError, InvalidInput
from customers.models import Contact, Customer, OutboxEntry
from customers.sync_state import ExternalLink
from customers.types import utcnow
from mappings import RemoteValueError, merge
from mappings.engine import new_customer_values
from mappings.merge import unpushed_base
from worker.sync.links import ID_WRITTEN, link_columns, merged_columns
from worker.sync.merging import merge_record
from worker.sync.page import CHUNK, PageContext
from worker.sync.sides import contact_first_name


@dataclass
class _Waiting:
    record: RemoteRecord
    values: Any  # a service.NewCustomer, or (customer_id, contact values)


class NewRecords(ABC):
    """The plain creates of one page, written together (one subclass per side)."""

    model: type[Customer] | type[Contact]

    def __init__(self, page: PageContext) -> None:
        self.page = page
        self.waiting: list[_Waiting] = []
        self.depends = False  # see take()
        self.outbox: list[dict[str, Any]] = []  # update rows for what bulk links push

    def load(self) -> None:  # noqa: B027 (a hook: optional)
        """Load what taking records aside needs, once the page's links are loaded."""

    # -- taking records aside -----------------------------------------------------------------

    def take(self, record: RemoteRecord) -> bool:
        """Take a plain create aside (true), or leave the record to the page (false). When
        the page's outcome for it could depend on the records waiting (it names one of them,
        it may be a duplicate of one, it is linked already), ``depends`` is set: the page
        writes those first, so the outcome is the one of record-by-record order."""
        page = self.page
        self.depends = True
        if record.merged_into or record.archived or record.local_id:
            return False
        if record.external_id in page.links or any(m in page.links for m in record.merged_ids):
            return False
        linked = page.bulk_linked
        if record.external_id in linked or any(m in linked for m in record.merged_ids):
            return False
        self.depends = False
        try:
            waiting = self._prepare(record)
        except (DirectoryError, RemoteValueError):
            return False  # the page's own path records the failure
        if waiting is None:
            return False
        self.waiting.append(waiting)
        return True

    @abstractmethod
    def _prepare(self, record: RemoteRecord) -> _Waiting | None:
        """The record's values ready to insert, or None to leave it to the page."""

    # -- writing them ---------------------------------------------------------------------------

    def flush(self) -> list[RemoteRecord]:
        """Write what waits: the rows, their outbox rows and links, then merge each. The
        records it could not write together (someone else wrote a clashing row meanwhile)
        are handed back, for the page to apply one by one."""
        waiting, self.waiting = self.waiting, []
        self._restart()
        if not waiting:
            return []
        page, session = self.page, self.page.session
        try:
            with session.begin_nested():
                ids = self._insert(waiting)
        except (DirectoryError, IntegrityError):
            return [item.record for item in waiting]  # let each record find its way
        self._created(waiting, ids)
        rows = self._rows(ids)
        links: list[dict[str, Any]] = []
        for item, local_id in zip(waiting, ids, strict=True):
            link = self._link_row(item, rows[local_id])
            if link is None:
                self._merge_one(item, local_id)
            else:
                links.append(link)
                page.count("created")
        if links:
            insert_rows(session, cast(Table, ExternalLink.__table__), links)
            page.bulk_linked.update(link["external_id"] for link in links)
        if self.outbox:
            insert_rows(session, cast(Table, OutboxEntry.__table__), self.outbox)
            self.outbox = []
        return []

    def _restart(self) -> None:  # noqa: B027 (a hook: optional)
        """Forget what the records just taken from the queue were checked against."""

    @abstractmethod
    def _insert(self, waiting: Sequence[_Waiting]) -> list[int]:
        """Write the waiting records' rows; their new ids, in order."""

    def _created(self, waiting: Sequence[_Waiting], ids: list[int]) -> None:  # noqa: B027 (a hook: optional)
        """The waiting records were written with these ids."""

    def _region(self, item: _Waiting) -> str | None:
        return None

    def _rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The rows just written, as plain values (cheaper than loading them as objects)."""
        table = cast(Table, self.model.__table__)
        rows: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), CHUNK):
            query = select(table).where(
                one_of(self.page.session, table.c.id, ids[start : start + CHUNK])
            )
            rows.update((row.id, dict(row._mapping)) for row in self.page.session.execute(query))
        return rows

    def _link_row(self, item: _Waiting, local: dict[str, Any]) -> dict[str, Any] | None:
        """The link of a record just created, merged as the page would merge it; None when
        the merge has more to do than set the base (the page then does it all)."""
        page, record = self.page, item.record
        result = merge(
            page.object_map,
            base={},
            local=local,
            remote=record.properties,
            local_changed_at=local["updated_at"],
            remote_modified_at=record.modified_at,
            region=self._region(item),
        )
        if result.local_writes or result.conflicts or result.problems:
            return None
        if result.remote_writes:  # local defaults the CRM lacks: pushed as the page would
            self.outbox.append(
                {
                    "tenant_id": page.target.tenant_id,
                    "entity_type": page.object_map.local_type,
                    "entity_id": local["id"],
                    "operation": "update",
                    "fields": sorted(result.remote_writes),
                }
            )
        base = unpushed_base(page.object_map, result, record.properties)
        state = merged_columns(record, local["id"], base, result.fingerprint)
        page.result.needs_push = (
            page.result.needs_push or not state["base"][ID_WRITTEN] or bool(result.remote_writes)
        )
        page.synced.append(record.external_id)
        columns = link_columns(
            connection_id=page.target.connection_id,
            object_type=page.object_type,
            external_id=record.external_id,
            local_type=page.object_map.local_type,
            local_id=local["id"],
        )
        return {**columns, **state, "created_at": state["last_synced_at"]}

    def _merge_one(self, item: _Waiting, local_id: int) -> None:
        page = self.page
        link = page.new_link(item.record, local_id)
        page.session.add(link)
        try:
            merge_record(page, item.record, link)
        except (DirectoryError, Permanent, RemoteValueError) as error:
            page.fail(item.record, error)  # created and linked; the next sync merges it
            return
        page.count("created")


class NewCustomers(NewRecords):
    """A page of customers' plain creates; each checked against the directory's customers
    and against those waiting."""

    model = Customer

    def __init__(self, page: PageContext) -> None:
        super().__init__(page)
        self._pending = DuplicateIndex()  # what is waiting, to spot a duplicate among them

    def _restart(self) -> None:
        self._pending = DuplicateIndex()

    def _prepare(self, record: RemoteRecord) -> _Waiting | None:
        page = self.page
        values = page.local_values(record)
        keys: dict[str, Any] = {
            "name": values.get("name"),
            "email": values.get("email"),
            "domain": values.get("domain"),
            "tax_id": values.get("tax_id"),
        }
        if self._pending.check(**keys).found:
            self.depends = True  # a duplicate of one waiting: decided once that one is written
            return None
        if not page.target.auto_create or page.duplicates.check(**keys).found:
            return None  # held for review, or linked to the customer it duplicates
        fields, tags = new_customer_values(values)
        prepared = service.prepare_customer(
            fields, origin_connection_id=page.target.connection_id, tags=tags
        )
        if values.get("archived"):
            prepared.fields["archived_at"] = utcnow()  # archived in the CRM: created archived
        self._pending.add(len(self.waiting), **keys)
        return _Waiting(record, prepared)

    def _insert(self, waiting: Sequence[_Waiting]) -> list[int]:
        return service.create_customers(
            self.page.session,
            self.page.target.tenant_id,
            [item.values for item in waiting],
            origin_connection_id=self.page.target.connection_id,
        )

    def _created(self, waiting: Sequence[_Waiting], ids: list[int]) -> None:
        page = self.page
        for item, local_id in zip(waiting, ids, strict=True):
            fields = item.values.fields
            page.duplicates.add(
                local_id,
                name=fields.get("name"),
                email=fields.get("email"),
                domain=fields.get("domain"),
                tax_id=fields.get("tax_id"),
            )
            page.result.created_customers.append(local_id)


class NewContacts(NewRecords):
    """A page of contacts' plain creates, each under the customer its CRM parent is linked
    to; one that may be a contact the directory has is left to the page."""

    model = Contact

    def __init__(self, page: PageContext) -> None:
        super().__init__(page)
        self._customers: dict[int, Any] = {}  # id -> (id, billing_country, deleted_at)
        self._contact_emails: dict[int, set[str]] = defaultdict(set)

    def load(self) -> None:
        """The parent customers of the page's contacts, and the emails of their contacts."""
        session = self.page.session
        ids = sorted({link.local_id for link in self.page.parent_links.values()})
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            customers = session.execute(
                select(Customer.id, Customer.billing_country, Customer.deleted_at).where(
                    one_of(session, Customer.id, chunk)
                )
            )
            self._customers.update((customer.id, customer) for customer in customers)
            rows = session.execute(
                select(Contact.customer_id, Contact.email).where(
                    one_of(session, Contact.customer_id, chunk),
                    Contact.deleted_at.is_(None),
                    Contact.email.is_not(None),
                )
            )
            for customer_id, email in rows:
                if email:
                    self._contact_emails[customer_id].add(email)

    def _prepare(self, record: RemoteRecord) -> _Waiting | None:
        page = self.page
        parent = page.parent_links.get(record.associations[0]) if record.associations else None
        customer = self._customers.get(parent.local_id) if parent else None
        if customer is None or customer.deleted_at is not None:
            return None
        values = page.local_values(record, customer.billing_country)
        if values.get("email") and values["email"] in self._contact_emails[customer.id]:
            return None  # it may be a contact the directory has: the page links it
        contact_first_name(values)
        prepared = contact_service.prepare_contact(values, customer.billing_country, from_crm=True)
        if contact_service.PRIMARY in prepared.get("roles", []):
            return None
        return _Waiting(record, (customer.id, prepared))

    def _region(self, item: _Waiting) -> str | None:
        return cast(str | None, self._customers[item.values[0]].billing_country)

    def _insert(self, waiting: Sequence[_Waiting]) -> list[int]:
        try:
            return contact_service.create_contacts(
                self.page.session,
                self.page.target.tenant_id,
                [item.values for item in waiting],
                origin_connection_id=self.page.target.connection_id,
            )
        except InvalidInput as error:  # not expected: primaries are left to the page
            raise DirectoryError(str(error)) from error


def new_records(page: PageContext) -> NewRecords:
    """The bulk creates for a page of this context's side."""
    return NewContacts(page) if page.side.has_parents else NewCustomers(page)
