"""A fleet of ``crmsync worker`` processes on a real Redis and PostgreSQL: each pool takes
only its queues, and a worker stopped with SIGTERM in the middle of a long sync puts the
job back, which a new worker resumes where it stopped: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
from typing import Any

import redis
from dramatiq import Message
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.credentials import Credentials
from customers import db
from customers.models import Customer
from customers.sync_state import (
    Connection,
    DuplicateReview,
    ExternalLink,
    SyncCursor,
    SyncFailure,
    SyncRun,
)
from sandbox.faults import FaultRule
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.worker.sync.processes import (
    Workers,
    connect,
    connect_hubspot,
    count,
    enqueue,
    wait_until,
)
from tests.worker.webhooks.conftest import redis_messages


def waiting(client: redis.Redis, queue: str) -> int:
    """Messages of ``queue`` not acknowledged yet (waiting or being run)."""
    return int(client.hlen(f"crmsync:{queue}.msgs"))  # type: ignore[arg-type]


def test_each_pool_takes_only_its_queues_and_bulk_drains_the_old_queue(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    # Paused connections: their jobs are taken, dropped with a log line and acknowledged.
    ids = [
        connect(sessions, "hubspot", f"90{n}", Credentials(access_token="t"), "http://127.0.0.1:9")
        for n in range(3)
    ]
    with db.transaction(sessions) as session:
        for connection_id in ids:
            session.get(Connection, connection_id).status = "paused"  # type: ignore[union-attr]
    client = redis.Redis.from_url(redis_url)
    enqueue(redis_url, "push_changes", ids[0])  # realtime
    enqueue(redis_url, "reconcile", ids[1])  # bulk
    enqueue(redis_url, "sync_changes", ids[2], queue="default")  # sent by an older release
    assert [waiting(client, q) for q in ("realtime", "bulk", "default")] == [1, 1, 1]

    workers.start(queues="realtime,categorize")
    wait_until(lambda: waiting(client, "realtime") == 0, 60, "the realtime job")
    assert (waiting(client, "bulk"), waiting(client, "default")) == (1, 1)

    workers.start(queues="bulk")
    wait_until(
        lambda: waiting(client, "bulk") == 0 and waiting(client, "default") == 0,
        60,
        "the bulk job and the old queue's job",
    )
    assert count(sessions, SyncFailure) == 0


def test_sigterm_mid_sync_requeues_the_job_and_a_new_worker_resumes_it(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    companies = 1500
    with HubSpotSandbox(limits=None) as hubspot:
        hubspot.seed(generate_companies(companies, seed=41))
        # Each page the first sync lists (100 companies) takes a while, so the pass runs for
        # seconds; stopped, it resumes its listing at the saved cursor.
        hubspot.faults.add(FaultRule(endpoint="companies.list", kind="latency", latency_s=0.4))
        # No overlap: it resumes exactly at the cursor, no window read twice on purpose.
        connection_id = connect_hubspot(sessions, hubspot, {"overlap_s": 0})
        first = workers.start(queues="bulk")
        enqueue(redis_url, "sync_changes", connection_id)
        wait_until(lambda: count(sessions, ExternalLink) >= 200, 120, "the sync to be under way")
        # As Docker stops a container: SIGTERM to its main process, which passes it on to
        # its worker processes (a second SIGTERM to those would make them exit at once).
        os.kill(first.pid, signal.SIGTERM)
        assert first.wait(timeout=60) == 0  # stopped by itself, well within a grace period

        assert count(sessions, ExternalLink) < companies  # stopped mid-sync, not after
        with sessions() as session:
            [run] = session.scalars(select(SyncRun)).all()
            cursor = session.scalar(select(SyncCursor.value))
        assert (run.outcome, run.error, run.finished_at is not None) == (
            "interrupted", "Shutdown", True
        )  # fmt: skip
        assert cursor, "the pages applied before the stop saved the cursor"
        # Back on its queue, as it was: no retry spent, no failure recorded.
        [requeued] = bulk(redis_url)  # (the categorize queue holds the new customers' jobs)
        assert (requeued.queue_name, requeued.actor_name, list(requeued.args)) == (
            "bulk", "sync_changes", [connection_id]
        )  # fmt: skip
        assert requeued.options.get("retries", 0) == 0
        assert count(sessions, SyncFailure) == 0

        workers.start(queues="bulk")
        wait_until(lambda: finished(sessions) == 2, 180, "the resumed sync")
        with sessions() as session:
            runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
            links = session.execute(select(ExternalLink.external_id, ExternalLink.local_id)).all()
            customers = session.scalar(select(func.count()).select_from(Customer))
            held = session.scalar(select(func.count()).select_from(DuplicateReview))
        assert [(r.outcome, r.error) for r in runs] == [("interrupted", "Shutdown"), ("ok", None)]
        # Resumed at the saved cursor: at most the page in flight at the stop is read again.
        assert runs[1].counts["read"] <= companies - runs[0].counts["read"] + 100
        assert runs[0].counts["read"] + runs[1].counts["read"] <= companies + 100
        external_ids = {row.external_id for row in links}
        assert len(links) == len(external_ids) == len({row.local_id for row in links})
        assert len(links) + (held or 0) == companies  # every company linked or held: none lost
        assert customers == len(links)  # one customer per linked company: none created twice
        assert len(hubspot.ids("companies")) == companies  # and nothing created in the CRM
        assert count(sessions, SyncFailure) == 0
        assert bulk(redis_url) == []


def bulk(redis_url: str) -> list[Message[Any]]:
    return [message for message in redis_messages(redis_url) if message.queue_name == "bulk"]


def finished(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return (
            session.scalar(
                select(func.count()).select_from(SyncRun).where(SyncRun.finished_at.is_not(None))
            )
            or 0
        )
