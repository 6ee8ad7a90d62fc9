"""Linking a customer to a CRM record by hand (``crmsync customers link``), and unlinking.

A link is the only way a CRM record and a customer are the same (the sync's first rule),
so making one by hand keeps every rule the sync keeps when it links:

- the record is read from the CRM first: one that does not exist, was deleted or was
  merged into another is refused;
- a record linked to any customer of the tenant is refused, naming that customer; so is
  a customer linked to another record of the connection (one record per connection);
- a record that carries the id of another live customer of the tenant (a record made from
  that customer) is refused too;
- the link is written as the sync writes one (``PageContext.new_link``), with an empty
  base, and the record merged in the same transaction by the sync's own three-way merge
  (``worker.sync.merging``): where one side is empty the other fills it; where both hold
  different values, the field's sync rule decides and a ``sync_conflicts`` row keeps both
  values, so nothing is overwritten unseen. Values the CRM fills are written locally through the service layer; values
  local fills, and our id in the record, go out through the outbox as every local change
  does (the caller may push them at once with a ``push_records`` job).

Both writes happen under the connection's one-writer lock and the tenant's creation guard,
in the order the sync takes them, and the checks are made again once they are held.

Unlinking removes the link and takes our id out of the CRM record, so the sync does not
take the record for the customer's own again; neither record is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors import hubspot, salesforce
from connectors.base import Connector, RemoteRecord, WriteRequest
from connectors.errors import NotFound as RecordNotFound
from customers import service
from customers.db import transaction
from customers.errors import InvalidInput, NotFound, Refused
from customers.models import Customer, OutboxEntry
from customers.sync_state import Connection, ConnectionStatus, ExternalLink, SyncConflict
from customers.types import as_id
from worker import shared_state
from worker.locks import Locks, lock_connection
from worker.sync import connections, lifecycle
from worker.sync.merging import columns, merge_record
from worker.sync.sides import page_context
from worker.sync.target import SyncTarget

MAX_EXTERNAL_ID = 64  # the column's length


@dataclass
class LinkOutcome:
    """What linking did: the fields each side filled and the conflicts the rules decided."""

    customer_id: int
    connection_id: int
    provider: str
    object_type: str
    external_id: str
    filled_locally: dict[str, Any] = field(default_factory=dict)  # local field -> CRM's value
    to_push: list[str] = field(default_factory=list)  # CRM properties local values fill
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    needs_push: bool = False  # local values (or our id) wait in the outbox for the CRM

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "connection_id": self.connection_id,
            "crm": self.provider,
            "object_type": self.object_type,
            "external_id": self.external_id,
            "filled_locally": self.filled_locally,
            "to_push": self.to_push,
            "conflicts": self.conflicts,
        }


@dataclass(frozen=True)
class UnlinkOutcome:
    customer_id: int
    connection_id: int
    provider: str
    object_type: str
    external_id: str
    id_released: bool  # our id was taken out of the CRM record
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "connection_id": self.connection_id,
            "crm": self.provider,
            "object_type": self.object_type,
            "external_id": self.external_id,
            "unlinked": True,
            "id_released": self.id_released,
            "note": self.note,
        }


def _clean_external_id(external_id: str) -> str:
    text = external_id.strip()
    if not text:
        raise InvalidInput.single("--external-id", "is required")
    if len(text) > MAX_EXTERNAL_ID or any(not c.isprintable() or c.isspace() for c in text):
        raise InvalidInput.single("--external-id", f"{text[:40]!r} is not a CRM record id")
    return text


def _check_shape(provider: str, object_type: str, external_id: str) -> None:
    """An id the CRM could not have made is refused here, naming the option, before the CRM
    is asked (Salesforce answers a malformed id with an error, not "not found")."""
    check = {"hubspot": hubspot.record_id_problem, "salesforce": salesforce.record_id_problem}
    problem = check[provider](object_type, external_id) if provider in check else None
    if problem is not None:
        raise InvalidInput.single("--external-id", f"{external_id[:40]!r} {problem}")


def _live_customer(session: Session, tenant_id: int, customer_id: int) -> Customer:
    customer = service.get_customer(session, tenant_id, customer_id)
    if customer.deleted_at is not None:
        raise Refused(f"customer {customer_id} is deleted; it is kept for history only")
    return customer


def _check_free(
    session: Session, target: SyncTarget, customer_id: int, object_type: str, external_id: str
) -> None:
    """Refuse a record linked to any customer of the tenant, and a customer linked to
    another record of this connection."""
    taken = session.scalar(
        select(ExternalLink)
        .join(Connection, Connection.id == ExternalLink.connection_id)
        .where(
            Connection.tenant_id == target.tenant_id,
            ExternalLink.connection_id == target.connection_id,
            ExternalLink.object_type == object_type,
            ExternalLink.external_id == external_id,
        )
    )
    if taken is not None:
        which = "this customer" if taken.local_id == customer_id else f"customer {taken.local_id}"
        raise Refused(f"{target.provider} {object_type} {external_id} is already linked to {which}")
    linked = session.scalar(
        select(ExternalLink.external_id).where(
            ExternalLink.connection_id == target.connection_id,
            ExternalLink.object_type == object_type,
            ExternalLink.local_type == "customer",
            ExternalLink.local_id == customer_id,
        )
    )
    if linked is not None:
        raise Refused(
            f"customer {customer_id} is already linked to {target.provider} {object_type} "
            f"{linked} on connection {target.connection_id}; unlink it first"
        )


def _check_record(session: Session, tenant_id: int, customer_id: int, record: RemoteRecord) -> None:
    """A record that carries another live customer's id was made from that customer."""
    carried = as_id(record.local_id)
    if carried is None or carried == customer_id:
        return
    other = session.get(Customer, carried)
    if other is not None and other.tenant_id == tenant_id and other.deleted_at is None:
        raise Refused(
            f"{record.object_type} {record.external_id} carries the id of customer {carried} "
            "(it was created from that customer)"
        )


