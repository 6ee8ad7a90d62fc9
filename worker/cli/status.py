"""``crmsync status``: how each connection is doing, at a glance.

Per connection: its state (and, when it does no work, why and what to do next), its last
run, how far behind the incremental sync is, unresolved failures, local changes not yet
pushed, and the remaining daily API budget when some
process has recorded it in Redis. The broker's queue depth is shown once (all connections
share the queue). Read-only; no CRM is called, so figures nobody recorded are "unknown"
rather than guessed.

Outbox depth counts the tenant's outbox rows past the connection's position (cursor kind
``outbox``, ``{"position": N}``; none yet means nothing was delivered).
Cursor lag is the time since the incremental sync last moved: the later of its newest
cursor update and the end of its last successful run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import redis
import typer
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.budget import DAILY_KEY
from connectors.registry import budget_for, limits_for
from customers.models import OutboxEntry
from customers.sync_state import Connection, SyncCursor, SyncFailure, SyncRun
from customers.types import utcnow
from worker import metrics
from worker.cli.common import console, handles_errors, print_json, unit_of_work
from worker.failures import OPEN, REPLAYED
from worker.settings import get_settings
from worker.shared_redis import shared_client
from worker.sync import lifecycle

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


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
    return {"id": run.id, "kind": run.kind, "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at), "outcome": run.outcome}  # fmt: skip


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


def _budget(client: redis.Redis | None, connection: Connection) -> dict[str, Any] | str:
    """The daily budget as recorded in Redis by the processes that spend it, or unknown."""
    if client is None:
        return "unknown"
    try:
        budget = budget_for(connection.provider, connection.account_id,
                            limits=limits_for(connection.provider), redis=client)  # fmt: skip
        if not client.exists(budget.key(DAILY_KEY)):  # type: ignore[attr-defined]
            return "unknown"
        state = budget.state()
    except Exception:
        return "unknown"
    if state.daily_limit is None:
        return {"used_today": state.daily_used, "limit": None, "remaining": None}
    remaining = max(state.daily_limit - state.daily_used, 0)
    return {"used_today": state.daily_used, "limit": state.daily_limit, "remaining": remaining}


def _queue_depth() -> int | str:
    try:
        return metrics.queue_depth()
    except Exception:
        return "unknown"


@handles_errors
def status(as_json: JsonFlag = False) -> None:
    """Per connection: last run, cursor lag, failures, outbox depth, API budget; and the queue."""
    settings = get_settings()
    client = shared_client(settings)
    with unit_of_work() as (session, tenant_id):
        connections = session.scalars(
            select(Connection).where(Connection.tenant_id == tenant_id).order_by(Connection.id)
        ).all()
        rows: list[dict[str, Any]] = [
            {
                "id": c.id, "name": c.name, "provider": c.provider, "account_id": c.account_id,
                "status": c.status, "status_reason": c.status_reason,
                "next_step": lifecycle.hint(c), "last_run": _last_run(session, c.id),
                "cursor_lag_s": _cursor_lag_s(session, c.id), "failures": _failures(session, c.id),
                "outbox_depth": _outbox_depth(session, c), "api_budget": _budget(client, c),
            }
            for c in connections
        ]  # fmt: skip
    queue = {"broker": "redis" if settings.has_broker else "in-process", "depth": _queue_depth()}
    if as_json:
        print_json({"queue": queue, "connections": rows})
        return
    table = Table(title="connections", title_justify="left")
    for column in (
        "id",
        "name",
        "status",
        "last run",
        "lag",
        "failures",
        "outbox",
        "API budget left",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        run = row["last_run"]
        budget = row["api_budget"]
        table.add_row(
            str(row["id"]), f"{row['name']} ({row['provider']} {row['account_id']})", row["status"],
            f"{run['kind']} {run['outcome']} {str(run['started_at'])[:19]}" if run else "never",
            f"{row['cursor_lag_s']:.0f}s" if row["cursor_lag_s"] is not None else "unknown",
            f"{row['failures'][OPEN]} open, {row['failures'][REPLAYED]} replayed",
            str(row["outbox_depth"]),
            f"{budget['remaining']} of {budget['limit']}" if isinstance(budget, dict) else budget,
        )  # fmt: skip
    console.print(table if rows else "no connections yet (crmsync connect hubspot|salesforce)")
    for row in rows:
        if row["next_step"]:
            # What to do about a connection that does no work, and why it stopped.
            why = f" ({row['status_reason']})" if row["status_reason"] else ""
            console.print(f"connection {row['id']} is {row['status']}{why}", highlight=False)
            console.print(f"  next: {row['next_step']}", highlight=False)
    console.print(f"queue ({queue['broker']}): {queue['depth']} waiting", highlight=False)
