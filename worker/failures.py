"""Failure rows: what failed for good, with everything needed to replay it.

One row per thing that failed (connection, direction, object, id) while it is unresolved:
a thing that keeps failing, or fails again after a replay, bumps ``attempts`` and
``last_failed_at`` on the same row instead of piling up rows. When the thing later syncs
successfully, :func:`resolve_failures` closes its rows. Payloads hold ids and arguments
(see ``worker.jobs.enqueue``), never credentials.

Statuses: open -> replayed (an operator re-sent it) -> resolved (it went through) or back to
open (it failed again); dismissed (an operator decided to ignore it).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connectors.errors import ConnectorError
from customers.errors import DirectoryError
from customers.models import Customer
from customers.sync_state import Connection, SyncFailure
from customers.types import utcnow

OPEN = "open"
REPLAYED = "replayed"
RESOLVED = "resolved"
DISMISSED = "dismissed"
UNRESOLVED = (OPEN, REPLAYED)
MAX_MESSAGE = 4000
PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the folder holding worker/


def classify(error: BaseException) -> tuple[str, str | None, str]:
    """(error class, CRM code, message) for a failure row."""
    if isinstance(error, ConnectorError):
        return error.kind, error.code, str(error)[:MAX_MESSAGE]
    message = str(error) or type(error).__name__
    if not isinstance(error, DirectoryError):  # a bug: say where, as the message seldom does
        message = f"{message} ({raised_at(error)})"
    return "internal", type(error).__name__, message[:MAX_MESSAGE]


def describe(error: BaseException) -> str:
    """One line for a run's error: the class and message, and for an error that is not
    one of the taxonomy's (a bug) where it was raised, which the message alone seldom says
    (``'NoneType' object has no attribute 'get'``)."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, ConnectorError | DirectoryError):
        return text
    return f"{text} ({raised_at(error)})"


def raised_at(error: BaseException) -> str:
    """``at package/module.py:line in function`` for the innermost frame of the project's
    own code in the error's traceback (the file relative to the project, no machine path)."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename)
        if path.is_relative_to(PROJECT_ROOT) and ".venv" not in path.parts:
            where = path.relative_to(PROJECT_ROOT).as_posix()
            return f"at {where}:{frame.lineno} in {frame.name}"
    if not frames:
        return "at an unknown place"
    last = frames[-1]  # in a library: its file name only
    return f"at {Path(last.filename).name}:{last.lineno} in {last.name}"


def _tenant_of(
    session: Session, connection_id: int | None, direction: str, local_id: int | None
) -> int | None:
    """The tenant a failure belongs to: its connection's, or (categorization, which has no
    connection) its customer's."""
    if connection_id is not None:
        return session.scalar(select(Connection.tenant_id).where(Connection.id == connection_id))
    if direction == "categorize" and local_id is not None:
        return session.scalar(select(Customer.tenant_id).where(Customer.id == local_id))
    return None


def record_failure(
    session: Session,
    *,
    direction: str,
    error: BaseException,
    payload: dict[str, Any],
    connection_id: int | None = None,
    object_type: str | None = None,
    external_id: str | None = None,
    local_id: int | None = None,
    attempts: int = 1,
) -> SyncFailure:
    error_class, crm_code, message = classify(error)
    tenant_id = _tenant_of(session, connection_id, direction, local_id)
    row = session.scalar(
        select(SyncFailure).where(
            SyncFailure.status.in_(UNRESOLVED),
            SyncFailure.tenant_id.is_(None)
            if tenant_id is None
            else SyncFailure.tenant_id == tenant_id,
            SyncFailure.connection_id.is_(None)
            if connection_id is None
            else SyncFailure.connection_id == connection_id,
            SyncFailure.direction == direction,
            SyncFailure.object_type.is_(None)
            if object_type is None
            else SyncFailure.object_type == object_type,
            SyncFailure.external_id.is_(None)
            if external_id is None
            else SyncFailure.external_id == external_id,
            SyncFailure.local_id.is_(None)
            if local_id is None
            else SyncFailure.local_id == local_id,
        )
    )
    now = utcnow()
    if row is None:
        row = SyncFailure(
            tenant_id=tenant_id,
            connection_id=connection_id,
            direction=direction,
            object_type=object_type,
            external_id=external_id,
            local_id=local_id,
            first_failed_at=now,
            attempts=0,
        )
        session.add(row)
    row.attempts += attempts
    row.last_failed_at = now
    row.error_class, row.crm_code, row.message = error_class, crm_code, message
    row.payload = payload
    row.status = OPEN
    session.flush()
    return row


def has_open_failures(session: Session, connection_id: int) -> bool:
    """Whether the connection has unresolved failures at all (a cheap check that saves a
    resolve per page in the usual case: none)."""
    return (
        session.scalar(
            select(SyncFailure.id)
            .where(SyncFailure.connection_id == connection_id, SyncFailure.status.in_(UNRESOLVED))
            .limit(1)
        )
        is not None
    )


def resolve_failures(
    session: Session,
    *,
    connection_id: int | None,
    direction: str,
    object_type: str | None,
    external_ids: Iterable[str] = (),
    local_ids: Iterable[int] = (),
    note: str = "synced successfully",
) -> int:
    """Close the unresolved failure rows of records that have now gone through."""
    externals, locals_ = list(external_ids), list(local_ids)
    if not externals and not locals_:
        return 0
    keys = []
    if externals:
        keys.append(SyncFailure.external_id.in_(externals))
    if locals_:
        keys.append(SyncFailure.local_id.in_(locals_))
    result = session.execute(
        update(SyncFailure)
        .where(
            SyncFailure.connection_id.is_(None)
            if connection_id is None
            else SyncFailure.connection_id == connection_id,
            SyncFailure.direction == direction,
            SyncFailure.object_type.is_(None)
            if object_type is None
            else SyncFailure.object_type == object_type,
            SyncFailure.status.in_(UNRESOLVED),
            or_(*keys),
        )
        .values(status=RESOLVED, resolution=note)
    )
    return int(getattr(result, "rowcount", 0) or 0)
