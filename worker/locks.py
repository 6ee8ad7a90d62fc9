"""Locks that serialize work on one record across threads and processes.

With Redis (several worker processes) a lock is a Redis key with a timeout, so a killed
worker never holds a record forever; without Redis (the embedded mode, one process) it is
a plain thread lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Protocol

import redis

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_WAIT_S = 30.0
KEY_PREFIX = "crmsync:lock:"


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
    """Locks in Redis that expire after ``timeout_s`` if their holder dies."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    @contextmanager
    def hold(
        self, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, wait_s: float = DEFAULT_WAIT_S
    ) -> Iterator[None]:
        lock = self._client.lock(KEY_PREFIX + name, timeout=timeout_s, blocking_timeout=wait_s)
        if not lock.acquire():
            raise LockTimeout(name)
        try:
            yield
        finally:
            # Held past its timeout and taken over: the work is idempotent, so the other
            # holder's result stands.
            with suppress(redis.exceptions.LockError):
                lock.release()


def locks_for(redis_url: str | None) -> Locks:
    return RedisLocks(redis.Redis.from_url(redis_url)) if redis_url else ThreadLocks()
