"""What the webhooks app does with events that passed every check: remember them, then
enqueue the records they name.

Both CRMs deliver at least once, out of order, and HubSpot's ``eventId`` is not unique, so
each event gets a dedupe key built from what it says (see each CRM's ``webhooks`` module in
``connectors``) and is stored once in ``webhook_events`` (unique per connection). Only events stored *now* have
their records enqueued: their ids join the pending ids of their (connection, object type)
in :mod:`worker.pending`, oldest occurrence first, and a ``sync_pending`` job is sent only
when none is on its way already. That job takes up to 100 pending ids and fetches their
current state, so many requests naming records of one connection become few jobs.

Ordering inside one request: rows are written (and flushed) first, then ids are added
and jobs sent, then the caller's transaction commits. If sending fails, the transaction
rolls back and the CRM redelivers (the ids already added stay pending, which does no
harm); if the commit fails after sending, a redelivery enqueues the records once more,
which the idempotent sync shrugs off. Never the other way round: events stored but never
enqueued would be deduplicated away forever.

This module must not call a CRM or parse requests; it takes parsed :class:`Event` values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.webhooks import Event
from customers.sync_state import Connection, ConnectionStatus, WebhookEvent
from customers.types import utcnow
from worker import metrics, shared_state
from worker.jobs.enqueue import SYNC_PENDING
from worker.pending import PendingStore

log = logging.getLogger(__name__)

Send = Callable[..., Any]
Pending = tuple[str, float]  # an external id and when it occurred, in ms since the epoch


@dataclass
class Accepted:
    events: int = 0
    duplicates: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    records: int = 0  # ids added to the pending ones
    jobs: list[tuple[int, str]] = field(default_factory=list)  # sync_pending jobs sent


def connections_for(
    session: Session, provider: str, account_ids: Iterable[str]
) -> dict[str, Connection]:
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    rows = session.scalars(
        select(Connection).where(Connection.provider == provider, Connection.account_id.in_(wanted))
    )
    return {row.account_id: row for row in rows}


def accept(
    session: Session,
    provider: str,
    events: Sequence[Event],
    connections: Mapping[str, Connection],
    *,
    send: Send,
    pending: PendingStore | None = None,
) -> Accepted:
    """Store the new events of known, active connections and enqueue their records.

    ``pending`` defaults to the shared state's store (``worker.shared_state``)."""
    outcome = Accepted(events=len(events))
    fresh: dict[tuple[int, str], Event] = {}
    for event in events:
        connection = connections.get(event.account_id)
        if connection is None:
            _ignore(outcome, "unknown_account")
        elif connection.status != ConnectionStatus.ACTIVE:
            # A paused or auth_failed connection catches up by polling when it resumes, a
            # removed one never syncs again; the CRM must not retry for a day meanwhile, so
            # the event is acknowledged and dropped (counted under this reason).
            _ignore(outcome, "connection_not_active")
            log.info(
                "%s event of connection %s dropped: it is %s",
                provider,
                connection.id,
                connection.status,
            )
        elif not event.records:
            _ignore(outcome, "not_synced_object")
        else:
            key = (connection.id, event.dedupe_key)
            if key in fresh:
                outcome.duplicates += 1
            else:
                fresh[key] = event
    stored = _store(session, fresh)
    outcome.duplicates += len(fresh) - len(stored)
    waiting = pending or shared_state.pending_ids()
    for (connection_id, object_type), ids in _group([(pair[0], fresh[pair]) for pair in stored]):
        outcome.records += len(ids)
        if waiting.add(connection_id, object_type, ids):
            try:
                send(SYNC_PENDING, connection_id, object_type)
            except BaseException:
                # Nothing is on its way after all: the next add (a redelivery) sends it.
                waiting.disarm(connection_id, object_type)
                raise
            outcome.jobs.append((connection_id, object_type))
    now = utcnow()
    for pair in stored:
        occurred = fresh[pair].occurred_at
        if occurred is not None:
            metrics.event_lag.labels(provider).observe(max((now - occurred).total_seconds(), 0))
    _count(provider, outcome, new=len(stored))
    return outcome


def _ignore(outcome: Accepted, reason: str) -> None:
    outcome.ignored[reason] = outcome.ignored.get(reason, 0) + 1


def _count(provider: str, outcome: Accepted, *, new: int) -> None:
    metrics.events_received.labels(provider).inc(outcome.events)
    metrics.events_duplicate.labels(provider).inc(outcome.duplicates)
    metrics.events_enqueued.labels(provider).inc(new)
    metrics.jobs_enqueued.labels(provider).inc(len(outcome.jobs))
    for reason, count in outcome.ignored.items():
        metrics.events_ignored.labels(provider, reason).inc(count)


def _store(session: Session, fresh: Mapping[tuple[int, str], Event]) -> list[tuple[int, str]]:
    """Insert the events not seen before; returns the (connection, key) pairs inserted.

    ``ON CONFLICT DO NOTHING`` keeps two concurrent deliveries of one event from both
    counting it as new (a select-then-insert would race)."""
    if not fresh:
        return []
    now = utcnow()
    rows = [
        {
            "connection_id": connection_id,
            "dedupe_key": key,
            "occurred_at": event.occurred_at,
            "received_at": now,
            "payload": event.payload,
            "status": "enqueued",
        }
        for (connection_id, key), event in fresh.items()
    ]
    statement = _insert_ignoring_duplicates(session).values(rows)
    result = session.execute(
        statement.returning(WebhookEvent.connection_id, WebhookEvent.dedupe_key)
    )
    inserted = {(int(connection_id), str(key)) for connection_id, key in result}
    # Keep the request's order: the order of ids inside a job follows occurrence.
    return [pair for pair in fresh if pair in inserted]


def _insert_ignoring_duplicates(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(WebhookEvent).on_conflict_do_nothing(
            index_elements=["connection_id", "dedupe_key"]
        )
    if dialect == "sqlite":
        return sqlite.insert(WebhookEvent).on_conflict_do_nothing(
            index_elements=["connection_id", "dedupe_key"]
        )
    raise NotImplementedError(f"webhook dedupe needs ON CONFLICT support, not {dialect}")


def _group(events: Sequence[tuple[int, Event]]) -> list[tuple[tuple[int, str], list[Pending]]]:
    """Per (connection, object type): each distinct id with its earliest occurrence in ms."""
    grouped: dict[tuple[int, str], dict[str, float]] = {}
    for connection_id, event in events:
        # Events without a time sort first.
        occurred_ms = event.occurred_at.timestamp() * 1000 if event.occurred_at else 0.0
        for object_type, external_id in event.records:
            ids = grouped.setdefault((connection_id, object_type), {})
            ids[external_id] = min(ids.get(external_id, occurred_ms), occurred_ms)
    return [(key, list(ids.items())) for key, ids in grouped.items()]
