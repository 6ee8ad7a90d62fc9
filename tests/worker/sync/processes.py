"""Real ``crmsync worker`` processes and the helpers the process tests share: jobs sent to
Redis as a producer would, connections made as ``crmsync connect`` makes them, waits."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.credentials import Credentials, load_cipher
from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from worker.jobs.enqueue import JOB_QUEUES

ROOT = Path(__file__).resolve().parents[3]
KEY = Fernet.generate_key().decode()


class Workers:
    """``crmsync worker`` processes, each in its own process group so SIGKILL reaches all."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *, queues: str | None = None) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.processes)}.log").open("wb")
        crmsync = Path(sys.executable).parent / "crmsync"
        chosen = ["--queues", queues] if queues else []
        process = subprocess.Popen([crmsync, "worker", "--processes", "1", "--threads", "2", *chosen], cwd=ROOT,
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        """Stop as Docker stops a container: SIGTERM to the main process, which passes it on
        to its children. A SIGTERM to the whole group made each child get two, and Dramatiq
        kills a process at its second: the metrics fork then died mid-exit and wrote a bare
        traceback into the JSON log. What is left after 20 s is killed."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its group
            process.wait()


def enqueue(redis_url: str, actor: str, *args: Any, queue: str | None = None) -> None:
    """Send a job as ``worker.jobs.enqueue.send`` would (on its queue), or on ``queue``."""
    queue = queue or JOB_QUEUES[actor]
    broker = RedisBroker(url=redis_url, namespace="crmsync")
    broker.declare_queue(queue)
    broker.enqueue(Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={}))
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


def connect_hubspot(sessions: sessionmaker[Session], hubspot: HubSpotSandbox,
                    options: dict[str, Any] | None = None) -> int:  # fmt: skip
    """A connection to this HubSpot sandbox's portal, with its private-app token."""
    return connect(sessions, "hubspot", str(hubspot.portal_id),
                   Credentials(access_token=hubspot.access_token), hubspot.url, options)  # fmt: skip


def connect_salesforce(sessions: sessionmaker[Session], salesforce: SalesforceSandbox) -> int:
    """A connection to this Salesforce sandbox's org, by its connected app's refresh token."""
    sf = salesforce.credentials
    return connect(
        sessions, "salesforce", salesforce.org_id,
        Credentials(access_token="", refresh_token=sf.refresh_token, client_id=sf.consumer_key,
                    client_secret=sf.consumer_secret, instance_url=salesforce.instance_url),
        salesforce.instance_url, {"verify": salesforce.cert_path},
    )  # fmt: skip


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
