"""Locks that serialize work on one connection across threads and processes.

The lock that keeps one writer per connection is PostgreSQL's: every transaction that
writes a connection's links, pages or pushes takes :func:`lock_connection` first, and holds
it until it commits. A Redis restart, a lost key or a paused process cannot open a second
writer, because the database, not Redis, holds it. The locks below are the fast path in
front of it: jobs queue on them (with a heartbeat, so a dead holder frees them within one
lease) instead of holding a database connection each while they wait.

With Redis (several worker processes) a lock is a Redis key with a short lease that a
heartbeat renews while the holder works, so a worker killed while holding it frees it
within one lease, however long its work would have taken. Without Redis (the embedded
mode, one process) it is a plain thread lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Protocol

import redis
from sqlalchemy.orm import Session

from customers.db import LOCK_CONNECTION, lock_for_transaction

DEFAULT_TIMEOUT_S = 30.0  # the lease: how long a dead holder keeps others waiting
DEFAULT_WAIT_S = 30.0
KEY_PREFIX = "crmsync:lock:"
# How often a waiter tries again: jobs queue on a connection's lock, and redis-py's default
# (0.1 s) wasted most of each hand-off.
POLL_S = 0.005


class LockTimeout(Exception):
    """The lock was still held by someone else when the wait ran out."""


class Locks(Protocol):
    def hold(
        self, name: str, *, timeout_s: float = ..., wait_s: float = ...
    ) -> AbstractContextManager[None]: ...


class ThreadLocks:
    """In-process locks by name."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(
        self, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, wait_s: float = DEFAULT_WAIT_S
    ) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        if not lock.acquire(timeout=wait_s):
            raise LockTimeout(name)
        try:
            yield
        finally:
            lock.release()


class RedisLocks:
    """Locks in Redis that expire ``timeout_s`` after their holder stopped renewing them."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    @contextmanager
    def hold(
        self, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, wait_s: float = DEFAULT_WAIT_S
    ) -> Iterator[None]:
        # Not thread-local: the heartbeat thread renews the lock this thread took.
        lock = self._client.lock(
            KEY_PREFIX + name,
            timeout=timeout_s,
            blocking_timeout=wait_s,
            thread_local=False,
            sleep=POLL_S,
        )
        if not lock.acquire():
            raise LockTimeout(name)
        done = threading.Event()

        def renew() -> None:
            while not done.wait(timeout_s / 3):
                try:
                    lock.reacquire()
                except (redis.exceptions.LockError, redis.exceptions.ConnectionError):
                    return  # lost: the work is idempotent, the next holder redoes what is left

        heartbeat = threading.Thread(target=renew, name=f"lock-{name}", daemon=True)
        heartbeat.start()
        try:
            yield
        finally:
            done.set()
            heartbeat.join()
            # Held past its timeout and taken over: the work is idempotent, so the other
            # holder's result stands.
            with suppress(redis.exceptions.LockError):
                lock.release()


@functools.cache
def locks_for(client: redis.Redis | None) -> Locks:
    """The process's locks: one Redis client for all jobs (not a new connection per job;
    ``worker.shared_state.locks`` picks it), and, without Redis, one set of thread locks,
    so jobs of this process exclude each other."""
    return RedisLocks(client) if client is not None else ThreadLocks()


def lock_connection(session: Session, connection_id: int) -> None:
    """The connection's one-writer lock, held by the database until this transaction ends
    (``customers.db.lock_for_transaction``). Taken first in the transaction: before the
    tenant's creation guard and before any row lock."""
    lock_for_transaction(session, LOCK_CONNECTION, connection_id)
