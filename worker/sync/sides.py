"""The two kinds of local record a page is about: customers and contacts.

A page of CRM companies (HubSpot) or accounts (Salesforce) is a page of customers; a page
of contacts attaches each contact to the customer its company or account is linked to.
What differs between the two is here, one object each (:class:`CustomerSide`,
:class:`ContactSide`): which model a link points at, how a merge's local writes are
written and a CRM delete is applied, the names outcomes are counted under, and what is
done with a live CRM record that is not linked yet:

- a customer: a record that carries our own id is ours (a create whose answer was lost);
  otherwise a sure duplicate links, a likely one is held for review, and no match creates
  the customer (when the connection allows it);
- a contact: no linked parent, no contact (a later pass attaches it); our id links it, so
  does a contact of the parent with the same email; otherwise it is created.

Every change goes through the service layer (``customers.service``,
``customers.contacts``), tagged with the connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import RemoteRecord
from customers import contacts as contact_service
from customers import service
from customers.custom_properties import CustomChanges
from customers.models import Contact, Customer
from customers.sync_state import DuplicateReview, ExternalLink
from customers.types import as_id
from mappings.engine import local_changes, new_customer_values
from mappings.spec import CUSTOM_PREFIX
from worker.sync.merging import merge_record
from worker.sync.page import PageContext, Side
from worker.sync.target import SyncTarget


def contact_first_name(values: dict[str, Any]) -> None:
    """CRMs allow contacts without a first name; the directory does not."""
    values.setdefault("first_name", None)
    if not values.get("first_name"):
        email = values.get("email")
        values["first_name"] = values.get("last_name") or (email or "").split("@")[0] or None


def tag_changes(current: list[str], wanted: Any) -> tuple[list[str], list[str]]:
    """The tags to add and to remove to go from ``current`` to ``wanted``."""
    target = set(wanted or [])
    return sorted(target - set(current)), sorted(set(current) - target)


class CustomerSide:
    """A page of CRM companies or accounts: customers."""

    local_type = "customer"
    model = Customer
    count_prefix = ""
    # Linking or creating a customer is checked against every customer committed before:
    # the page holds the tenant's creation guard (``service.guard_tenant``).
    guards_tenant = True
    has_parents = False

    def get(self, session: Session, local_id: int) -> Customer | None:
        return session.get(Customer, local_id)

    def region(self, local: Customer | Contact) -> str | None:
        return None

    def write(
        self,
        page: PageContext,
        local: Customer,
        writes: dict[str, Any],
        current: dict[str, Any],
    ) -> None:
        column_writes, custom = _custom_writes(writes)
        archived = column_writes.pop("archived", None)
        add_tags, remove_tags = (
            tag_changes(current["tags"], column_writes.pop("tags"))
            if "tags" in column_writes
            else ([], [])
        )
        changes = local_changes(page.object_map, column_writes, current)
        service.update_customer(
            page.session,
            page.target.tenant_id,
            local.id,
            changes,
            custom=custom,
            add_tags=add_tags,
            remove_tags=remove_tags,
            origin_connection_id=page.target.connection_id,
        )
        if archived is not None:
            service.set_archived(
                page.session,
                page.target.tenant_id,
                local.id,
                archived=bool(archived),
                origin_connection_id=page.target.connection_id,
            )

    def archive(self, page: PageContext, local_id: int) -> None:
        service.archive_customer(
            page.session,
            page.target.tenant_id,
            local_id,
            origin_connection_id=page.target.connection_id,
        )

    def new(self, page: PageContext, record: RemoteRecord) -> str:
        values = page.local_values(record)
        own = own_record(page, record)
        if own is not None:
            merge_record(page, record, _link(page, record, own))
            return "linked"
        check = page.duplicates.check(
            name=values.get("name"),
            email=values.get("email"),
            domain=values.get("domain"),
            tax_id=values.get("tax_id"),
        )
        sure = check.sure
        if sure is not None:
            refused = _not_matchable(page, sure.customer_id)
            if refused is None:
                merge_record(page, record, _link(page, record, sure.customer_id))
                return "linked"
            sure = replace(sure, reasons=(*sure.reasons, refused))
        if check.found:
            candidates = [sure] if sure else []
            candidates += list(check.likely)
            _hold(page, record, values, [c for c in candidates if c is not None])
            return "held"
        if not page.target.auto_create:
            _hold(page, record, values, [])
            return "held"
        fields, tags = new_customer_values(values)
        customer = service.create_customer(
            page.session,
            page.target.tenant_id,
            fields,
            origin_connection_id=page.target.connection_id,
            tags=tags,
        )
        if values.get("archived"):  # archived in the CRM: so is the new customer
            service.set_archived(
                page.session,
                page.target.tenant_id,
                customer.id,
                archived=True,
                origin_connection_id=page.target.connection_id,
            )
        page.duplicates.add(
            customer.id,
            name=customer.name,
            email=customer.email,
            domain=customer.domain,
            tax_id=customer.tax_id,
        )
        merge_record(page, record, _link(page, record, customer.id))
        page.result.created_customers.append(customer.id)
        return "created"


class ContactSide:
    """A page of CRM contacts: contacts of the customers their parents are linked to."""

    local_type = "contact"
    model = Contact
    count_prefix = "contacts_"
    guards_tenant = False
    has_parents = True

    def get(self, session: Session, local_id: int) -> Contact | None:
        return session.get(Contact, local_id)

    def region(self, local: Customer | Contact) -> str | None:
        return local.customer.billing_country if isinstance(local, Contact) else None

    def write(
        self,
        page: PageContext,
        local: Contact,
        writes: dict[str, Any],
        current: dict[str, Any],
    ) -> None:
        changes = local_changes(page.object_map, writes, current)
        contact_service.update_contact(
            page.session,
            page.target.tenant_id,
            local.id,
            changes,
            origin_connection_id=page.target.connection_id,
        )

    def archive(self, page: PageContext, local_id: int) -> None:
        contact_service.remove_contact(
            page.session,
            page.target.tenant_id,
            local_id,
            origin_connection_id=page.target.connection_id,
        )

    def new(self, page: PageContext, record: RemoteRecord) -> str:
        parent = page.parent_links.get(record.associations[0]) if record.associations else None
        if parent is None:
            return "orphan"  # its company is not linked (yet): a later pass attaches it
        customer = page.session.get(Customer, parent.local_id)
        if customer is None or customer.deleted_at is not None:
            return "orphan"
        own = own_record(page, record)
        if own is None:
            values = page.local_values(record, customer.billing_country)
            email = values.get("email")
            match = next(
                (
                    c
                    for c in customer.contacts
                    if email
                    and c.email == email
                    and c.deleted_at is None
                    and not _linked_locally(page, c.id)
                ),
                None,
            )
            if match is None:
                contact_first_name(values)
                contact = contact_service.add_contact(
                    page.session,
                    page.target.tenant_id,
                    customer.id,
                    values,
                    origin_connection_id=page.target.connection_id,
                )
                merge_record(page, record, _link(page, record, contact.id))
                return "created"
            own = match.id
        merge_record(page, record, _link(page, record, own))
        return "linked"


_SIDES: dict[str, Side] = {"customer": CustomerSide(), "contact": ContactSide()}


def page_context(session: Session, target: SyncTarget, object_type: str) -> PageContext:
    """A fresh context for a page of ``object_type`` records of the target's connection."""
    object_map = target.map_for(object_type)
    return PageContext(session, target, object_type, object_map, _SIDES[object_map.local_type])


