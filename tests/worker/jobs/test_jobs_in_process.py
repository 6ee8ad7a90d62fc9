"""The error taxonomy as Dramatiq behaviour, on the in-process broker (embedded mode)."""

from __future__ import annotations

import time
from pathlib import Path

import dramatiq
import pytest
from sqlalchemy import select

from customers.sync_state import SyncFailure
from tests.worker.jobs import sample_jobs
from worker import database
from worker.jobs.broker import broker


@pytest.fixture
def running_worker(migrated_data_dir: Path) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()
    broker.flush_all()


def wait_for_failures(count: int, timeout_s: float = 10.0) -> list[SyncFailure]:
    deadline = time.monotonic() + timeout_s
    while True:
        with database.sessions()() as session:
            rows = list(session.scalars(select(SyncFailure).order_by(SyncFailure.id)))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_permanent_error_is_not_retried_and_becomes_a_failure_row(
    running_worker: dramatiq.Worker,
) -> None:
    sample_jobs.always_permanent.send(7, "company-42")
    [failure] = wait_for_failures(1)
    assert (failure.connection_id, failure.direction, failure.error_class) == (
        7,
        "inbound",
        "permanent",
    )
    assert failure.crm_code == "VALIDATION_ERROR" and "has no name" in failure.message
    assert failure.attempts == 1
    assert failure.payload == {"actor": "always_permanent", "args": [7, "company-42"], "kwargs": {}}


def test_transient_error_is_retried_then_recorded(running_worker: dramatiq.Worker) -> None:
    sample_jobs.always_transient.send(3)
    [failure] = wait_for_failures(1)
    assert (failure.direction, failure.error_class, failure.attempts) == (
        "outbound",
        "transient",
        3,
    )


def test_rate_limit_waits_what_the_crm_asked_and_then_succeeds(
    running_worker: dramatiq.Worker,
) -> None:
    sample_jobs.LOCAL_TALLY.clear()
    sample_jobs.RUN_TIMES.clear()
    sample_jobs.rate_limited_once.send(5)
    deadline = time.monotonic() + 10
    while not sample_jobs.LOCAL_TALLY["rate_limited_once_done"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sample_jobs.LOCAL_TALLY["rate_limited_once"] == 2
    assert sample_jobs.LOCAL_TALLY["rate_limited_once_done"] == 1
    first, second = sample_jobs.RUN_TIMES["rate_limited_once"]
    assert second - first >= 0.2  # the wait the CRM asked for, not the default backoff
    assert wait_for_failures(0, timeout_s=0) == []
