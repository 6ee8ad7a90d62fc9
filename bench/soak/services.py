"""The real parts a soak runs against: its own Redis server, a scratch PostgreSQL database,
and ``crmsync webhooks`` / ``crmsync worker`` / ``crmsync scheduler`` processes.

The soak restarts Redis and kills workers on purpose, so it never uses a shared Redis: it
starts ``redis-server`` on a free port with no persistence (a restart loses every queued
job, as a crashed Redis without AOF would), in a folder of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from worker.jobs.queues import all_broker_queues

ROOT = Path(__file__).resolve().parents[2]
CRMSYNC = str(Path(sys.executable).parent / "crmsync")


class SoakError(RuntimeError):
    """The soak could not set itself up or run (not a failed check)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SoakError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def redis_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """A ``redis-server`` of our own, restartable on the same port."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        binary = redis_binary()
        if binary is None:
            raise SoakError("the soak needs a redis-server binary on PATH")
        self.binary = binary
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_for(self._answers, 20, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGKILL: a crash, not a clean shutdown (nothing is saved either way).
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()
        self.restarts += 1


class Processes:
    """The crmsync processes of one soak, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.started = 0
        self.killed = 0
        self.died = 0  # workers found dead that the soak did not kill

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        self.started += 1
        with (self.logs / f"{name}-{self.started}.log").open("wb") as log:
            return subprocess.Popen([CRMSYNC, *args], cwd=ROOT, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def start_webhooks(self, port: int) -> None:
        self.others.append(self._spawn("webhooks", "webhooks", "--port", str(port)))
        wait_for(lambda: _ready(port), 60, "crmsync webhooks to answer /readyz")

    def start_worker(self, threads: int = 2) -> subprocess.Popen[bytes]:
        process = self._spawn("worker", "worker", "--processes", "1", "--threads", str(threads))
        self.workers.append(process)
        return process

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn("scheduler", "scheduler")

    def stop_scheduler(self) -> None:
        if self.scheduler is not None:
            _terminate(self.scheduler)
            self.scheduler = None

    def kill_worker(self, index: int) -> None:
        """SIGKILL a worker's whole process group (the dramatiq parent and its children)."""
        process = self.workers.pop(index)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.killed += 1

    def live_workers(self) -> int:
        return sum(1 for process in self.workers if process.poll() is None)

    def replace_dead_workers(self, wanted: int) -> int:
        """Start workers until ``wanted`` run; returns how many had died on their own."""
        dead = [p for p in self.workers if p.poll() is not None]
        for process in dead:
            self.workers.remove(process)
        self.died += len(dead)
        while len(self.workers) < wanted:
            self.start_worker()
        return len(dead)

    def others_alive(self) -> bool:
        """The webhooks process (and the scheduler, while it should run) still run."""
        running = [*self.others, *([self.scheduler] if self.scheduler else [])]
        return all(process.poll() is None for process in running)

    def stop_all(self) -> None:
        for process in [*self.workers, *self.others, *([self.scheduler] if self.scheduler else [])]:
            _terminate(process)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def queue_depth(client: redis.Redis) -> int:
    """Jobs not finished yet: waiting, delayed (retries) or taken by a worker (a killed
    worker's jobs stay counted until Dramatiq gives them to another one); -1 when Redis is
    not answering."""
    try:
        return sum(int(client.hlen(f"crmsync:{queue}.msgs")) for queue in all_broker_queues())  # type: ignore[arg-type]
    except redis.RedisError:
        return -1
