"""Pruning old sync history: received webhook events, pushed outbox rows, finished runs
and closed failures older than their ``CRMSYNC_RETENTION_*`` limits.

Rows go in batches of ``CRMSYNC_PRUNE_BATCH_ROWS``, each batch in a short transaction of
its own: the next ids that qualify are read by primary key (a keyset walk from the last
one), deleted with the rule checked again, and committed. No transaction holds locks or
keeps old row versions alive for long, and a prune stopped half-way has removed whole
batches and simply runs again.

What a connection still needs is never taken, however old:

- an outbox row that a connection of its tenant has not pushed past (its ``outbox``
  cursor, ``worker.sync.outbound``; a connection without one would start at 0, so its
  tenant's rows all stay). Rows of a tenant without connections go by age: a new
  connection starts at the end of the outbox. A push reads every tenant's rows to tell a
  missing id (a change not yet committed) from a gap; another tenant's pruned rows leave
  such gaps, and a push waits at one only while the row after it is younger than
  ``OUTBOX_GAP_WAIT_S``: a delay of that much at most, never a lost change;
- a failure that is open or replayed (only resolved and dismissed ones go);
- a run that is still running.

It runs for every tenant, by these rules alone. It must not delete anything the sync
reads as state: customers, contacts, links, cursors, conflicts, reviews.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from customers.db import transaction
from customers.models import OutboxEntry
from customers.sync_state import Connection, ConnectionStatus, SyncFailure, SyncRun, WebhookEvent
from customers.types import utcnow
from worker.failures import DISMISSED, RESOLVED
from worker.jobs import shutdown
from worker.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 5000
TABLES = ("webhook_events", "outbox", "sync_runs", "sync_failures")


@dataclass(frozen=True)
class Retention:
    """Days each kind of history is kept; ``None`` (or 0) keeps it forever."""

    webhook_events_days: int | None = 14
    outbox_days: int | None = 30
    runs_days: int | None = 90
    failures_days: int | None = 90

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            webhook_events_days=settings.retention_webhook_events_days,
            outbox_days=settings.retention_outbox_days,
            runs_days=settings.retention_runs_days,
            failures_days=settings.retention_failures_days,
        )

    @property
    def keeps_everything(self) -> bool:
        return not any(self.days(table) for table in TABLES)

    def days(self, table: str) -> int | None:
        days = {
            "webhook_events": self.webhook_events_days,
            "outbox": self.outbox_days,
            "sync_runs": self.runs_days,
            "sync_failures": self.failures_days,
        }[table]
        return days or None


@dataclass
class TablePrune:
    """What the prune removed from one table (or, in a dry run, would remove)."""

    table: str
    older_than: datetime | None  # None: kept forever
    rows: int = 0
    transactions: int = 0
    longest_transaction_ms: float = 0.0


@dataclass
class PruneReport:
    dry_run: bool
    batch_rows: int
    tables: dict[str, TablePrune] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables.values())

    @property
    def transactions(self) -> int:
        return sum(table.transactions for table in self.tables.values())

    @property
    def longest_transaction_ms(self) -> float:
        return max((t.longest_transaction_ms for t in self.tables.values()), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        tables = {}
        for name, table in self.tables.items():
            data = asdict(table)
            data["older_than"] = table.older_than.isoformat() if table.older_than else None
            data["longest_transaction_ms"] = round(table.longest_transaction_ms, 1)
            del data["table"]
            tables[name] = data
        return {
            "dry_run": self.dry_run,
            "batch_rows": self.batch_rows,
            "rows": self.rows,
            "transactions": self.transactions,
            "longest_transaction_ms": round(self.longest_transaction_ms, 1),
            "tables": tables,
        }


def prune(
    sessions: sessionmaker[Session],
    retention: Retention,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneReport:
    """Delete history older than ``retention`` from every tenant, ``batch_rows`` rows per
    transaction; a dry run reads the same batches and deletes nothing."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    now = now or utcnow()
    report = PruneReport(dry_run=dry_run, batch_rows=batch_rows)
    for table in TABLES:
        days = retention.days(table)
        horizon = now - timedelta(days=days) if days else None
        result = report.tables[table] = TablePrune(table, horizon)
        if horizon is None:
            continue
        for id_column, rule in _rules(sessions, table, horizon):
            _delete_in_batches(sessions, id_column, rule, batch_rows, dry_run, result)
        log.info(
            "prune: %s %d %s row(s) older than %s in %d transaction(s), longest %.0f ms",
            "would delete" if dry_run else "deleted",
            result.rows,
            table,
            horizon.isoformat(timespec="seconds"),
            result.transactions,
            result.longest_transaction_ms,
        )
    return report


