"""The scheduler: what it plans per connection, what it skips, and that two schedulers on
one Redis never enqueue the same work twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection, SyncRun
from tests.conftest import _truncate
from tests.worker.webhooks.conftest import jobs, own_redis, redis_messages
from worker.jobs import enqueue
from worker.scheduler import LEADER_KEY, LocalCoordination, Plan, RedisCoordination, Scheduler
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def add_connections(sessions: sessionmaker[Session], *specs: dict[str, Any]) -> list[int]:
    with db.transaction(sessions) as session:
        tenant = get_tenant(session, "default")
        rows = [
            Connection(tenant_id=tenant.id, provider="hubspot", account_id=f"p{index}-{time.monotonic_ns()}",
                       name=f"portal {index}", **spec)
            for index, spec in enumerate(specs)
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def scheduler_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "broker_url": None, "redis_url": None, "scheduler_sync_interval_s": 3600.0,
        "scheduler_push_interval_s": 3600.0, "scheduler_refresh_s": 3600.0,
        "scheduler_lock_ttl_s": 30.0, "scheduler_reconcile_at": "02:30",
        "scheduler_reconcile_spread_s": 0,
    }  # fmt: skip
    values.update(overrides)
    return Settings(**values)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.sent.append(args)


@pytest.fixture
def local(sessions: sessionmaker[Session]) -> Iterator[tuple[Scheduler, Recorder]]:
    recorder = Recorder()
    scheduler = Scheduler(scheduler_settings(), sessions=lambda: sessions,
                          coordination=LocalCoordination(), send=recorder)  # fmt: skip
    scheduler.start()
    yield scheduler, recorder
    scheduler.stop()


def test_plans_follow_the_connections_as_they_change(
    local: tuple[Scheduler, Recorder], sessions: sessionmaker[Session]
) -> None:
    scheduler, _ = local
    active, paused = add_connections(
        sessions, {"settings": {"sync_interval_s": 60}}, {"status": "paused"}
    )
    scheduler.refresh()
    planned = scheduler.planned()
    assert set(planned) == {
        f"sync_changes:{active}",
        f"push_changes:{active}",
        f"reconcile:{active}",
        "prune",  # once for all connections
    }
    reconcile = planned[f"reconcile:{active}"]
    assert reconcile is not None and (reconcile.astimezone(UTC).hour, reconcile.minute) == (2, 30)
    sync_at = planned[f"sync_changes:{active}"]
    assert sync_at is not None and timedelta(seconds=50) < sync_at - datetime.now(UTC) <= timedelta(
        seconds=60
    )

    # Paused later, resumed, added, interval changed: the next refresh follows.
    [added] = add_connections(sessions, {})
    with db.transaction(sessions) as session:
        session.get(Connection, active).status = "paused"  # type: ignore[union-attr]
        session.get(Connection, paused).status = "active"  # type: ignore[union-attr]
        session.get(Connection, paused).settings = {"sync_interval_s": 5}  # type: ignore[union-attr]
    scheduler.refresh()
    planned = scheduler.planned()
    assert {job.split(":")[1] for job in planned if ":" in job} == {str(paused), str(added)}
    sync_at = planned[f"sync_changes:{paused}"]
    assert sync_at is not None and sync_at - datetime.now(UTC) <= timedelta(seconds=5)


def test_a_kind_still_running_is_skipped(
    local: tuple[Scheduler, Recorder], sessions: sessionmaker[Session]
) -> None:
    scheduler, recorder = local
    busy, stale, other_kind, idle = add_connections(sessions, {}, {}, {}, {})
    now = datetime.now(UTC)
    with db.transaction(sessions) as session:
        session.add_all([
            SyncRun(connection_id=busy, kind="incremental", started_at=now - timedelta(minutes=5)),
            SyncRun(connection_id=stale, kind="incremental", started_at=now - timedelta(hours=2)),
            SyncRun(connection_id=other_kind, kind="push", started_at=now),
            SyncRun(connection_id=idle, kind="incremental", started_at=now, finished_at=now, outcome="ok"),
        ])  # fmt: skip
    scheduler.keep_leadership()
    for connection_id in (busy, stale, other_kind, idle):
        scheduler.fire(Plan(enqueue.SYNC_CHANGES, connection_id, 60.0))
    assert recorder.sent == [
        ("sync_changes", stale),
        ("sync_changes", other_kind),
        ("sync_changes", idle),
    ]
    # The same slot again, at once: not enqueued twice.
    scheduler.fire(Plan(enqueue.SYNC_CHANGES, idle, 60.0))
    assert len(recorder.sent) == 3
    # Paused since the last refresh: not enqueued.
    with db.transaction(sessions) as session:
        session.get(Connection, busy).status = "paused"  # type: ignore[union-attr]
    scheduler.fire(Plan(enqueue.PUSH_CHANGES, busy, 60.0))
    assert len(recorder.sent) == 3


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = own_redis()  # flushed here: not the database other test sessions share
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def test_the_leader_lock_expires_when_not_renewed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first, second = RedisCoordination(client, ttl_s=0.3), RedisCoordination(client, ttl_s=0.3)
    assert first.lead() and not second.lead()
    assert first.lead()  # renewing is leading
    time.sleep(0.4)
    assert second.lead() and not first.lead()
    second.release()
    assert first.lead()


def test_two_schedulers_on_one_redis_enqueue_each_slot_once(
    postgres_engine: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _truncate(postgres_engine)
    sessions = db.session_factory(postgres_engine)
    fast, slow, paused = add_connections(
        sessions, {"settings": {"sync_interval_s": 1}}, {"settings": {"sync_interval_s": 2}}, {"status": "paused"}
    )  # fmt: skip
    broker = RedisBroker(url=redis_url, namespace="crmsync")
    monkeypatch.setattr(enqueue, "broker", broker)
    settings = scheduler_settings(
        redis_url=redis_url, scheduler_lock_ttl_s=1.5, scheduler_refresh_s=0.5
    )
    pair = [Scheduler(settings, sessions=lambda: sessions).start() for _ in range(2)]
    try:
        time.sleep(3.6)
        leaders = [s for s in pair if s.is_leader]
        assert len(leaders) == 1
        [leader], [standby] = leaders, [s for s in pair if not s.is_leader]
        assert standby.enqueued == []
        # Hold the leader's clock while comparing what it sent with what it recorded.
        leader._scheduler.pause()
        time.sleep(0.3)
        sent = jobs(redis_messages(broker))
        assert 2 <= sent.count(("sync_changes", [fast])) <= 4
        assert 1 <= sent.count(("sync_changes", [slow])) <= 2
        assert len(sent) == len(leader.enqueued) and all(args != [paused] for _, args in sent)
        leader._scheduler.resume()

        # The leader stops; the standby takes over and carries on.
        leader.stop()
        time.sleep(2.0)
        assert standby.is_leader and ("sync_changes", fast) in standby.enqueued
    finally:
        for scheduler in pair:
            if scheduler._scheduler.running:
                scheduler.stop()
        broker.close()


def test_the_crmsync_scheduler_command_enqueues_and_hands_over_on_sigterm(
    postgres_engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    _truncate(postgres_engine)
    sessions = db.session_factory(postgres_engine)
    [connection] = add_connections(sessions, {"settings": {"sync_interval_s": 1}})
    env = {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": redis_url,
        "CRMSYNC_SCHEDULER_REFRESH_S": "0.5",
        "CRMSYNC_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    log_path = tmp_path / "scheduler.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from worker.cli import main; main()", "scheduler"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 40
            while not redis_messages(redis_url) and time.monotonic() < deadline:
                assert process.poll() is None, log_path.read_text()
                time.sleep(0.1)
            assert jobs(redis_messages(redis_url))[0] == ("sync_changes", [connection])
            assert redis.Redis.from_url(redis_url).exists(LEADER_KEY)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=20)
    assert code == 0, log_path.read_text()
    # A clean stop releases the lock: a standby need not wait for it to expire.
    assert not redis.Redis.from_url(redis_url).exists(LEADER_KEY)


def test_the_prune_runs_once_a_day_for_all_connections(sessions: sessionmaker[Session]) -> None:
    recorder = Recorder()
    settings = scheduler_settings(scheduler_prune_at="04:15")
    scheduler = Scheduler(settings, sessions=lambda: sessions,
                          coordination=LocalCoordination(), send=recorder)  # fmt: skip
    scheduler.start()
    try:
        add_connections(sessions, {}, {})
        scheduler.refresh()
        planned = scheduler.planned()
        prune_at = planned["prune"]
        assert prune_at is not None and (prune_at.astimezone(UTC).hour, prune_at.minute) == (4, 15)
        assert [job for job in planned if job.startswith("prune")] == ["prune"]
        scheduler.keep_leadership()
        [plan] = [p for p in scheduler._plans.values() if p.job == enqueue.PRUNE]
        scheduler.fire(plan)
        scheduler.fire(plan)  # the same day's slot: once
        assert recorder.sent == [("prune",)]
    finally:
        scheduler.stop()
    keep_all = scheduler_settings(
        retention_webhook_events_days=0, retention_outbox_days=None, retention_runs_days=0,
        retention_failures_days=0,
    )  # fmt: skip
    idle = Scheduler(keep_all, sessions=lambda: sessions, coordination=LocalCoordination())
    idle.start()
    try:
        idle.refresh()
        assert "prune" not in idle.planned()
    finally:
        idle.stop()
