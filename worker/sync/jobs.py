"""The sync actors: thin, they take ids, run a pass, return.

Their failures follow the taxonomy through ``worker.jobs.job``; their names and arguments
are the contract in ``worker.enqueue``.
"""

from __future__ import annotations

from worker.database import sessions
from worker.jobs import job
from worker.sync.passes import Sync


@job(direction="inbound", records_args=(1, 2))
def sync_records(connection_id: int, object_type: str, external_ids: list[str]) -> None:
    """Fetch these CRM records (batched) and apply their current state."""
    Sync(connection_id, sessions=sessions()).records(object_type, external_ids)


@job(direction="inbound")
def sync_changes(connection_id: int, object_type: str | None = None) -> None:
    """Apply what changed in the CRM since the saved cursor."""
    Sync(connection_id, sessions=sessions()).incremental(object_type)


@job(direction="inbound", time_limit=6 * 3600 * 1000)
def reconcile(connection_id: int) -> None:
    """A full pass both ways: finds deletes, merges, drift and records the CRM lacks."""
    Sync(connection_id, sessions=sessions()).reconcile()


@job(direction="outbound")
def push_changes(connection_id: int) -> None:
    """Drain the outbox to the connection's CRM (after reading the CRM's changes)."""
    Sync(connection_id, sessions=sessions()).push()


@job(direction="outbound")
def push_records(connection_id: int, local_type: str, local_ids: list[int]) -> None:
    """Push these local records now (replays of outbound failures)."""
    Sync(connection_id, sessions=sessions()).push_records(local_type, local_ids)
