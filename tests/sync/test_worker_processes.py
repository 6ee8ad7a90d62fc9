"""The sync as it runs in production: jobs on a real Redis, run by real ``crmsync worker``
processes, on PostgreSQL, against the sandboxes over real sockets. Includes a worker killed
with SIGKILL in the middle of a sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.credentials import Credentials, load_cipher
from customers import db
from customers.models import Customer
from customers.service import get_tenant
from customers.sync_state import Connection, DuplicateReview, ExternalLink, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies
from tests.conftest import _truncate
from tests.services import require_redis

ROOT = Path(__file__).resolve().parents[2]
KEY = Fernet.generate_key().decode()


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = require_redis()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def env(postgres_engine: Engine, redis_url: str, tmp_path: Path) -> dict[str, str]:
    _truncate(postgres_engine)
    return {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": redis_url,
        "CRMSYNC_ENCRYPTION_KEY": KEY,
        "CRMSYNC_DATA_DIR": str(tmp_path),
        "CRMSYNC_LOG_LEVEL": "WARNING",
    }


class Workers:
    """``crmsync worker`` processes, each in its own process group so SIGKILL reaches all."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.processes)}.log").open("wb")
        crmsync = Path(sys.executable).parent / "crmsync"
        process = subprocess.Popen([crmsync, "worker", "--processes", "1", "--threads", "2"], cwd=ROOT,
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    running = Workers(env, tmp_path)
    yield running
    running.stop_all()


def enqueue(redis_url: str, actor: str, *args: Any) -> None:
    broker = RedisBroker(url=redis_url, namespace="crmsync")
    broker.declare_queue("default")
    broker.enqueue(
        Message(queue_name="default", actor_name=actor, args=args, kwargs={}, options={})
    )
    broker.close()


def connect(sessions: sessionmaker[Session], provider: str, account_id: str, credentials: Credentials,
            base_url: str, options: dict[str, Any] | None = None) -> int:  # fmt: skip
    cipher = load_cipher(encryption_key=KEY, data_dir=Path("."))
    with db.transaction(sessions) as session:
        tenant = get_tenant(session, "default")
        connection = Connection(tenant_id=tenant.id, provider=provider, account_id=account_id, name=provider,
                                base_url=base_url, credentials=cipher.encrypt(credentials),
                                settings={"connector": options or {}})  # fmt: skip
        session.add(connection)
        session.flush()
        return connection.id


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def finished_runs(sessions: sessionmaker[Session], kind: str) -> list[SyncRun]:
    with sessions() as session:
        return list(
            session.scalars(
                select(SyncRun).where(SyncRun.kind == kind, SyncRun.finished_at.is_not(None))
            )
        )


def count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_new_crm_records_become_one_customer_each_through_worker_processes(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    with HubSpotSandbox(limits=None) as hubspot, SalesforceSandbox() as salesforce:
        hubspot.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
        salesforce.create("Account", {"Name": "Initech Ltd", "Website": "https://initech.io"})
        sf = salesforce.credentials
        hubspot_id = connect(
            sessions,
            "hubspot",
            str(hubspot.portal_id),
            Credentials(access_token=hubspot.access_token),
            hubspot.url,
        )
        salesforce_id = connect(
            sessions, "salesforce", salesforce.org_id,
            Credentials(access_token="", refresh_token=sf.refresh_token, client_id=sf.consumer_key,
                        client_secret=sf.consumer_secret, instance_url=salesforce.instance_url),
            salesforce.instance_url, {"verify": salesforce.cert_path},
        )  # fmt: skip
        workers.start()
        enqueue(redis_url, "sync_changes", hubspot_id)
        enqueue(redis_url, "sync_changes", salesforce_id)
        wait_until(lambda: len(finished_runs(sessions, "incremental")) == 2, 60, "both syncs")
        with sessions() as session:
            names = sorted(session.scalars(select(Customer.name)))
        assert names == ["Globex GmbH", "Initech Ltd"]
        enqueue(redis_url, "sync_changes", hubspot_id)
        enqueue(redis_url, "sync_changes", salesforce_id)
        wait_until(lambda: len(finished_runs(sessions, "incremental")) == 4, 60, "the second syncs")
        assert count(sessions, Customer) == 2 and count(sessions, ExternalLink) == 2
        assert {run.outcome for run in finished_runs(sessions, "incremental")} == {"ok"}


def test_a_worker_killed_mid_sync_loses_and_duplicates_nothing(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    companies = 600
    with HubSpotSandbox(limits=None) as hubspot:
        hubspot.seed(generate_companies(companies, seed=99))
        connection_id = connect(
            sessions,
            "hubspot",
            str(hubspot.portal_id),
            Credentials(access_token=hubspot.access_token),
            hubspot.url,
        )
        first = workers.start()
        enqueue(redis_url, "reconcile", connection_id)
        wait_until(lambda: count(sessions, ExternalLink) >= 100, 120, "the sync to be under way")
        workers.kill(first)
        linked_at_kill = count(sessions, ExternalLink)
        assert linked_at_kill < companies  # killed mid-sync, not after
        # What the scheduler would do next: run the sync again on a fresh worker.
        workers.start()
        enqueue(redis_url, "reconcile", connection_id)
        wait_until(
            lambda: any(r.outcome == "ok" for r in finished_runs(sessions, "reconcile")),
            180,
            "the rerun",
        )
        with sessions() as session:
            links = session.execute(select(ExternalLink.external_id, ExternalLink.local_id)).all()
            customers = session.scalar(select(func.count()).select_from(Customer)) or 0
            held = session.scalar(select(func.count()).select_from(DuplicateReview)) or 0
        external_ids = [row.external_id for row in links]
        local_ids = [row.local_id for row in links]
        assert len(set(external_ids)) == len(external_ids) and len(set(local_ids)) == len(local_ids)
        assert len(links) + held == companies  # every company linked or held: nothing lost
        assert customers == len(links)  # one customer per linked company: nothing duplicated
        assert len(hubspot.ids("companies")) == companies  # and nothing duplicated in the CRM
