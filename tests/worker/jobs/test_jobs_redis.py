"""Real Redis, real worker processes, real PostgreSQL: failures recorded across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection, SyncFailure
from tests.services import require_redis

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = require_redis()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def worker_env(postgres_engine: Engine, redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    from tests.conftest import _truncate

    _truncate(postgres_engine)
    with db.transaction(db.session_factory(postgres_engine)) as session:
        tenant = get_tenant(session, "default")
        for connection_id in (3, 7):
            session.add(Connection(id=connection_id, tenant_id=tenant.id, provider="salesforce",
                                   account_id=f"00D{connection_id}", name="org"))  # fmt: skip
    env = {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": redis_url,
        "CRMSYNC_TEST_TALLY_URL": redis_url,
        "PYTHONPATH": str(ROOT),
    }
    with (tmp_path / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "tests.worker.jobs.sample_jobs", "--processes", "1", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        yield env
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def failures(engine: Engine, count: int, timeout_s: float = 30.0) -> list[SyncFailure]:
    deadline = time.monotonic() + timeout_s
    factory = db.session_factory(engine)
    while True:
        with factory() as session:
            rows = list(session.scalars(select(SyncFailure).order_by(SyncFailure.id)))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_worker_process_records_failures_and_honours_rate_limits(
    worker_env: dict[str, str], postgres_engine: Engine
) -> None:
    # Enqueue from this process through the same Redis, as the webhooks app or scheduler would.
    script = (
        "from tests.worker.jobs import sample_jobs as j; "
        "j.always_permanent.send(7, 'acct-1'); j.always_transient.send(3); j.rate_limited_once.send(7)"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=worker_env, check=True)
    rows = failures(postgres_engine, 2)
    by_actor = {row.payload["actor"]: row for row in rows}
    assert set(by_actor) == {"always_permanent", "always_transient"}
    assert (by_actor["always_permanent"].attempts, by_actor["always_permanent"].error_class) == (
        1,
        "permanent",
    )
    assert (by_actor["always_transient"].attempts, by_actor["always_transient"].error_class) == (
        3,
        "transient",
    )
    tally = redis.Redis.from_url(worker_env["CRMSYNC_TEST_TALLY_URL"])
    deadline = time.monotonic() + 20
    while tally.get("crmsync-test:rate_limited_once_done") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert int(tally.get("crmsync-test:rate_limited_once") or 0) == 2
    assert int(tally.get("crmsync-test:always_permanent") or 0) == 1
    assert make_url(worker_env["CRMSYNC_DATABASE_URL"]).database.startswith("crmsync_test_")
