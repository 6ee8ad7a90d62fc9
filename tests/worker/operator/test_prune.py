"""The prune: each kind of history goes after its age limit, what a connection still needs
stays however old, batches are bounded, and a dry run writes nothing (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.models import OutboxEntry
from customers.service import get_tenant
from customers.sync_state import (
    Connection,
    ConnectionStatus,
    SyncCursor,
    SyncFailure,
    SyncRun,
    WebhookEvent,
)
from customers.types import utcnow
from tests.worker.operator.conftest import Cli
from worker.retention import Retention, prune

NOW = utcnow()
OLD = NOW - timedelta(days=400)
YOUNG = NOW - timedelta(days=1)
KEEP_ALL = Retention(None, None, None, None)


def add_connection(session: Session, tenant_id: int, position: int | None) -> int:
    connection = Connection(
        tenant_id=tenant_id, provider="hubspot", account_id=f"p{utcnow().timestamp()}-{position}",
        name="portal",
    )  # fmt: skip
    session.add(connection)
    session.flush()
    if position is not None:
        session.add(
            SyncCursor(connection_id=connection.id, object_type="*", kind="outbox",
                       value={"position": position})
        )  # fmt: skip
    return connection.id


def add_events(session: Session, connection_id: int, *times: datetime) -> list[int]:
    rows = [
        WebhookEvent(connection_id=connection_id, dedupe_key=f"e{index}-{at.timestamp()}",
                     received_at=at, payload={"objectId": index})
        for index, at in enumerate(times)
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def add_outbox(session: Session, tenant_id: int, *times: datetime) -> list[int]:
    ids = []
    for at in times:  # one by one: ids in order of the list
        row = OutboxEntry(tenant_id=tenant_id, entity_type="customer", entity_id=1,
                          operation="update", fields=["name"], created_at=at)  # fmt: skip
        session.add(row)
        session.flush()
        ids.append(row.id)
    return ids


def ids(sessions: sessionmaker[Session], model: Any) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(model.id).order_by(model.id)))


def test_each_kind_goes_after_its_own_limit_and_not_before(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        connection = add_connection(session, tenant_id, position=10**9)
        at_20_days, at_10_days = NOW - timedelta(days=20), NOW - timedelta(days=10)
        events = add_events(session, connection, at_20_days, at_10_days)
        outbox = add_outbox(session, tenant_id, NOW - timedelta(days=40), at_20_days)
        runs = [
            SyncRun(connection_id=connection, kind="push", started_at=started, outcome="ok",
                    finished_at=started)
            for started in (NOW - timedelta(days=100), NOW - timedelta(days=80))
        ]  # fmt: skip
        failures = [
            SyncFailure(connection_id=connection, direction="outbound", error_class="permanent",
                        message="no", status=status, last_failed_at=at)
            for status, at in (("resolved", NOW - timedelta(days=100)),
                               ("dismissed", NOW - timedelta(days=100)),
                               ("resolved", NOW - timedelta(days=80)))
        ]  # fmt: skip
        session.add_all(runs + failures)
        session.flush()
        run_ids, failure_ids = [r.id for r in runs], [f.id for f in failures]

    report = prune(sessions, Retention(14, 30, 90, 90), now=NOW)

    assert ids(sessions, WebhookEvent) == events[1:]
    assert ids(sessions, OutboxEntry) == outbox[1:]
    assert ids(sessions, SyncRun) == run_ids[1:]
    assert ids(sessions, SyncFailure) == failure_ids[2:]
    assert {name: table.rows for name, table in report.tables.items()} == {
        "webhook_events": 1, "outbox": 1, "sync_runs": 1, "sync_failures": 2,
    }  # fmt: skip


def test_a_limit_of_zero_or_none_keeps_that_kind_forever(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        connection = add_connection(session, tenant_id, position=10**9)
        events = add_events(session, connection, OLD)
        outbox = add_outbox(session, tenant_id, OLD)
    report = prune(sessions, Retention(0, None, 90, 90), now=NOW)
    assert ids(sessions, WebhookEvent) == events and ids(sessions, OutboxEntry) == outbox
    assert report.tables["webhook_events"].older_than is None and report.rows == 0


def test_an_outbox_row_a_lagging_connection_has_not_pushed_stays(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        lagging_tenant = tenant_id
        no_cursor_tenant = get_tenant(session, "never-pushed").id
        unconnected_tenant = get_tenant(session, "no-crm").id
        lagging = add_outbox(session, lagging_tenant, *[OLD] * 4)
        never_pushed = add_outbox(session, no_cursor_tenant, OLD)
        unconnected = add_outbox(session, unconnected_tenant, OLD, YOUNG)
        # Both connections of the tenant are past its second row, one only just: the
        # third and fourth are still waiting for it, however old they are. The other
        # tenant's connection, far ahead, changes nothing for this one.
        add_connection(session, lagging_tenant, position=lagging[3])
        add_connection(session, lagging_tenant, position=lagging[1])
        add_connection(session, no_cursor_tenant, position=None)  # would start at 0
        # A tenant without connections: a new one starts at the end, so old rows go by age.

    report = prune(sessions, Retention(None, 30, None, None), now=NOW)

    assert ids(sessions, OutboxEntry) == sorted(lagging[2:] + never_pushed + unconnected[1:])
    assert report.tables["outbox"].rows == 3


def test_a_removed_connection_holds_no_outbox_rows_back(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    """It pushes no more; connecting its account again catches up with a reconcile."""
    with db.transaction(sessions) as session:
        rows = add_outbox(session, tenant_id, OLD, OLD)
        add_connection(session, tenant_id, position=rows[1])
        removed = session.get(Connection, add_connection(session, tenant_id, position=0))
        assert removed is not None
        removed.status = ConnectionStatus.REMOVED
    prune(sessions, Retention(None, 30, None, None), now=NOW)
    assert ids(sessions, OutboxEntry) == []


def test_open_failures_and_running_runs_stay_however_old(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with db.transaction(sessions) as session:
        connection = add_connection(session, tenant_id, position=0)
        running = SyncRun(connection_id=connection, kind="reconcile", started_at=OLD)
        finished = SyncRun(connection_id=connection, kind="reconcile", started_at=OLD,
                           finished_at=OLD, outcome="failed")  # fmt: skip
        failures = {
            status: SyncFailure(connection_id=connection, direction="inbound",
                                error_class="permanent", message="bad", status=status,
                                first_failed_at=OLD, last_failed_at=OLD)
            for status in ("open", "replayed", "resolved")
        }  # fmt: skip
        session.add_all([running, finished, *failures.values()])
    prune(sessions, Retention(14, 30, 90, 90), now=NOW)
    assert ids(sessions, SyncRun) == [running.id]
    assert ids(sessions, SyncFailure) == sorted([failures["open"].id, failures["replayed"].id])


@pytest.fixture
def statements(engine: Engine) -> Iterator[dict[str, list[int]]]:
    """The rows each DELETE removed and the commits, as the database driver saw them."""
    seen: dict[str, list[int]] = {"deleted": [], "commits": []}

    def after_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            seen["deleted"].append(cursor.rowcount)

    def commit(conn: Any) -> None:
        seen["commits"].append(1)

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "commit", commit)
    yield seen
    event.remove(engine, "after_cursor_execute", after_execute)
    event.remove(engine, "commit", commit)


def test_batches_are_bounded_and_each_commits_on_its_own(
    sessions: sessionmaker[Session], tenant_id: int, statements: dict[str, list[int]]
) -> None:
    with db.transaction(sessions) as session:
        connection = add_connection(session, tenant_id, position=0)
        events = add_events(session, connection, *[OLD] * 5, YOUNG)
    statements["commits"].clear()

    report = prune(sessions, Retention(14, None, None, None), batch_rows=2, now=NOW)

    assert ids(sessions, WebhookEvent) == events[5:]
    assert statements["deleted"] == [2, 2, 1]
    assert len(statements["commits"]) == 3
    table = report.tables["webhook_events"]
    assert (table.rows, table.transactions) == (5, 3)


def test_a_dry_run_counts_the_same_rows_and_writes_nothing(
    sessions: sessionmaker[Session], tenant_id: int, statements: dict[str, list[int]]
) -> None:
    with db.transaction(sessions) as session:
        connection = add_connection(session, tenant_id, position=10**9)
        events = add_events(session, connection, OLD, OLD, OLD, YOUNG)
        outbox = add_outbox(session, tenant_id, OLD, YOUNG)
    retention = Retention(14, 30, 90, 90)

    dry = prune(sessions, retention, batch_rows=2, dry_run=True, now=NOW)

    assert statements["deleted"] == []
    assert ids(sessions, WebhookEvent) == events and ids(sessions, OutboxEntry) == outbox
    real = prune(sessions, retention, batch_rows=2, now=NOW)
    assert dry.as_dict()["tables"]["webhook_events"]["rows"] == 3
    assert {n: t.rows for n, t in dry.tables.items()} == {n: t.rows for n, t in real.tables.items()}
    assert len(ids(sessions, WebhookEvent)) == 1


def test_crmsync_prune_prints_per_table_and_dry_run_keeps_all(
    cli: Cli, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.transaction(sessions) as session:
        tenant_id = get_tenant(session, "default").id
        connection = add_connection(session, tenant_id, position=0)
        add_events(session, connection, OLD, OLD, YOUNG)

    dry = cli.json("prune", "--dry-run")
    assert dry["dry_run"] is True and dry["tables"]["webhook_events"]["rows"] == 2
    assert dry["tables"]["outbox"]["rows"] == 0 and len(ids(sessions, WebhookEvent)) == 3

    result = cli("prune")
    assert result.exit_code == 0, result.output
    assert "deleted 2 rows" in result.output and "webhook_events" in result.output
    assert len(ids(sessions, WebhookEvent)) == 1
    monkeypatch.setenv("CRMSYNC_RETENTION_WEBHOOK_EVENTS_DAYS", "0")
    from worker.settings import get_settings

    get_settings.cache_clear()
    assert cli.json("prune")["tables"]["webhook_events"]["older_than"] is None


def test_the_prune_job_is_the_one_sent_by_name_and_prunes(
    cli: Cli, sessions: sessionmaker[Session]
) -> None:
    from worker import actors
    from worker.jobs import enqueue
    from worker.jobs.broker import broker

    assert enqueue.PRUNE in enqueue.JOB_NAMES
    assert broker.get_actor(enqueue.PRUNE) is actors.prune
    with db.transaction(sessions) as session:
        connection = add_connection(session, get_tenant(session, "default").id, position=0)
        events = add_events(session, connection, OLD, YOUNG)
    actors.prune.fn()
    assert ids(sessions, WebhookEvent) == events[1:]
