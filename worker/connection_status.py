"""How each connection of a tenant is doing: its last run, how far behind the incremental
sync is, unresolved failures, local changes not yet pushed, and the remaining daily API
budget when some process has recorded it in Redis. ``crmsync status`` and the console show
these figures. Read-only; no CRM is called, so figures nobody recorded are "unknown"
rather than guessed.

Outbox depth counts the tenant's outbox rows past the connection's position (cursor kind
``outbox``, ``{"position": N}``; none yet means nothing was delivered).
Cursor lag is the time since the incremental sync last moved: the later of its newest
cursor update and the end of its last successful run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.budget import DAILY_KEY
from connectors.registry import budget_for, limits_for
from customers.models import OutboxEntry
from customers.sync_state import Connection, SyncCursor, SyncFailure, SyncRun
from customers.types import utcnow
from worker import metrics, shared_state
from worker.failures import OPEN, REPLAYED
from worker.settings import Settings
from worker.sync import lifecycle

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _last_run(session: Session, connection_id: int) -> dict[str, Any] | None:
    run = session.scalar(
        select(SyncRun)
        .where(SyncRun.connection_id == connection_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )
    if run is None:
        return None
    return {
        "id": run.id,
        "kind": run.kind,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "outcome": run.outcome,
    }


def _cursor_lag_s(session: Session, connection_id: int) -> float | None:
    moved = session.scalar(
        select(func.max(SyncCursor.updated_at)).where(
            SyncCursor.connection_id == connection_id, SyncCursor.kind == "incremental"
        )
    )
    finished = session.scalar(
        select(func.max(SyncRun.finished_at)).where(
            SyncRun.connection_id == connection_id,
            SyncRun.kind == "incremental",
            SyncRun.outcome == "ok",
        )
    )
    latest = max((moment for moment in (moved, finished) if moment is not None), default=None)
    return round((utcnow() - latest).total_seconds(), 1) if latest else None


def _failures(session: Session, connection_id: int) -> dict[str, int]:
    rows = session.execute(
        select(SyncFailure.status, func.count())
        .where(SyncFailure.connection_id == connection_id, SyncFailure.status.in_((OPEN, REPLAYED)))
        .group_by(SyncFailure.status)
    ).all()
    counts = {OPEN: 0, REPLAYED: 0}
    counts.update({status: int(count) for status, count in rows})
    return counts


def _outbox_depth(session: Session, connection: Connection) -> int:
    positions = session.scalars(
        select(SyncCursor.value).where(
            SyncCursor.connection_id == connection.id, SyncCursor.kind == "outbox"
        )
    ).all()
    position = max((int(v.get("position", 0)) for v in positions if isinstance(v, dict)), default=0)
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxEntry)
            .where(OutboxEntry.tenant_id == connection.tenant_id, OutboxEntry.id > position)
        )
        or 0
    )


def api_budget(client: redis.Redis | None, connection: Connection) -> dict[str, Any] | str:
    """The daily budget as recorded in Redis by the processes that spend it, or unknown."""
    if client is None:
        return "unknown"
    try:
        budget = budget_for(
            connection.provider,
            connection.account_id,
            limits=limits_for(connection.provider),
            redis=client,
        )
        if not client.exists(budget.key(DAILY_KEY)):  # type: ignore[attr-defined]
            return "unknown"
        state = budget.state()
    except (redis.RedisError, OSError) as error:  # Redis not answering: say so, not a guess
        log.warning("API budget of connection %s unknown: %s", connection.id, type(error).__name__)
        return "unknown"
    if state.daily_limit is None:
        return {"used_today": state.daily_used, "limit": None, "remaining": None}
    remaining = max(state.daily_limit - state.daily_used, 0)
    return {"used_today": state.daily_used, "limit": state.daily_limit, "remaining": remaining}


def queue_depth() -> int | str:
    try:
        return metrics.queue_depth()
    except (redis.RedisError, OSError) as error:
        log.warning("queue depth unknown: %s", type(error).__name__)
        return "unknown"


def redis_client(settings: Settings) -> redis.Redis | None:
    """The Redis that holds API budgets, or None when there is none (embedded mode)."""
    return shared_state.client(settings)


def queue(settings: Settings) -> dict[str, Any]:
    """The broker's kind and how many jobs wait (shared by all connections)."""
    return {"broker": "redis" if settings.has_broker else "in-process", "depth": queue_depth()}


def connection_status(
    session: Session, connection: Connection, client: redis.Redis | None
) -> dict[str, Any]:
    """One connection's figures (never its credentials)."""
    c = connection
    return {
        "id": c.id,
        "name": c.name,
        "provider": c.provider,
        "account_id": c.account_id,
        "status": c.status,
        "status_reason": c.status_reason,
        "next_step": lifecycle.hint(c),
        "last_run": _last_run(session, c.id),
        "cursor_lag_s": _cursor_lag_s(session, c.id),
        "failures": _failures(session, c.id),
        "outbox_depth": _outbox_depth(session, c),
        "api_budget": api_budget(client, c),
    }


def tenant_status(
    session: Session, tenant_id: int, client: redis.Redis | None
) -> list[dict[str, Any]]:
    """Every connection of the tenant, by id."""
    connections = session.scalars(
        select(Connection).where(Connection.tenant_id == tenant_id).order_by(Connection.id)
    ).all()
    return [connection_status(session, c, client) for c in connections]
