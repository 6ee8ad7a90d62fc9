"""New CRM records created locally in bulk, and the duplicate index they are checked against.

Most records of a first full sync are plain creates: not linked, not ours, no duplicate in
the directory, values that validate. :class:`NewRecords` takes those aside while a page is
applied and writes them with a few multi-row INSERTs (customers or contacts, their outbox
rows, their links) instead of a savepoint and a dozen round trips each. Anything else,
or anything that could depend on a record taken aside (a name like one waiting to be
created), goes through the page's record-by-record path, after the waiting records are
written, so the outcome is the one the record-by-record path would have had.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

from connectors.base import RemoteRecord
from connectors.errors import Permanent
from customers import contacts as contact_service
from customers import service
from customers.duplicates import DuplicateIndex
from customers.errors import DirectoryError, InvalidInput
from customers.models import Contact, Customer, OutboxEntry
from customers.sync_state import ExternalLink
from customers.types import utcnow
from mappings import RemoteValueError, merge, to_local
from mappings.engine import new_customer_values
from mappings.merge import unpushed_base

if TYPE_CHECKING:
    from worker.sync.inbound import InboundPage


# A link's base carries this marker once the CRM record holds our id, so the push knows
# whether it still has to write it (creates by upsert on our id depend on it).
ID_WRITTEN = "_id_written"
CHUNK = 500


def contact_first_name(values: dict[str, Any]) -> None:
    """CRMs allow contacts without a first name; the directory does not."""
    values.setdefault("first_name", None)
    if not values.get("first_name"):
        email = values.get("email")
        values["first_name"] = values.get("last_name") or (email or "").split("@")[0] or None


@dataclass
class _Waiting:
    record: RemoteRecord
    values: Any  # a service.NewCustomer, or (customer_id, contact values)


class NewRecords:
    """The plain creates of one page, written together."""

    def __init__(self, page: InboundPage) -> None:
        self.page = page
        self.waiting: list[_Waiting] = []
        self.depends = False  # see take()
        self._pending = DuplicateIndex()  # what is waiting, to spot a duplicate among them
        self._customers: dict[int, Any] = {}  # id -> (id, billing_country, deleted_at)
        self.linked: set[str] = set()  # external ids linked in bulk: not loaded in the page
        self.outbox: list[dict[str, Any]] = []  # update rows for what those links push
        self._contact_emails: dict[int, set[str]] = defaultdict(set)

    # -- what the page loads for contacts ----------------------------------------------------

    def load_parents(self, customer_ids: set[int]) -> None:
        """The parent customers of a page of contacts, and the emails of their contacts."""
        session, ids = self.page.session, sorted(customer_ids)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            customers = session.execute(
                select(Customer.id, Customer.billing_country, Customer.deleted_at).where(
                    Customer.id.in_(chunk)
                )
            )
            self._customers.update((customer.id, customer) for customer in customers)
            rows = session.execute(
                select(Contact.customer_id, Contact.email).where(
                    Contact.customer_id.in_(chunk),
                    Contact.deleted_at.is_(None),
                    Contact.email.is_not(None),
                )
            )
            for customer_id, email in rows:
                if email:
                    self._contact_emails[customer_id].add(email)

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
        if record.external_id in self.linked or any(m in self.linked for m in record.merged_ids):
            return False
        self.depends = False
        try:
            waiting = self._customer(record) if page.is_parent else self._contact(record)
        except (DirectoryError, RemoteValueError):
            return False  # the page's own path records the failure
        if waiting is None:
            return False
        self.waiting.append(waiting)
        return True

    def _customer(self, record: RemoteRecord) -> _Waiting | None:
        page = self.page
        values = to_local(page.object_map, record.properties)
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

    def _contact(self, record: RemoteRecord) -> _Waiting | None:
        page = self.page
        parent = page.parent_links.get(record.associations[0]) if record.associations else None
        customer = self._customers.get(parent.local_id) if parent else None
        if customer is None or customer.deleted_at is not None:
            return None
        values = to_local(page.object_map, record.properties, region=customer.billing_country)
        if values.get("email") and values["email"] in self._contact_emails[customer.id]:
            return None  # it may be a contact the directory has: the page links it
        contact_first_name(values)
        prepared = contact_service.prepare_contact(values, customer.billing_country, from_crm=True)
        if contact_service.PRIMARY in prepared.get("roles", []):
            return None
        return _Waiting(record, (customer.id, prepared))

    # -- writing them ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what waits: the rows, their outbox rows and links, then merge each."""
        waiting, self.waiting, self._pending = self.waiting, [], DuplicateIndex()
        if not waiting:
            return
        page, session = self.page, self.page.session
        try:
            with session.begin_nested():
                ids = self._insert(waiting)
        except (DirectoryError, IntegrityError):
            # Someone else wrote a clashing row meanwhile: let each record find its way.
            for item in waiting:
                page.apply_one(item.record)
            return
        if page.is_parent:
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
            session.execute(insert(cast(Table, ExternalLink.__table__)), links)
            self.linked.update(link["external_id"] for link in links)
        if self.outbox:
            session.execute(insert(cast(Table, OutboxEntry.__table__)), self.outbox)
            self.outbox = []

    def _rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The rows just written, as plain values (cheaper than loading them as objects)."""
        model = Customer if self.page.is_parent else Contact
        table = cast(Table, model.__table__)
        rows: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), CHUNK):
            query = select(table).where(table.c.id.in_(ids[start : start + CHUNK]))
            rows.update((row.id, dict(row._mapping)) for row in self.page.session.execute(query))
        return rows

    def _link_row(self, item: _Waiting, local: dict[str, Any]) -> dict[str, Any] | None:
        """The link of a record just created, merged as the page would merge it; None when
        the merge has more to do than set the base (the page then does it all)."""
        page, record = self.page, item.record
        region = None if page.is_parent else self._customers[item.values[0]].billing_country
        result = merge(
            page.object_map,
            base={},
            local=local,
            remote=record.properties,
            local_changed_at=local["updated_at"],
            remote_modified_at=record.modified_at,
            region=region,
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
        id_written = record.local_id == str(local["id"])
        page.result.needs_push = (
            page.result.needs_push or not id_written or bool(result.remote_writes)
        )
        page.synced.append(record.external_id)
        now = utcnow()
        return {
            "connection_id": page.target.connection_id,
            "object_type": page.object_type,
            "external_id": record.external_id,
            "local_type": page.object_map.local_type,
            "local_id": local["id"],
            "base": {
                **unpushed_base(page.object_map, result, record.properties),
                ID_WRITTEN: id_written,
            },
            "fingerprint": result.fingerprint,
            "remote_modified_at": record.modified_at,
            "last_synced_at": now,
            "created_at": now,
        }

    def _merge_one(self, item: _Waiting, local_id: int) -> None:
        page = self.page
        link = page.new_link(item.record, local_id)
        page.session.add(link)
        try:
            page.merge_record(item.record, link)
        except (DirectoryError, Permanent, RemoteValueError) as error:
            page.fail(item.record, error)  # created and linked; the next sync merges it
            return
        page.count("created")

    def _insert(self, waiting: Sequence[_Waiting]) -> list[int]:
        page = self.page
        origin = page.target.connection_id
        if page.is_parent:
            return service.create_customers(
                page.session,
                page.target.tenant_id,
                [item.values for item in waiting],
                origin_connection_id=origin,
            )
        try:
            return contact_service.create_contacts(
                page.session,
                page.target.tenant_id,
                [item.values for item in waiting],
                origin_connection_id=origin,
            )
        except InvalidInput as error:  # not expected: primaries are left to the page
            raise DirectoryError(str(error)) from error
