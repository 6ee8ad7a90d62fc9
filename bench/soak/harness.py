"""Setting a soak up, running it, bringing it to rest, and tearing it down.

Set-up: a scratch PostgreSQL database, the soak's own Redis, both sandboxes in this process
(HubSpot with a webhook subscription to a ``crmsync webhooks`` process, Salesforce with
outbound messages to it), two connections with short sync and push intervals, ``crmsync
worker`` processes and a ``crmsync scheduler``; a first full sync of both CRMs.

Rest ("quiesce"): workload and chaos stop, faults are cleared, the scheduler stops, the
webhooks the CRMs still owe are delivered, the queue drains (a killed worker's jobs come
back after Dramatiq's heartbeat timeout), then one ``reconcile`` per connection runs
through a worker, then one ``push_changes`` per connection (what one CRM's reconcile
brought still has to reach the other), and the queue drains again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from cryptography.fernet import Fernet
from dramatiq import Message
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bench.soak.services import Processes, RedisServer, SoakError, free_port, queue_depth, wait_for
from worker.jobs.queues import all_broker_queues

SECRET = "soak-app-client-secret"
SYNC_INTERVAL_S = 5
PUSH_INTERVAL_S = 3
CONNECTOR_TIMEOUT_S = 3.0  # a stalled CRM call costs this long, not the sandbox's 30 s
DRAIN_TIMEOUT_S = 240.0


@dataclass
class Setup:
    """Everything a running soak holds."""

    folder: Path
    env: dict[str, str]
    engine: Engine
    sessions: sessionmaker[Session]
    tenant_id: int
    redis: RedisServer
    processes: Processes
    hubspot: Any
    salesforce: Any
    connections: dict[str, int] = field(default_factory=dict)  # provider -> connection id
    timings: dict[str, float] = field(default_factory=dict)


def process_env(*, database_url: str, redis_url: str, key: str, folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CRMSYNC_DATABASE_URL": database_url,
        "CRMSYNC_BROKER_URL": redis_url,
        "CRMSYNC_ENCRYPTION_KEY": key,
        "CRMSYNC_DATA_DIR": str(folder),
        "CRMSYNC_HUBSPOT_CLIENT_SECRET": SECRET,
        "CRMSYNC_LOG_LEVEL": "WARNING",
        # Retries quick enough to heal within a soak; same count as production.
        "CRMSYNC_RETRY_MIN_BACKOFF_S": "0.5",
        "CRMSYNC_RETRY_MAX_BACKOFF_S": "5",
        "CRMSYNC_SCHEDULER_REFRESH_S": "2",
        "CRMSYNC_SCHEDULER_LOCK_TTL_S": "5",
        # A killed worker leaves its run "running": the next one may start soon after.
        "CRMSYNC_SCHEDULER_RUN_STALE_S": "15",
    }


def use_in_this_process(env: dict[str, str]) -> None:
    """Point this process's settings at the soak's database, Redis and key (it connects the
    CRMs with the same code the CLI uses, which reads them from settings)."""
    from worker import database
    from worker.settings import get_settings
    from worker.sync import connections

    for name, value in env.items():
        if name.startswith("CRMSYNC_"):
            os.environ[name] = value
    get_settings.cache_clear()
    database.reset()
    connections.cipher.cache_clear()


def enqueue(redis_url: str, actor: str, *args: Any) -> None:
    broker = RedisBroker(url=redis_url, namespace="crmsync")
    try:
        broker.declare_queue("default")
        broker.enqueue(Message(queue_name="default", actor_name=actor, args=args, kwargs={}, options={}))  # fmt: skip
    finally:
        broker.close()


def run_through_worker(setup: Setup, actor: str, connection_id: int, kind: str, timeout_s: float = DRAIN_TIMEOUT_S) -> None:  # fmt: skip
    """Send one job and wait for the ``sync_runs`` row it makes to finish."""
    from customers.sync_state import SyncRun

    since = datetime.now(UTC)
    enqueue(setup.redis.url, actor, connection_id)

    def finished() -> bool:
        setup.processes.replace_dead_workers(len(setup.processes.workers) or 1)
        with setup.sessions() as session:
            return session.scalar(select(SyncRun.id).where(
                SyncRun.connection_id == connection_id, SyncRun.kind == kind,
                SyncRun.started_at >= since, SyncRun.finished_at.is_not(None),
                SyncRun.outcome == "ok").limit(1)) is not None  # fmt: skip

    wait_for(finished, timeout_s, f"{actor} of connection {connection_id} to finish")


def drain(setup: Setup, workers: int, timeout_s: float = DRAIN_TIMEOUT_S) -> float:
    """Wait for the CRMs' pending webhooks and an empty queue, stable for 2 s; seconds taken."""
    started = time.monotonic()
    client = setup.redis.client()
    quiet_since: float | None = None

    def drained() -> bool:
        nonlocal quiet_since
        setup.processes.replace_dead_workers(workers)
        requeue_from_dead_workers(setup.redis.url)
        setup.hubspot.flush_webhooks(0.5)
        setup.salesforce.flush_outbound(0.5)
        if queue_depth(client) != 0:
            quiet_since = None
            return False
        quiet_since = quiet_since or time.monotonic()
        return time.monotonic() - quiet_since >= 2.0

    wait_for(drained, timeout_s, "the job queue to drain")
    return time.monotonic() - started


def requeue_from_dead_workers(redis_url: str) -> None:
    """Run Dramatiq's own maintenance now: the jobs a SIGKILLed worker held go back to the
    queue once its heartbeat is older than the timeout (60 s). Workers run it on a random
    0.1% of their broker calls, which idle workers make about once per 5 s, so without this
    the soak would wait for an hour on jobs that are not lost, only parked.

    Maintenance is per queue (Dramatiq's script gives back a dead worker's jobs of the queue
    it is called for), so it runs once for every queue a job may be taken from."""
    broker = RedisBroker(url=redis_url, namespace="crmsync", maintenance_chance=MAINTENANCE_SCALE)
    try:
        for queue in all_broker_queues():
            broker.do_qsize(queue)
    except redis.RedisError:
        pass  # Redis is restarting: the next poll does it
    finally:
        broker.close()


@contextmanager
def scratch_folder(keep: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="crmsync-soak-"))
    try:
        yield folder
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def new_key() -> str:
    return Fernet.generate_key().decode()


def check_redis() -> None:
    from bench.soak.services import redis_binary

    if redis_binary() is None:
        raise SoakError("the soak needs a redis-server binary on PATH (it restarts its own)")


__all__ = ["Setup", "SoakError", "drain", "enqueue", "free_port", "new_key", "process_env",
           "run_through_worker", "scratch_folder", "use_in_this_process"]  # fmt: skip
