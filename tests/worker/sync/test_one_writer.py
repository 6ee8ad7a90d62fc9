"""One writer per connection, held by PostgreSQL: Redis is restarted while a push holds the
connection's Redis lock and waits on a slow CRM write; the restart erases the lock key, and
an inbound page of the same connection then takes the Redis lock at once. It must still
wait for the push to commit: the database holds the writer lock, not Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.soak.services import RedisServer, redis_binary
from customers import db, service
from customers.sync_state import Connection, SyncRun
from sandbox.faults import FaultRule, Faults
from sandbox.hubspot import HubSpotSandbox
from tests.conftest import _truncate
from tests.connectors.conftest import hubspot_connector
from tests.services import in_ci
from worker.locks import RedisLocks
from worker.sync.passes import Sync

SLOW_WRITE_S = 4.0


@pytest.fixture
def sessions(postgres_engine: Engine) -> sessionmaker[Session]:
    _truncate(postgres_engine)
    return db.session_factory(postgres_engine)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if redis_binary() is None:
        message = "needs a redis-server binary (the test restarts its own Redis)"
        if in_ci():
            pytest.fail(f"{message}; CI needs it (tests never skip in CI)")
        pytest.skip(message)
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def _waiting_on_advisory_lock(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return (
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event = 'advisory'"
                )
            )
            or 0
        )


def test_a_redis_restart_mid_push_never_lets_an_inbound_page_write_beside_it(
    sessions: sessionmaker[Session], redis_server: RedisServer
) -> None:
    with HubSpotSandbox(limits=None, faults=Faults(seed=1)) as hubspot:
        with db.transaction(sessions) as session:
            tenant = service.get_tenant(session, "acme-books")
            tenant.require_billing_address = False  # the test is about the writer lock
            tenant_id = tenant.id
            customer_id = service.create_customer(
                session, tenant_id, {"name": "Globex GmbH", "email": "ap@globex.de"}
            ).id
            connection = Connection(tenant_id=tenant_id, provider="hubspot",
                                    account_id=str(hubspot.portal_id), name="portal")  # fmt: skip
            session.add(connection)
            session.flush()
            connection_id = connection.id

        def sync() -> Sync:  # a job of its own, with its own Redis client, like a worker's
            locks = RedisLocks(redis.Redis.from_url(redis_server.url))
            return Sync(connection_id, sessions=sessions, connector=hubspot_connector(hubspot),
                        locks=locks)  # fmt: skip

        sync().reconcile()  # Globex is created in HubSpot and linked
        [company_id] = hubspot.ids("companies")
        with db.transaction(sessions) as session:
            service.update_customer(session, tenant_id, customer_id, {"billing_city": "Bonn"})
        hubspot.faults.add(FaultRule(endpoint="companies.batch.update", kind="latency",
                                     latency_s=SLOW_WRITE_S, remaining=1))  # fmt: skip

        finished: dict[str, float] = {}

        def run(name: str, work: Sync, what: str) -> None:
            getattr(work, what)(*(("company", [company_id]) if what == "records" else ()))
            finished[name] = time.time()

        push = threading.Thread(target=run, args=("push", sync(), "push"))
        push.start()
        deadline = time.monotonic() + 20
        while hubspot.faults.calls["companies.batch.update"] == 0:
            assert time.monotonic() < deadline, "the push never wrote"
            time.sleep(0.02)
        # The push holds the connection's locks and waits on HubSpot. Redis dies and comes
        # back empty: the lock key is gone.
        redis_server.restart(down_s=0.2)
        assert redis_server.client().keys("crmsync:lock:*") == []
        page_started = time.time()
        page = threading.Thread(target=run, args=("page", sync(), "records"))
        page.start()
        # The page got past Redis at once (nothing there holds it), and waits in PostgreSQL.
        deadline = time.monotonic() + 10
        while _waiting_on_advisory_lock(sessions) == 0:
            assert time.monotonic() < deadline, "the inbound page did not wait for the push"
            time.sleep(0.05)
        assert redis_server.client().keys("crmsync:lock:*") != []  # it holds the new key
        push.join(timeout=60)
        page.join(timeout=60)
        record = hubspot.get("companies", company_id) or {}

    assert set(finished) == {"push", "page"}
    assert record["properties"]["city"] == "Bonn"
    written = datetime.fromisoformat(record["updatedAt"].replace("Z", "+00:00")).timestamp()
    # The page started while the push was still waiting on HubSpot, and ended only after
    # the push's write: it waited for the push's transaction, not beside it.
    assert page_started < written < finished["page"]
    with sessions() as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    assert [(run.kind, run.outcome) for run in runs][-2:] in (
        [("push", "ok"), ("records", "ok")],
        [("records", "ok"), ("push", "ok")],
    )
