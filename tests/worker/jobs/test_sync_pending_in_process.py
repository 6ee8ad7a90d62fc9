"""``sync_pending`` in the embedded mode (in-process broker, ids pending in memory): ids
whose sync fails are handed to ``sync_records`` jobs, which fail as every job does, so no
id is lost and a failure row names its records for a replay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from sqlalchemy import select

import worker.actors  # noqa: F401  (declares sync_pending and sync_records on the broker)
from customers import db
from customers.sync_state import Connection, SyncFailure
from worker import database, shared_state
from worker.jobs import enqueue
from worker.jobs.broker import broker
from worker.pending import in_process
from worker.sync import lifecycle

CONNECTION = 3  # a connection without credentials: its syncs fail for good


@pytest.fixture
def running_worker(migrated_data_dir: Path) -> Iterator[dramatiq.Worker]:
    in_process.clear()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()
    broker.flush_all()
    in_process.clear()


def failures(count: int, timeout_s: float = 10.0) -> list[SyncFailure]:
    deadline = time.monotonic() + timeout_s
    while True:
        with database.sessions()() as session:
            rows = list(session.scalars(select(SyncFailure).order_by(SyncFailure.id)))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def send_pending(ids: list[str]) -> None:
    """What the webhooks intake does."""
    if shared_state.pending_ids().add(CONNECTION, "company", [(i, n) for n, i in enumerate(ids)]):
        enqueue.send(enqueue.SYNC_PENDING, CONNECTION, "company")


def test_ids_whose_sync_fails_become_a_sync_records_failure_row(
    running_worker: dramatiq.Worker,
) -> None:
    send_pending(["101"])
    [failure] = failures(1)
    assert failure.payload == {
        "actor": "sync_records", "args": [CONNECTION, "company", ["101"]], "kwargs": {},
    }  # fmt: skip
    assert (failure.object_type, failure.external_id, failure.error_class) == (
        "company",
        "101",
        "permanent",
    )
    assert in_process.pending(CONNECTION, "company") == []
    # Handed over and disarmed: the next id gets a job of its own.
    assert shared_state.pending_ids().add(CONNECTION, "company", [("102", 1)]) is True


def test_more_than_100_ids_are_taken_by_two_jobs_and_none_is_left(
    running_worker: dramatiq.Worker,
) -> None:
    ids = [str(1000 + number) for number in range(150)]
    send_pending(ids)
    deadline = time.monotonic() + 10
    while sum(row.attempts for row in failures(0, timeout_s=0)) < 2:
        assert time.monotonic() < deadline, "both batches to fail"
        time.sleep(0.05)
    # Both batches failed as sync_records jobs; failures of a whole batch share the
    # connection's row (the last batch's ids are its payload).
    [failure] = failures(1)
    assert failure.attempts == 2 and failure.external_id is None
    assert len(failure.payload["args"][2]) in (50, 100)
    assert in_process.pending(CONNECTION, "company") == []


def test_ids_of_a_connection_paused_meanwhile_are_dropped_without_a_failure(
    running_worker: dramatiq.Worker,
) -> None:
    with db.transaction(database.sessions()) as session:
        tenant_id = session.get(Connection, CONNECTION).tenant_id  # type: ignore[union-attr]
        lifecycle.pause(session, tenant_id, CONNECTION)
    send_pending(["101"])
    deadline = time.monotonic() + 10
    while in_process.pending(CONNECTION, "company") and time.monotonic() < deadline:
        time.sleep(0.05)
    broker.join(enqueue.JOB_QUEUES[enqueue.SYNC_PENDING], timeout=10_000)
    running_worker.join()
    assert in_process.pending(CONNECTION, "company") == []
    assert failures(0, timeout_s=0) == []  # active, it would have failed (no credentials)
