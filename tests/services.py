"""Real services for tests: PostgreSQL and Redis on this machine.

A test that needs a service skips when it is not answering locally, and fails when
``CI=true``: CI never skips.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

# Unset or empty: the servers this machine runs on loopback.
POSTGRES_URL = (
    os.environ.get("CRMSYNC_TEST_POSTGRES_URL")
    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CRMSYNC_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
# Databases a test session (or each xdist worker of one) may take for itself when
# CRMSYNC_TEST_REDIS_URL is not set: two sessions on one machine (two checkouts, a run
# while another runs) must not flush or read each other's keys, as PostgreSQL gets a
# database of its own per session. 9-14 are the benchmarks' (they flush them) and 0 holds
# the claims.
SESSION_REDIS_DBS = range(1, 9)
CLAIM_TTL_S = 3 * 3600
_claimed: list[str] = []
_other: list[str] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+psycopg", ""))
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int) -> str:
    if _answers(url, default_port):
        return url
    message = f"{name} is not answering at {url}"
    if in_ci():
        pytest.fail(f"{message}; CI needs it (tests never skip in CI)")
    pytest.skip(message)


def require_postgres() -> str:
    return require("PostgreSQL", POSTGRES_URL, 5432)


def require_redis() -> str:
    url = require("Redis", REDIS_URL, 6379)
    if os.environ.get("CRMSYNC_TEST_REDIS_URL"):
        return url
    if not _claimed:
        _claimed.append(_claim_database(url))
    return _claimed[0]


def require_another_redis() -> str:
    """A second Redis database of this session's own, apart from :func:`require_redis`'s
    (for a test that needs two Redis servers, such as a broker and a shared state apart):
    claimed the same way, from the same range, whether or not ``CRMSYNC_TEST_REDIS_URL``
    is set."""
    first = require_redis()
    if not _other:
        _other.append(_claim_database(first, besides=first))
    return _other[0]


def _claim_database(url: str, *, besides: str | None = None) -> str:
    """A Redis database of this session's own: claimed with SET NX in database 0 (kept
    while the session runs, let go at exit; a crashed session's claim expires). Never
    ``besides``, which the session holds already (perhaps given, not claimed)."""
    import atexit

    import redis

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    client = redis.Redis.from_url(f"{base}/0")
    for number in SESSION_REDIS_DBS:
        if f"{base}/{number}" == besides:
            continue
        key = f"crmsync-tests:db:{number}"
        if client.set(key, os.getpid(), nx=True, ex=CLAIM_TTL_S):
            atexit.register(client.delete, key)
            return f"{base}/{number}"
    message = f"every Redis database {SESSION_REDIS_DBS.start}-{SESSION_REDIS_DBS.stop - 1} is taken by other test sessions"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
