"""A connection's life: pause, resume, remove, change its schedule or map, and fail it
when the CRM refuses its credentials.

::

    active ──pause──> paused ──resume──> active
    active ──CRM refuses the credentials after a refresh──> auth_failed ──resume──> active
    any ──remove──> removed          (connect the account again to bring it back)

Only an active connection is scheduled (``worker.scheduler``), has its webhook events
enqueued (``worker.webhooks.intake``) and runs jobs (``worker.sync.passes``); a job queued
before the change is dropped with a log line when it starts. Resuming needs no catch-up
step: the incremental cursor is where it stopped, so the next scan reads what changed.

Removing deletes the stored credentials and closes the connection's open failures, but
keeps its links, runs, conflicts and failure rows: the history stays readable, and
connecting the same account again reuses the links instead of making every record twice.

This module changes connection rows only; it calls no CRM and sends no job.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from customers.db import transaction
from customers.errors import NotFound, Refused
from customers.sync_state import Connection, ConnectionStatus, SyncFailure
from customers.types import utcnow
from worker.failures import DISMISSED, UNRESOLVED

log = logging.getLogger(__name__)

# The per-connection settings the scheduler reads, in seconds (``worker.scheduler``).
INTERVALS = ("sync_interval_s", "push_interval_s")


class NotActive(Refused):
    """Work was asked of a connection that is paused, failed or removed."""

    def __init__(self, connection: Connection) -> None:
        self.connection_id = connection.id
        self.status = connection.status
        super().__init__(f"connection {connection.id} is {connection.status}: {hint(connection)}")


def hint(connection: Connection) -> str | None:
    """What an operator does next about a connection that is not active."""
    reconnect = f"crmsync connect {connection.provider} ({_account_option(connection)})"
    if connection.status == ConnectionStatus.PAUSED:
        return f"resume it with `crmsync connections resume {connection.id}`"
    if connection.status == ConnectionStatus.AUTH_FAILED:
        return (
            f"{connection.provider} refused its credentials; reconnect with `{reconnect}` "
            f"and new credentials, or, once fixed in the CRM, "
            f"`crmsync connections resume {connection.id}`"
        )
    if connection.status == ConnectionStatus.REMOVED:
        return f"removed; to sync this account again: `{reconnect}`"
    return None


def _account_option(connection: Connection) -> str:
    if connection.provider == "salesforce":
        return f"--org-id {connection.account_id} --instance-url {connection.base_url}"
    return f"--portal-id {connection.account_id}"


def find(session: Session, tenant_id: int, connection_id: int) -> Connection:
    """The tenant's connection; another tenant's is answered like a missing one."""
    connection = session.get(Connection, connection_id)
    if connection is None or connection.tenant_id != tenant_id:
        raise NotFound("connection", connection_id)
    return connection


def _set_status(connection: Connection, status: ConnectionStatus, reason: str | None) -> None:
    connection.status = status.value
    connection.status_reason = reason
    connection.updated_at = utcnow()


def pause(session: Session, tenant_id: int, connection_id: int) -> Connection:
    connection = find(session, tenant_id, connection_id)
    if connection.status == ConnectionStatus.REMOVED:
        raise Refused(f"connection {connection_id} is removed; there is nothing to pause")
    if connection.status != ConnectionStatus.PAUSED:
        # An auth_failed connection paused keeps no note of the failure: resuming tries anew.
        _set_status(connection, ConnectionStatus.PAUSED, "paused by an operator")
    return connection


def resume(session: Session, tenant_id: int, connection_id: int) -> Connection:
    """Paused or auth_failed -> active. For auth_failed the next job tells whether the
    credentials work now (fixed in the CRM); if not, it fails the connection again."""
    connection = find(session, tenant_id, connection_id)
    if connection.status == ConnectionStatus.REMOVED:
        raise Refused(f"connection {connection_id} is removed: {hint(connection)}")
    if connection.status != ConnectionStatus.ACTIVE:
        _set_status(connection, ConnectionStatus.ACTIVE, None)
    return connection


def remove(session: Session, tenant_id: int, connection_id: int) -> Connection:
    """Delete the credentials and stop everything; keep links and history."""
    connection = find(session, tenant_id, connection_id)
    if connection.status == ConnectionStatus.REMOVED:
        return connection
    connection.credentials = None
    _set_status(connection, ConnectionStatus.REMOVED, "removed by an operator")
    # A replay of these would only be dropped; closed, they stop counting as open work.
    session.execute(
        update(SyncFailure)
        .where(SyncFailure.connection_id == connection_id, SyncFailure.status.in_(UNRESOLVED))
        .values(status=DISMISSED, resolution=f"connection {connection_id} removed")
    )
    return connection


def change(
    session: Session,
    tenant_id: int,
    connection_id: int,
    *,
    intervals: dict[str, float] | None = None,
    mapping: str | None = None,
    shipped_mapping: bool = False,
) -> Connection:
    """Change the schedule (``INTERVALS``, seconds) or the map file; ``shipped_mapping``
    goes back to the map that ships with crmsync. The caller checks the map first."""
    connection = find(session, tenant_id, connection_id)
    if connection.status == ConnectionStatus.REMOVED:
        raise Refused(f"connection {connection_id} is removed: {hint(connection)}")
    if intervals:
        unknown = set(intervals) - set(INTERVALS)
        if unknown:
            raise ValueError(f"not a connection interval: {', '.join(sorted(unknown))}")
        # A new dict, so the JSON column sees the change.
        connection.settings = {**(connection.settings or {}), **intervals}
    if shipped_mapping:
        connection.mapping = None
    elif mapping is not None:
        connection.mapping = mapping
    connection.updated_at = utcnow()
    return connection


def ensure_active(connection: Connection) -> None:
    if connection.status != ConnectionStatus.ACTIVE:
        raise NotActive(connection)


def mark_auth_failed(sessions: sessionmaker[Session], connection_id: int, reason: str) -> None:
    """The CRM refused the connection's credentials even after a refresh: stop its jobs
    until an operator reconnects or resumes it. A removed or paused connection stays so."""
    with transaction(sessions) as session:
        connection = session.get(Connection, connection_id)
        if connection is None or connection.status != ConnectionStatus.ACTIVE:
            return
        _set_status(connection, ConnectionStatus.AUTH_FAILED, reason[:2000])
    log.warning(
        "connection %s: credentials refused; no jobs until resumed: %s", connection_id, reason
    )


def view(connection: Connection) -> dict[str, Any]:
    """A connection as the CLI prints it (never its credentials)."""
    settings = connection.settings or {}
    return {
        "id": connection.id,
        "provider": connection.provider,
        "account_id": connection.account_id,
        "name": connection.name,
        "status": connection.status,
        "status_reason": connection.status_reason,
        "next_step": hint(connection),
        "auto_create": connection.auto_create,
        "mapping": connection.mapping,
        "sync_interval_s": settings.get("sync_interval_s"),
        "push_interval_s": settings.get("push_interval_s"),
        "has_credentials": connection.credentials is not None,
        "salesforce_webhook_path": f"/webhooks/salesforce/{connection.webhook_token}"
        if connection.provider == "salesforce" and connection.webhook_token
        else None,
    }
