"""Jobs by name, and the life of a failure row: open, replayed, open again, resolved."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.errors import Permanent, Transient
from customers.db import transaction
from customers.sync_state import SyncFailure
from worker import database, enqueue
from worker.broker import broker
from worker.failures import record_failure, resolve_failures


def test_unknown_job_names_are_refused() -> None:
    with pytest.raises(ValueError, match="'sync_everything' is not a crmsync job"):
        enqueue.send("sync_everything", 1)


def test_replay_sends_the_same_job_again() -> None:
    broker.declare_queue(enqueue.QUEUE)
    broker.flush_all()
    payload = {"actor": "sync_records", "args": [3, "company", ["101", "102"]], "kwargs": {}}
    message = enqueue.replay(payload)
    queued = broker.queues[enqueue.QUEUE].get_nowait()
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