def _read(connector: Connector, object_type: str, external_id: str, provider: str) -> RemoteRecord:
    records = connector.fetch(object_type, [external_id])
    record = next((r for r in records if r.external_id == external_id), None)
    if record is not None and record.merged_into:
        raise Refused(
            f"{provider} {object_type} {external_id} was merged into {record.merged_into}; "
            "link that record instead"
        )
    if record is None or record.archived:
        raise NotFound(f"{provider} {object_type}", external_id)
    return record


def link_customer(
    sessions: sessionmaker[Session],
    tenant_id: int,
    customer_id: int,
    connection_id: int,
    external_id: str,
    *,
    connector: Connector | None = None,
    locks: Locks | None = None,
) -> LinkOutcome:
    """Link the customer to the connection's CRM record ``external_id`` and merge the two
    (see the module docstring). Raises a directory error (nothing written) when refused,
    and a connector error when the CRM cannot be read."""
    external_id = _clean_external_id(external_id)
    with transaction(sessions) as session:
        connection = lifecycle.find(session, tenant_id, connection_id)
        lifecycle.ensure_active(connection)
        target = SyncTarget.from_connection(connection)
        object_type = target.parent_type
        _check_shape(target.provider, object_type, external_id)
        _live_customer(session, tenant_id, customer_id)
        _check_free(session, target, customer_id, object_type, external_id)
        connector = connector or connections.reusable_connector(connection)
    record = _read(connector, object_type, external_id, target.provider)
    outcome = LinkOutcome(customer_id, connection_id, target.provider, object_type, external_id)
    locks = locks or shared_state.locks()
    with locks.hold(f"connection:{connection_id}"), transaction(sessions) as session:
        lock_connection(session, connection_id)
        service.guard_tenant(session, tenant_id)
        customer = _live_customer(session, tenant_id, customer_id)
        _check_free(session, target, customer_id, object_type, external_id)
        _check_record(session, tenant_id, customer_id, record)
        before = columns(customer)
        outbox_before = session.scalar(select(func.max(OutboxEntry.id))) or 0
        page = page_context(session, target, object_type)
        link = page.new_link(record, customer_id)
        session.add(link)
        session.flush()
        merge_record(page, record, link)
        session.refresh(customer)
        after = columns(customer)
        outcome.filled_locally = {
            key: _plain(after[key])
            for key in sorted(after)
            if after[key] != before[key] and key not in ("version", "updated_at")
        }
        outcome.to_push = sorted(
            {
                name
                for fields in session.scalars(
                    select(OutboxEntry.fields).where(
                        OutboxEntry.id > outbox_before,
                        OutboxEntry.entity_type == "customer",
                        OutboxEntry.entity_id == customer_id,
                        OutboxEntry.origin_connection_id.is_(None),
                    )
                )
                for name in fields
            }
        )
        outcome.conflicts = [
            {
                "field": row.field,
                "local": row.local_value,
                "crm": row.remote_value,
                "kept": row.resolved_value,
                "rule": row.rule,
            }
            for row in session.scalars(
                select(SyncConflict)
                .where(
                    SyncConflict.connection_id == connection_id,
                    SyncConflict.object_type == object_type,
                    SyncConflict.external_id == external_id,
                    SyncConflict.local_id == customer_id,
                )
                .order_by(SyncConflict.id)
            )
        ]
        outcome.needs_push = page.result.needs_push
    return outcome


