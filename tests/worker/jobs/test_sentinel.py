"""Redis through Sentinel: a throwaway master, replica and Sentinel started here; a job
sent through a broker built from the Sentinel settings runs in a real worker process, and
after the master dies and Sentinel promotes the replica, the next job runs too, through
the same worker and the same settings."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from dramatiq import Message
from redis.sentinel import Sentinel

from tests.services import in_ci
from worker import shared_state
from worker.jobs.broker import build_broker
from worker.pending import RedisPending
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
SERVICE = "crmsync-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass  # not up yet, or failing over
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Cluster:
    master_port: int
    replica_port: int
    sentinel_port: int
    processes: dict[str, subprocess.Popen[bytes]]

    @property
    def settings(self) -> dict[str, str]:
        return {
            "CRMSYNC_REDIS_SENTINELS": f"127.0.0.1:{self.sentinel_port}",
            "CRMSYNC_REDIS_SENTINEL_SERVICE": SERVICE,
        }

    def master_address(self) -> tuple[str, int]:
        sentinel = Sentinel([("127.0.0.1", self.sentinel_port)], socket_timeout=1)
        host, port = sentinel.discover_master(SERVICE)
        return str(host), int(port)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "needs a redis-server binary (the test runs its own master, replica, Sentinel)"
        if in_ci():
            pytest.fail(f"{message}; CI needs it (tests never skip in CI)")
        pytest.skip(message)
    master, replica, sentinel = free_port(), free_port(), free_port()
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, *arguments: str) -> None:
        folder = tmp_path / name
        folder.mkdir()
        log = (folder / "log").open("wb")
        processes[name] = subprocess.Popen(
            [binary, *arguments], cwd=folder, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    quiet = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
    start("master", "--port", str(master), *quiet)
    start("replica", "--port", str(replica), "--replicaof", "127.0.0.1", str(master), *quiet)
    config = tmp_path / "sentinel.conf"  # Sentinel rewrites its file: one of its own
    config.write_text(
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 500\n"
        f"sentinel failover-timeout {SERVICE} 5000\n"
    )
    start("sentinel", str(config), "--sentinel")
    running = Cluster(master, replica, sentinel, processes)
    try:
        wait_for(lambda: redis.Redis(port=replica).info("replication")["master_link_status"] == "up",
                 20, "the replica to sync")  # fmt: skip
        wait_for(lambda: len(redis.Redis(port=sentinel).sentinel_slaves(SERVICE)) == 1, 30,
                 "Sentinel to see the replica")  # fmt: skip
        yield running
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)


def send(settings: Settings, actor: str, *args: str) -> None:
    """Send a job as the webhooks app or the scheduler would: through the broker that
    these settings build (here: through Sentinel)."""
    broker = build_broker(settings)
    broker.declare_queue("realtime")
    broker.enqueue(Message(queue_name="realtime", actor_name=actor, args=args, kwargs={}, options={}))  # fmt: skip


def test_the_broker_and_shared_state_follow_sentinel_through_a_failover(
    cluster: Cluster, tmp_path: Path
) -> None:
    settings = Settings(broker_url=None, redis_url=None, **{
        name.removeprefix("CRMSYNC_").lower(): value for name, value in cluster.settings.items()
    })  # fmt: skip
    assert settings.has_broker and settings.shared_redis_url is None
    broker = build_broker(settings)
    # One client for the jobs and for what every process shares beside them.
    assert getattr(broker, "client", None) is shared_state.client(settings)
    assert isinstance(shared_state.pending_ids(settings), RedisPending)
    assert cluster.master_address() == ("127.0.0.1", cluster.master_port)

    env = {name: value for name, value in os.environ.items() if not name.startswith("CRMSYNC_")}
    env.update(cluster.settings, CRMSYNC_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "tests.worker.jobs.sample_jobs", "--processes", "1",
             "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        master = redis.Redis(port=cluster.master_port)
        send(settings, "count_in_shared_redis", "before")
        wait_for(lambda: master.get("crmsync-test:before") == b"1", 60, "the job via Sentinel")
        # Replication is asynchronous: a write the master dies with is lost in any failover.
        # What this test asks is that the promoted replica serves what it had received.
        replica = redis.Redis(port=cluster.replica_port)
        wait_for(lambda: replica.get("crmsync-test:before") == b"1", 20, "the write to replicate")

        # The master dies; Sentinel promotes the replica, which holds the queues' state.
        cluster.processes["master"].kill()
        cluster.processes["master"].wait()
        wait_for(lambda: cluster.master_address()[1] == cluster.replica_port, 60, "a failover")
        promoted = replica
        assert promoted.get("crmsync-test:before") == b"1"

        send(settings, "count_in_shared_redis", "after")
        wait_for(lambda: promoted.get("crmsync-test:after") == b"1", 60, "the job after failover")
        assert worker.poll() is None  # the same worker, not a restarted one
    finally:
        worker.terminate()
        worker.wait(timeout=30)
