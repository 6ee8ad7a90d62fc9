"""Locks across processes: a held lock is renewed while its holder works; a dead holder's
lock frees within one lease."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import redis

from tests.services import require_redis
from worker.locks import LockTimeout, RedisLocks, ThreadLocks, locks_for


@pytest.fixture
def client() -> redis.Redis:
    connection = redis.Redis.from_url(require_redis())
    connection.delete("crmsync:lock:test")
    return connection


def test_a_lock_outlives_its_lease_while_its_holder_works(client: redis.Redis) -> None:
    locks = RedisLocks(client)
    with locks.hold("test", timeout_s=0.6, wait_s=0.1):
        time.sleep(1.5)  # well past the lease: the heartbeat keeps it
        other = RedisLocks(redis.Redis.from_url(require_redis()))
        with pytest.raises(LockTimeout), other.hold("test", timeout_s=0.6, wait_s=0.2):
            pass
    with locks.hold("test", timeout_s=0.6, wait_s=0.1):
        pass  # released on exit


def test_a_killed_holders_lock_frees_within_a_lease(client: redis.Redis) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import redis, time; from worker.locks import RedisLocks\n"
        f"locks = RedisLocks(redis.Redis.from_url({require_redis()!r}))\n"
        "with locks.hold('test', timeout_s=1.0, wait_s=5):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )], stdout=subprocess.PIPE)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    holder.kill()
    holder.wait()
    holder.stdout.close()
    started = time.monotonic()
    with RedisLocks(client).hold("test", timeout_s=1.0, wait_s=5):
        waited = time.monotonic() - started
    assert waited < 2.0  # not the holder's 60 s of work


def test_thread_locks_serialize_threads() -> None:
    locks, inside, overlaps = ThreadLocks(), [], []

    def work() -> None:
        with locks.hold("record"):
            inside.append(1)
            overlaps.append(len(inside))
            time.sleep(0.01)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [1] * 8


def test_jobs_of_one_process_share_its_locks() -> None:
    # Without Redis, a Sync per job with its own thread locks would exclude nothing.
    assert locks_for(None) is locks_for(None)
    url = require_redis()
    assert locks_for(url) is locks_for(url)  # one Redis client, not a connection per job