def _plain(value: Any) -> Any:
    return (
        value
        if value is None or isinstance(value, str | int | float | bool | dict | list)
        else str(value)
    )


def unlink_customer(
    sessions: sessionmaker[Session],
    tenant_id: int,
    customer_id: int,
    connection_id: int,
    *,
    connector: Connector | None = None,
    locks: Locks | None = None,
) -> UnlinkOutcome:
    """Remove the customer's link on this connection and take our id out of the CRM
    record (so the sync does not take the record for this customer's again). When the
    connection is not active (paused, failed, removed) only the link is removed, and the
    outcome says so. Neither record is deleted; the customer's contacts keep their links."""
    with transaction(sessions) as session:
        connection = lifecycle.find(session, tenant_id, connection_id)
        service.get_customer(session, tenant_id, customer_id)
        target = SyncTarget.from_connection(connection)
        object_type = target.parent_type
        link = _link_of(session, connection_id, object_type, customer_id)
        external_id = link.external_id
        active = connection.status == ConnectionStatus.ACTIVE
        if active:
            connector = connector or connections.reusable_connector(connection)
    note = None
    if active:
        assert connector is not None
        # Our id written empty: the record keeps every other value it has.
        request = WriteRequest(object_type, local_id="", properties={}, external_id=external_id)
        result = connector.upsert(object_type, [request])[0]
        if isinstance(result.error, RecordNotFound):
            note = f"the CRM record {external_id} is gone (deleted or merged): nothing to clear"
        elif result.error is not None:
            raise result.error
    else:
        note = (
            f"connection {connection_id} is {connection.status}: the CRM record still "
            "carries this customer's id"
        )
    locks = locks or shared_state.locks()
    with locks.hold(f"connection:{connection_id}"), transaction(sessions) as session:
        lock_connection(session, connection_id)
        link = _link_of(session, connection_id, object_type, customer_id)
        if link.external_id != external_id:
            raise Refused(f"customer {customer_id}'s link changed meanwhile; try again")
        session.delete(link)
    released = active and note is None
    return UnlinkOutcome(
        customer_id, connection_id, target.provider, object_type, external_id, released, note
    )


def _link_of(
    session: Session, connection_id: int, object_type: str, customer_id: int
) -> ExternalLink:
    link = session.scalar(
        select(ExternalLink).where(
            ExternalLink.connection_id == connection_id,
            ExternalLink.object_type == object_type,
            ExternalLink.local_type == "customer",
            ExternalLink.local_id == customer_id,
        )
    )
    if link is None:
        raise NotFound(f"link of customer {customer_id} on connection", connection_id)
    return link
