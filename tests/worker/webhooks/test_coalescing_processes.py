"""Webhook ids gathered per connection, in processes as production runs them: HubSpot (the
sandbox) posts to ``crmsync webhooks``, which leaves the ids pending in Redis; ``crmsync
worker`` takes up to 100 at once. Many events become one job, and ids taken by a worker
killed with SIGKILL before its commit are still applied."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.models import Customer
from sandbox.faults import FaultRule
from sandbox.hubspot import HubSpotSandbox, WebhookFaults, WebhookSubscription
from tests.conftest import _truncate
from tests.services import require_redis
from tests.worker.sync.processes import KEY, Workers, connect_hubspot, finished_runs, wait_until
from tests.worker.webhooks.test_delivery import free_port
from tests.worker.webhooks.test_sync_end_to_end import SECRET, _ready, start
from worker.pending import KEY_PREFIX, RedisPending

LEASE_S = 2.0


@pytest.fixture
def env(postgres_engine: Engine, tmp_path: Path) -> Iterator[dict[str, str]]:
    _truncate(postgres_engine)
    url = require_redis()
    redis.Redis.from_url(url).flushdb()
    yield {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": url,
        "CRMSYNC_ENCRYPTION_KEY": KEY,
        "CRMSYNC_DATA_DIR": str(tmp_path),
        "CRMSYNC_HUBSPOT_CLIENT_SECRET": SECRET,
        "CRMSYNC_WEBHOOK_LEASE_S": str(LEASE_S),
        "CRMSYNC_LOG_LEVEL": "WARNING",
    }
    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def running(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Workers, int]]:
    """``crmsync webhooks`` started; workers are started by the test when it wants them."""
    port = free_port()
    processes = Workers(env, tmp_path)
    processes.processes.append(
        start(["webhooks", "--port", str(port)], env, tmp_path / "webhooks.log")
    )
    try:
        wait_until(lambda: _ready(port), 60, "crmsync webhooks to answer")
        yield processes, port
    finally:
        processes.stop_all()


def customers(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(Customer.name)))


def test_many_events_of_one_connection_become_one_job_that_applies_each_record_once(
    env: dict[str, str], postgres_engine: Engine, running: tuple[Workers, int]
) -> None:
    sessions = db.session_factory(postgres_engine)
    workers, port = running
    store = RedisPending(redis.Redis.from_url(env["CRMSYNC_BROKER_URL"]))
    with HubSpotSandbox(limits=None, webhook_retry_scale=0.001,
                        webhook_faults=WebhookFaults(duplicate=1.0)) as hubspot:  # fmt: skip
        connection_id = connect_hubspot(sessions, hubspot)
        hubspot.subscribe_webhooks(WebhookSubscription(target_url=f"http://127.0.0.1:{port}/webhooks/hubspot",
                                                       client_secret=SECRET))  # fmt: skip
        names = [f"Company {number:02}" for number in range(40)]
        for name in names:
            hubspot.create("companies", {"name": name})
        assert hubspot.flush_webhooks(30)
        # Every event delivered twice, 80 requests: 40 ids wait, behind one job.
        assert len(store.pending(connection_id, "company")) == 40
        workers.start()
        wait_until(lambda: customers(sessions) == names, 60, "every company")
        wait_until(lambda: bool(finished_runs(sessions, "records")), 10, "the run's end")
        [run] = finished_runs(sessions, "records")
        assert run.counts["read"] == 40 and run.counts["created"] == 40
        assert store.pending(connection_id, "company") == []


def test_ids_taken_by_a_worker_killed_before_its_commit_are_applied_later(
    env: dict[str, str], postgres_engine: Engine, running: tuple[Workers, int]
) -> None:
    sessions = db.session_factory(postgres_engine)
    workers, port = running
    client = redis.Redis.from_url(env["CRMSYNC_BROKER_URL"])
    with HubSpotSandbox(limits=None, webhook_retry_scale=0.001) as hubspot:
        connection_id = connect_hubspot(sessions, hubspot)
        hubspot.subscribe_webhooks(WebhookSubscription(target_url=f"http://127.0.0.1:{port}/webhooks/hubspot",
                                                       client_secret=SECRET))  # fmt: skip
        # The worker's batch read hangs, so it is killed holding the id it took.
        hubspot.faults.add(FaultRule(endpoint="companies.batch.*", kind="latency", latency_s=15,
                                     remaining=1))  # fmt: skip
        first = workers.start()
        hubspot.create("companies", {"name": "Taken Then Lost"})
        leases = f"{KEY_PREFIX}{connection_id}:company:leases"
        wait_until(lambda: client.zcard(leases) == 1, 60, "the worker to take the id")
        workers.kill(first)
        assert customers(sessions) == []
        assert RedisPending(client).pending(connection_id, "company") == []  # leased, not lost

        workers.start()
        time.sleep(LEASE_S + 0.5)  # nobody renews the dead worker's lease
        # The next event for the connection brings the lost id back with it.
        hubspot.create("companies", {"name": "Next"})
        wait_until(lambda: customers(sessions) == ["Next", "Taken Then Lost"], 60, "both companies")
        # Acknowledged after the commit (and the run's bookkeeping), not with it.
        wait_until(lambda: client.zcard(leases) == 0, 10, "the lease to be acknowledged")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 2
