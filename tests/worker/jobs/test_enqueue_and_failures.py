"""Jobs by name, and the life of a failure row: open, replayed, open again, resolved."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.errors import Permanent, Transient
from customers.db import transaction
from customers.sync_state import SyncFailure
from worker import database
from worker.failures import record_failure, resolve_failures
from worker.jobs import enqueue
from worker.jobs.broker import broker
from worker.jobs.payload import JobCall


def test_unknown_job_names_are_refused() -> None:
    with pytest.raises(ValueError, match="'sync_everything' is not a crmsync job"):
        enqueue.send("sync_everything", 1)


def test_replay_sends_the_same_job_again() -> None:
    broker.declare_queue("realtime")
    broker.flush_all()
    payload = {"actor": "sync_records", "args": [3, "company", ["101", "102"]], "kwargs": {}}
    message = enqueue.replay(JobCall.from_payload(payload))
    queued = broker.queues["realtime"].get_nowait()
    broker.queues["realtime"].task_done()  # taken off by hand: tell the queue it is done
    assert queued == message.encode()
    assert (message.actor_name, list(message.args)) == (
        "sync_records",
        [3, "company", ["101", "102"]],
    )
    broker.flush_all()


def test_a_failure_row_lives_until_the_record_syncs(migrated_data_dir: Path) -> None:
    sessions = database.sessions()
    payload = {"actor": "sync_records", "args": [3, "company", ["101"]], "kwargs": {}}
    with transaction(sessions) as session:
        first = record_failure(
            session, direction="inbound", error=Permanent("no name", provider="hubspot", code="VALIDATION"),
            payload=payload, connection_id=3, object_type="company", external_id="101",
        )  # fmt: skip
        first.status = "replayed"
    with transaction(sessions) as session:
        again = record_failure(
            session, direction="inbound", error=Transient("502", provider="hubspot", status=502),
            payload=payload, connection_id=3, object_type="company", external_id="101",
        )  # fmt: skip
        assert (again.id, again.status, again.attempts, again.error_class) == (
            first.id,
            "open",
            2,
            "transient",
        )
    with transaction(sessions) as session:
        other = resolve_failures(
            session,
            connection_id=3,
            direction="inbound",
            object_type="company",
            external_ids=["999"],
        )
        done = resolve_failures(
            session,
            connection_id=3,
            direction="inbound",
            object_type="company",
            external_ids=["101"],
        )
        assert (other, done) == (0, 1)
    with sessions() as session:
        [row] = session.scalars(select(SyncFailure))
        assert (row.status, row.resolution) == ("resolved", "synced successfully")


def test_failures_of_jobs_about_one_record_stay_apart_and_close_on_success(
    migrated_data_dir: Path,
) -> None:
    """Two customers whose categorization fails keep a row each; a later success closes its own."""
    import worker.actors  # noqa: F401  (declares categorize_customer)
    from worker.jobs.retry import record_job_failure

    error = Permanent("answer outside the taxonomy", provider="llm", code="OUT_OF_TAXONOMY")
    record_job_failure("categorize_customer", (11,), {}, error, {})
    record_job_failure("categorize_customer", (12,), {}, error, {})
    with database.sessions()() as session:
        rows = list(session.scalars(select(SyncFailure).order_by(SyncFailure.id)))
    assert [(r.local_id, r.object_type, r.direction, r.payload["args"]) for r in rows] == [
        (11, "customer", "categorize", [11]), (12, "customer", "categorize", [12]),
    ]  # fmt: skip
    from worker.jobs.retry import resolve_local

    resolve_local("categorize", "customer", 11)
    with database.sessions()() as session:
        statuses = {r.local_id: r.status for r in session.scalars(select(SyncFailure))}
    assert statuses == {11: "resolved", 12: "open"}
