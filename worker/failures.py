"""Failure rows: what failed for good, with everything needed to replay it.

One open row per thing that failed (connection, direction, object, id): a thing that keeps
failing bumps ``attempts`` and ``last_failed_at`` instead of piling up rows. Payloads hold
ids and arguments, never credentials.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.errors import ConnectorError
from customers.sync_state import SyncFailure
from customers.types import utcnow

OPEN = "open"
MAX_MESSAGE = 4000


def classify(error: BaseException) -> tuple[str, str | None, str]:
    """(error class, CRM code, message) for a failure row."""
    if isinstance(error, ConnectorError):
        return error.kind, error.code, str(error)[:MAX_MESSAGE]
    return "internal", type(error).__name__, str(error)[:MAX_MESSAGE] or type(error).__name__


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
    row = session.scalar(
        select(SyncFailure).where(
            SyncFailure.status == OPEN,
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
    session.flush()
    return row
