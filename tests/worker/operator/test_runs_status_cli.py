"""``crmsync runs`` and ``crmsync status``: what the sync recorded, read back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import Permanent
from connectors.registry import budget_for, limits_for
from customers import db
from customers.models import OutboxEntry
from customers.service import get_tenant
from customers.sync_state import Connection, SyncCursor, SyncRun
from customers.types import utcnow
from tests.worker.operator.conftest import Cli
from tests.worker.webhooks.conftest import drain_stub, own_redis
from worker.connection_status import api_budget
from worker.failures import record_failure
from worker.jobs import enqueue
from worker.settings import get_settings


@pytest.fixture
def history(sessions: sessionmaker[Session], connection_ids: dict[str, int]) -> dict[str, int]:
    hubspot = connection_ids["hubspot"]
    now = utcnow()
    with db.transaction(sessions) as session:
        tenant = get_tenant(session, "default")
        done = SyncRun(
            connection_id=hubspot,
            kind="incremental",
            started_at=now - timedelta(minutes=3),
            finished_at=now - timedelta(minutes=2),
            outcome="ok",
            counts={"updated": 4},
            cursor_before={"incremental:company": {"after": "1"}},
            cursor_after={"incremental:company": {"after": "9"}},
        )
        running = SyncRun(connection_id=hubspot, kind="push", started_at=now - timedelta(seconds=5))
        foreign = SyncRun(connection_id=connection_ids["foreign"], kind="reconcile", started_at=now)
        session.add_all([done, running, foreign])
        session.add(
            SyncCursor(
                connection_id=hubspot,
                object_type="company",
                kind="incremental",
                value={"after": "9"},
                updated_at=now - timedelta(minutes=10),
            )
        )
        session.add(
            SyncCursor(connection_id=hubspot, object_type="*", kind="outbox", value={"position": 0})
        )
        entries = [
            OutboxEntry(
                tenant_id=tenant.id,
                entity_type="customer",
                entity_id=i,
                operation="update",
                fields=["name"],
            )
            for i in range(5)
        ]
        session.add_all(entries)
        session.flush()
        session.get(SyncCursor, 2).value = {"position": entries[1].id}  # type: ignore[union-attr]
        record_failure(
            session,
            direction="inbound",
            connection_id=hubspot,
            object_type="company",
            external_id="1",
            error=Permanent("bad", provider="hubspot", code="X"),
            payload={"actor": "sync_records", "args": []},
        )
        session.flush()
        return {"done": done.id, "running": running.id, "foreign": foreign.id}  # fmt: skip


def test_runs_list_and_show(
    cli: Cli, history: dict[str, int], connection_ids: dict[str, int]
) -> None:
    runs = cli.json("runs", "list")["runs"]
    assert [run["id"] for run in runs] == [
        history["running"],
        history["done"],
    ]  # newest first, ours only
    assert runs[0]["outcome"] == "running" and runs[0]["duration_s"] is None
    assert [r["id"] for r in cli.json("runs", "list", "--kind", "incremental")["runs"]] == [
        history["done"]
    ]
    assert [r["id"] for r in cli.json("runs", "list", "--outcome", "running")["runs"]] == [
        history["running"]
    ]
    shown = cli.json("runs", "show", str(history["done"]))
    assert shown["counts"] == {"updated": 4} and shown["duration_s"] == 60.0
    assert (shown["cursor_before"], shown["cursor_after"]) == (
        {"incremental:company": {"after": "1"}}, {"incremental:company": {"after": "9"}})  # fmt: skip
    assert cli("runs", "show", str(history["foreign"])).exit_code == 1
    assert cli("runs", "list").exit_code == 0


def test_status_per_connection(
    cli: Cli, history: dict[str, int], connection_ids: dict[str, int]
) -> None:
    drain_stub()
    enqueue.send(enqueue.SYNC_CHANGES, connection_ids["hubspot"])
    status = cli.json("status")
    assert status["queue"] == {"broker": "in-process", "depth": 1}
    hubspot, salesforce = status["connections"]
    assert hubspot["last_run"]["id"] == history["running"] and hubspot["last_run"]["kind"] == "push"
    # The incremental sync last moved when its last run ended, two minutes ago.
    assert 100 < hubspot["cursor_lag_s"] < 200
    assert hubspot["failures"] == {"open": 1, "replayed": 0}
    assert hubspot["outbox_depth"] == 3  # five rows, two delivered
    assert hubspot["api_budget"] == "unknown"  # no Redis: nobody shares what they spent
    assert (salesforce["last_run"], salesforce["cursor_lag_s"], salesforce["outbox_depth"]) == (
        None,
        None,
        5,
    )
    assert [c["id"] for c in status["connections"]] == [
        connection_ids["hubspot"],
        connection_ids["salesforce"],
    ]
    assert cli("status").exit_code == 0
    drain_stub()


@pytest.fixture
def shared_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    url = own_redis()  # flushed here: not the database other test sessions share
    client = redis.Redis.from_url(url)
    client.flushdb()
    monkeypatch.setenv("CRMSYNC_REDIS_URL", url)
    get_settings.cache_clear()
    yield client
    client.flushdb()


def test_status_reads_the_shared_api_budget(
    cli: Cli, history: dict[str, int], shared_redis: redis.Redis
) -> None:
    budget = budget_for("hubspot", "48215730", limits=limits_for("hubspot"), redis=shared_redis)
    budget.observe_daily(used=1_000, limit=250_000)
    hubspot, salesforce = cli.json("status")["connections"]
    assert hubspot["api_budget"] == {"used_today": 1_000, "limit": 250_000, "remaining": 249_000}
    assert salesforce["api_budget"] == "unknown"


def test_a_redis_that_does_not_answer_reads_as_unknown_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The budget comes from Redis; Redis down is "unknown" and a warning naming the error
    class, never a guess and never a traceback."""
    silent = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    connection = Connection(id=7, provider="hubspot", account_id="123")
    with caplog.at_level("WARNING", logger="worker.connection_status"):
        assert api_budget(silent, connection) == "unknown"
    assert "API budget of connection 7 unknown: ConnectionError" in caplog.text