def _link(page: PageContext, record: RemoteRecord, local_id: int) -> ExternalLink:
    link = page.new_link(record, local_id)
    page.session.add(link)
    page.session.flush()
    return link


def _linked_locally(page: PageContext, local_id: int) -> bool:
    return (
        page.session.scalar(
            select(ExternalLink.id).where(
                ExternalLink.connection_id == page.target.connection_id,
                ExternalLink.object_type == page.object_type,
                ExternalLink.local_id == local_id,
            )
        )
        is not None
    )


def own_record(page: PageContext, record: RemoteRecord) -> int | None:
    """Our id in the CRM record names a live local record not linked yet: ours."""
    # The CRM holds this id in a field a person can edit: anything but one of our ids
    # ('²', twenty digits) names no record here, and must not fail the page.
    local_id = as_id(record.local_id)
    if local_id is None:
        return None
    local = page.side.get(page.session, local_id)
    if local is None or local.tenant_id != page.target.tenant_id or local.deleted_at is not None:
        return None
    return None if _linked_locally(page, local.id) else local.id


def _not_matchable(page: PageContext, customer_id: int) -> str | None:
    """Why a sure duplicate may not be linked to this record without a person, if so.

    When the customer is linked to another record of this connection, this one is a
    duplicate inside the CRM: held for review and shown as one. When it is archived, a
    CRM delete or merge archived it (or a person did): linking it again by matching
    would bring back a business the CRM removed, so only a person decides that
    (``reviews link``)."""
    # Its two columns, not the customer: loading one loads its contacts, tags and legal
    # entity too, four queries for each record held as a duplicate.
    state = page.session.execute(
        select(Customer.deleted_at, Customer.archived_at).where(Customer.id == customer_id)
    ).one_or_none()
    if state is None or state.deleted_at is not None:
        return "deleted"
    if state.archived_at is not None:
        return "archived: only a person links it again"
    linked = page.session.scalar(
        select(ExternalLink.external_id).where(
            ExternalLink.connection_id == page.target.connection_id,
            ExternalLink.object_type == page.object_type,
            ExternalLink.local_id == customer_id,
        )
    )
    if linked is not None:
        return f"linked to {page.object_type} {linked}: a duplicate inside the CRM"
    return None


def _hold(
    page: PageContext, record: RemoteRecord, values: dict[str, Any], candidates: list[Any]
) -> None:
    review = page.session.scalar(
        select(DuplicateReview).where(
            DuplicateReview.connection_id == page.target.connection_id,
            DuplicateReview.object_type == page.object_type,
            DuplicateReview.external_id == record.external_id,
        )
    )
    if review is None:
        review = DuplicateReview(
            tenant_id=page.target.tenant_id,
            connection_id=page.target.connection_id,
            object_type=page.object_type,
            external_id=record.external_id,
        )
        page.session.add(review)
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
    page.session.flush()


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
