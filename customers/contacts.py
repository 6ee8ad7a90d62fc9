"""The only way code changes contacts.

A customer has many contacts and at most one primary (the database enforces it too):
making a contact primary demotes the one before it in the same transaction. Removing a
contact is a soft delete, so history that names it stays intact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from customers.bulk import insert_returning_ids, insert_rows, table_rows
from customers.errors import InvalidInput, NotFound, Refused, StaleVersion
from customers.fields import clean_contact
from customers.models import Contact, ContactRole, OutboxEntry
from customers.service import get_customer, guarded, write_outbox
from customers.types import utcnow

PRIMARY = ContactRole.PRIMARY.value


def get_contact(session: Session, tenant_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.tenant_id != tenant_id:
        raise NotFound("contact", contact_id)
    return contact


def list_contacts(
    session: Session, tenant_id: int, customer_id: int, *, include_removed: bool = False
) -> Sequence[Contact]:
    get_customer(session, tenant_id, customer_id)
    query = select(Contact).where(Contact.customer_id == customer_id)
    if not include_removed:
        query = query.where(Contact.deleted_at.is_(None))
    return session.scalars(query.order_by(Contact.is_primary.desc(), Contact.id)).all()


def _demote_primary(session: Session, customer_id: int, keep_id: int | None) -> None:
    current = session.scalar(
        select(Contact).where(
            Contact.customer_id == customer_id,
            Contact.is_primary.is_(True),
            Contact.deleted_at.is_(None),
        )
    )
    if current is None or current.id == keep_id:
        return
    current.is_primary = False
    current.roles = [role for role in current.roles if role != PRIMARY]
    current.updated_at = utcnow()
    # Flushed on its own first, so the one-primary index never sees two at once.
    session.flush()
    write_outbox(
        session,
        tenant_id=current.tenant_id,
        entity_type="contact",
        entity_id=current.id,
        operation="update",
        fields=["is_primary", "roles"],
    )


def add_contact(
    session: Session,
    tenant_id: int,
    customer_id: int,
    data: Mapping[str, Any],
    *,
    origin_connection_id: int | None = None,
) -> Contact:
    """Add a contact; ``roles`` containing ``primary`` makes it the primary one."""
    customer = get_customer(session, tenant_id, customer_id)
    if customer.deleted_at is not None:
        raise Refused(f"customer {customer_id} is deleted; contacts cannot be added")
    cleaned = clean_contact(
        data, customer.billing_country, from_crm=origin_connection_id is not None
    )
    if "first_name" not in cleaned:
        raise InvalidInput.single("first_name", "is required")
    is_primary = PRIMARY in cleaned.get("roles", [])
    if is_primary:
        _demote_primary(session, customer_id, None)
    contact = Contact(
        tenant_id=tenant_id, customer_id=customer_id, is_primary=is_primary, **cleaned
    )
    session.add(contact)
    session.flush()
    write_outbox(
        session,
        tenant_id=tenant_id,
        entity_type="contact",
        entity_id=contact.id,
        operation="create",
        fields=cleaned,
        origin_connection_id=origin_connection_id,
    )
    return contact


def prepare_contact(
    data: Mapping[str, Any], region: str | None, *, from_crm: bool = False
) -> dict[str, Any]:
    """Validate a new contact as :func:`add_contact` does (``region``: its customer's
    billing country, for national phone numbers), touching no database."""
    cleaned = clean_contact(data, region, from_crm=from_crm)
    if "first_name" not in cleaned:
        raise InvalidInput.single("first_name", "is required")
    return cleaned


def create_contacts(
    session: Session,
    tenant_id: int,
    contacts: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    origin_connection_id: int | None = None,
) -> list[int]:
    """Add many contacts, each ``(customer_id, values from prepare_contact)``, with a few
    bulk writes (``customers.bulk``) and an outbox row each; returns their ids in order. The caller has
    checked that the customers are live. None may be primary (making one primary demotes
    another, which :func:`add_contact` does one at a time)."""
    if any(PRIMARY in values.get("roles", []) for _, values in contacts):
        raise InvalidInput.single("roles", "a primary contact is added with add_contact")
    if not contacts:
        return []
    now = utcnow()
    table = cast(Table, Contact.__table__)
    defaults = {
        "tenant_id": tenant_id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "is_primary": False,
        "roles": [],
        "communications": [],
    }
    items = [{**values, "customer_id": customer_id} for customer_id, values in contacts]
    ids = insert_returning_ids(session, table, table_rows(table, items, defaults))
    outbox = [
        {
            "tenant_id": tenant_id,
            "entity_type": "contact",
            "entity_id": contact_id,
            "operation": "create",
            "fields": sorted(values),
            "origin_connection_id": origin_connection_id,
            "created_at": now,
        }
        for contact_id, (_, values) in zip(ids, contacts, strict=True)
    ]
    insert_rows(session, cast(Table, OutboxEntry.__table__), outbox)
    return ids


def add_contacts(
    session: Session, tenant_id: int, customer_id: int, contacts: Sequence[Mapping[str, Any]]
) -> list[Contact]:
    """Add several contacts at once; at most one of them may be primary."""
    primaries = [
        index
        for index, data in enumerate(contacts)
        if PRIMARY in clean_contact({"roles": data.get("roles")})["roles"]
    ]
    if len(primaries) > 1:
        raise InvalidInput.single(
            "roles",
            f"contacts {', '.join(str(i + 1) for i in primaries)} are all primary; only one can be",
        )
    return [add_contact(session, tenant_id, customer_id, data) for data in contacts]


def update_contact(
    session: Session,
    tenant_id: int,
    contact_id: int,
    changes: Mapping[str, Any],
    *,
    expected_version: int | None = None,
    origin_connection_id: int | None = None,
) -> Contact:
    contact = get_contact(session, tenant_id, contact_id)
    if contact.deleted_at is not None:
        raise Refused(f"contact {contact_id} was removed")
    if expected_version is not None and contact.version != expected_version:
        raise StaleVersion("contact", contact_id, expected_version, contact.version)
    cleaned = clean_contact(
        changes, contact.customer.billing_country, from_crm=origin_connection_id is not None
    )
    if "first_name" in changes and not cleaned.get("first_name"):
        raise InvalidInput.single("first_name", "is required")
    if "roles" in cleaned:
        becomes_primary = PRIMARY in cleaned["roles"]
        if becomes_primary and not contact.is_primary:
            _demote_primary(session, contact.customer_id, contact.id)
        cleaned["is_primary"] = becomes_primary
    changed = [field for field, value in cleaned.items() if getattr(contact, field) != value]
    if not changed:
        return contact
    with guarded(session, "contact", contact_id, expected_version=expected_version):
        for field in changed:
            setattr(contact, field, cleaned[field])
        contact.updated_at = utcnow()
    write_outbox(
        session,
        tenant_id=tenant_id,
        entity_type="contact",
        entity_id=contact.id,
        operation="update",
        fields=changed,
        origin_connection_id=origin_connection_id,
    )
    return contact


def set_primary(session: Session, tenant_id: int, contact_id: int) -> Contact:
    """Make this contact the customer's primary one, demoting the previous primary."""
    contact = get_contact(session, tenant_id, contact_id)
    roles = [*contact.roles, PRIMARY] if PRIMARY not in contact.roles else contact.roles
    return update_contact(session, tenant_id, contact_id, {"roles": roles})


def remove_contact(
    session: Session, tenant_id: int, contact_id: int, *, origin_connection_id: int | None = None
) -> Contact:
    """Soft delete: the contact leaves every list but its row, and history, stay."""
    contact = get_contact(session, tenant_id, contact_id)
    if contact.deleted_at is not None:
        return contact
    contact.deleted_at = utcnow()
    contact.is_primary = False
    contact.updated_at = contact.deleted_at
    session.flush()
    write_outbox(
        session,
        tenant_id=tenant_id,
        entity_type="contact",
        entity_id=contact.id,
        operation="delete",
        fields=["deleted_at"],
        origin_connection_id=origin_connection_id,
    )
    return contact
