"""The sync actors: thin, they take ids, run a pass, return.

Their failures follow the taxonomy through ``worker.jobs.retry.job``; their names and arguments
are the contract in ``worker.jobs.enqueue``. A job of a connection that was paused, failed or
removed after the job was queued is dropped with a log line, not recorded as a failure:
nothing went wrong, and the connection catches up by scanning when it is active again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connectors.errors import RateLimited
from worker.database import sessions
from worker.jobs import enqueue
from worker.jobs.retry import job
from worker.pending import leased
from worker.settings import get_settings
from worker.sync.lifecycle import NotActive
from worker.sync.passes import Sync

log = logging.getLogger(__name__)


def _sync(connection_id: int, job: str) -> Sync | None:
    try:
        return Sync(connection_id, sessions=sessions())
    except NotActive as inactive:
        log.info("%s job of connection %s dropped: %s", job, connection_id, inactive)
        return None


@job(direction="inbound")
def sync_pending(connection_id: int, object_type: str) -> None:
    """Take up to 100 ids webhooks left pending for this connection and object type, and
    apply their current state.

    The ids are leased until the commit (``worker.pending``). Once this job holds the
    connection's lock it hands over: ids that arrived meanwhile get the next job, which
    fetches while this one writes. When the sync fails the ids go to a ``sync_records``
    job, which retries and records failures as every job does (and whose failure row
    names them for a replay)."""
    store = enqueue.pending_ids()
    handed_over = False

    def hand_over() -> None:
        nonlocal handed_over
        if not handed_over:
            handed_over = True
            if store.hand_over(connection_id, object_type):
                enqueue.send(enqueue.SYNC_PENDING, connection_id, object_type)

    lease_s = get_settings().webhook_lease_s
    try:
        with leased(store, connection_id, object_type, lease_s=lease_s) as taken:
            if taken.more or not taken.ids:
                hand_over()  # over 100 wait: the next job takes them on another thread now
            if taken.ids:
                _sync_taken(connection_id, object_type, taken.ids, on_locked=hand_over)
    finally:
        hand_over()


def _sync_taken(
    connection_id: int, object_type: str, ids: list[str], *, on_locked: Callable[[], None]
) -> None:
    try:
        runner = _sync(connection_id, enqueue.SYNC_PENDING)
        if runner is None:
            return  # the ids are acknowledged: the scan after a resume reads them
        runner.records(object_type, ids, on_locked=on_locked)
    except Exception as error:
        delay_s = error.wait_s if isinstance(error, RateLimited) else None
        enqueue.send(enqueue.SYNC_RECORDS, connection_id, object_type, ids, delay_s=delay_s)
        log.warning(
            "connection %s: %d %s record(s) handed to a sync_records job after %s",
            connection_id, len(ids), object_type, type(error).__name__,
        )  # fmt: skip


@job(direction="inbound", records_args=(1, 2))
def sync_records(connection_id: int, object_type: str, external_ids: list[str]) -> None:
    """Fetch these CRM records (batched) and apply their current state."""
    if (runner := _sync(connection_id, enqueue.SYNC_RECORDS)) is not None:
        runner.records(object_type, external_ids)


# The long passes are interrupted by a worker's shutdown and requeued (``worker.jobs.shutdown``):
# an incremental pass, a push or a reconcile resumes at the cursor it saved with its last
# page. The short jobs finish within the grace period instead.


@job(direction="inbound", notify_shutdown=True)
def sync_changes(connection_id: int, object_type: str | None = None) -> None:
    """Apply what changed in the CRM since the saved cursor."""
    if (runner := _sync(connection_id, enqueue.SYNC_CHANGES)) is not None:
        runner.incremental(object_type)


@job(direction="inbound", time_limit=6 * 3600 * 1000, notify_shutdown=True)
def reconcile(connection_id: int) -> None:
    """A full pass both ways: finds deletes, merges, drift and records the CRM lacks."""
    if (runner := _sync(connection_id, enqueue.RECONCILE)) is not None:
        runner.reconcile()


@job(direction="outbound", notify_shutdown=True)
def push_changes(connection_id: int) -> None:
    """Drain the outbox to the connection's CRM (after reading the CRM's changes)."""
    if (runner := _sync(connection_id, enqueue.PUSH_CHANGES)) is not None:
        runner.push()


@job(direction="outbound")
def push_records(connection_id: int, local_type: str, local_ids: list[int]) -> None:
    """Push these local records now (replays of outbound failures)."""
    if (runner := _sync(connection_id, enqueue.PUSH_RECORDS)) is not None:
        runner.push_records(local_type, local_ids)