Rule = tuple[InstrumentedAttribute[int], ColumnElement[bool]]


def _rules(sessions: sessionmaker[Session], table: str, horizon: datetime) -> Iterator[Rule]:
    """The primary key to walk and what a row must be to go, per table (the outbox has one
    rule per tenant with connections, and one for the tenants without)."""
    if table == "webhook_events":
        yield WebhookEvent.id, WebhookEvent.received_at < horizon
    elif table == "sync_runs":
        yield SyncRun.id, and_(SyncRun.started_at < horizon, SyncRun.outcome != "running")
    elif table == "sync_failures":
        closed = SyncFailure.status.in_((RESOLVED, DISMISSED))
        yield SyncFailure.id, and_(closed, SyncFailure.last_failed_at < horizon)
    elif table == "outbox":
        old = OutboxEntry.created_at < horizon
        pushed = _pushed_per_tenant(sessions)
        for tenant_id, position in sorted(pushed.items()):
            if position > 0:
                passed = and_(OutboxEntry.tenant_id == tenant_id, OutboxEntry.id <= position)
                yield OutboxEntry.id, and_(passed, old)
        yield OutboxEntry.id, and_(OutboxEntry.tenant_id.not_in(list(pushed)), old)
    else:
        raise ValueError(f"no retention rule for {table!r}")


def _pushed_per_tenant(sessions: sessionmaker[Session]) -> dict[int, int]:
    """Tenant -> the outbox id every one of its connections has pushed past.

    Read once, before deleting: a position only moves forward, so a stale one keeps more,
    never less; and a connection added meanwhile starts at the end of the outbox."""
    # Here, not at the top: the scheduler reads ``Retention`` and must not load the sync.
    from worker.sync.outbound import outbox_positions

    with transaction(sessions) as session:
        positions = outbox_positions(session)
        pushed: dict[int, int] = {}
        # A removed connection holds nothing back: it pushes no more, and connecting its
        # account again catches up with a reconcile (a full pass merges every record).
        for connection_id, tenant_id in session.execute(
            select(Connection.id, Connection.tenant_id).where(
                Connection.status != ConnectionStatus.REMOVED
            )
        ):
            position = positions.get(connection_id, 0)
            pushed[tenant_id] = min(pushed.get(tenant_id, position), position)
        return pushed


def _delete_in_batches(
    sessions: sessionmaker[Session],
    id_column: InstrumentedAttribute[int],
    rule: ColumnElement[bool],
    batch_rows: int,
    dry_run: bool,
    result: TablePrune,
) -> None:
    model = id_column.class_
    after = 0
    while True:
        shutdown.raise_if_stopping()
        started = time.perf_counter()
        with transaction(sessions) as session:
            ids = list(
                session.scalars(
                    select(id_column)
                    .where(id_column > after, rule)
                    .order_by(id_column)
                    .limit(batch_rows)
                )
            )
            removed = len(ids)
            if ids and not dry_run:
                # The rule again: a row may have changed since it was read (a failure
                # reopened); it then stays.
                statement = (
                    delete(model)
                    .where(id_column.in_(ids), rule)
                    .execution_options(synchronize_session=False)
                )
                outcome: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
                removed = outcome.rowcount
        elapsed_ms = (time.perf_counter() - started) * 1000
        result.transactions += 1
        result.longest_transaction_ms = max(result.longest_transaction_ms, elapsed_ms)
        result.rows += removed
        if len(ids) < batch_rows:
            return
        after = ids[-1]
