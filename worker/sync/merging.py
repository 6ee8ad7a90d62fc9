"""Merging a linked CRM record into its local record, one record at a time.

The three-way merge (``mappings.merge``) against the link's base decides each field; this
module applies its decision: local writes go through the service layer (tagged with the
connection, so they are not pushed back as new changes), conflicts are kept as
``sync_conflicts`` rows, values local won wait in the outbox for the push, and the link
takes the new base (``worker.sync.links``). It decides nothing about which records are
linked: a page (``worker.sync.inbound``), a bulk create (``worker.sync.new_records``) and a
link made by hand (``worker.sync.linking``) hand it a link.
"""

from __future__ import annotations

from typing import Any

from connectors.base import RemoteRecord
from customers import service
from customers.errors import DirectoryError
from customers.models import Contact, Customer
from customers.sync_state import ExternalLink, SyncConflict
from mappings import MergeResult, ObjectMap, RemoteValueError, merge, snapshot
from mappings.merge import unpushed_base
from worker.sync.links import ID_WRITTEN, merged_columns
from worker.sync.page import PageContext


def columns(record: Customer | Contact) -> dict[str, Any]:
    """A local record's values as the maps read them: its columns, and a customer's tags
    (a table of their own)."""
    values = {column.key: getattr(record, column.key) for column in type(record).__table__.columns}
    if isinstance(record, Customer):
        values["tags"] = record.tags
    return values


def local_snapshot(object_map: ObjectMap, local: Customer | Contact) -> dict[str, Any]:
    return snapshot(object_map, columns(local))


def local_record(page: PageContext, link: ExternalLink) -> Customer | Contact:
    """The local record a link points at, deleted or not; an error when it is gone."""
    local = page.side.get(page.session, link.local_id)
    if local is None:
        raise DirectoryError(
            f"{link.local_type} {link.local_id} linked to {link.external_id} is gone"
        )
    return local


def merge_record(page: PageContext, record: RemoteRecord, link: ExternalLink) -> str:
    """Merge the CRM record into the local record it is linked to; the outcome's name."""
    local = local_record(page, link)
    current = columns(local)
    result = merge(
        page.object_map,
        base=link.base or {},
        local=current,
        remote=record.properties,
        local_changed_at=local.updated_at,
        remote_modified_at=record.modified_at,
        region=page.side.region(local),
    )
    if result.converged and page.defer_to_push and page.left_to_push(link):
        # The CRM holds the value of a local change that is still to be pushed: either it
        # was set there too, or a push wrote it and died before committing, and with it
        # what that write replaced unseen (found by its history read, lost on rollback).
        # Merged now, the push would find nothing to write and nobody would look again.
        # Left as it is, the push writes it again and its guard reads the history from
        # the state last merged: what was replaced since, and the other fields' edits.
        page.result.needs_push = True
        return "deferred_to_push"
    if result.problems:
        page.fail(record, RemoteValueError(result.problems, {}))
    changed = bool(result.local_writes)
    if changed:
        page.side.write(page, local, result.local_writes, current)
    _record_conflicts(page, record, link, result)
    _store_base(page, link, record, result)
    if result.remote_writes:
        page.result.needs_push = True
    if changed:
        return "updated"
    return "echo" if not result.conflicts else "unchanged"


def _record_conflicts(
    page: PageContext, record: RemoteRecord, link: ExternalLink, result: MergeResult
) -> None:
    for conflict in result.conflicts:
        page.count("conflicts")
        page.session.add(
            SyncConflict(
                connection_id=page.target.connection_id,
                object_type=page.object_type,
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
    page: PageContext, link: ExternalLink, record: RemoteRecord, result: MergeResult
) -> None:
    # Local won some entries the CRM does not hold yet: their base stays the CRM's value,
    # so the push sees local != base and sends them.
    base = unpushed_base(page.object_map, result, record.properties)
    if result.remote_writes:
        service.write_outbox(
            page.session,
            tenant_id=page.target.tenant_id,
            entity_type=link.local_type,
            entity_id=link.local_id,
            operation="update",
            fields=sorted(result.remote_writes),
        )
    state = merged_columns(record, link.local_id, base, result.fingerprint)
    if not state["base"][ID_WRITTEN]:
        page.result.needs_push = True
    for name, value in state.items():
        setattr(link, name, value)
    page.synced.append(record.external_id)
