"""The Redis clients of a process: the broker's, and the one for locks, pending ids, API
budgets and the scheduler's lease.

- ``CRMSYNC_REDIS_SENTINELS`` set: one client to the master that the Sentinels name for
  ``CRMSYNC_REDIS_SENTINEL_SERVICE``. It asks the Sentinels again when the master stops
  answering or turns replica, so the broker survives the loss of one Redis node. The
  broker, and the shared state unless ``CRMSYNC_REDIS_URL`` points elsewhere, use it.
- Else ``CRMSYNC_BROKER_URL`` (the broker) and ``CRMSYNC_REDIS_URL`` or the broker's URL
  (the shared state).
- Neither: ``None``, and the embedded mode keeps everything in this process.

One client per address and process, so every job of a process shares one connection pool.
This module builds clients and nothing else: what lives in Redis is for its users to say.
"""

from __future__ import annotations

import functools

import redis
from redis.sentinel import Sentinel

from worker.settings import Settings

# A Sentinel that does not answer within this long is passed over for the next one.
SENTINEL_TIMEOUT_S = 2.0


def broker_client(settings: Settings) -> redis.Redis | None:
    """The client the broker is built on when Sentinels find its master; ``None`` when
    the broker connects by URL (or there is no broker)."""
    if not settings.redis_sentinels:
        return None
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    return _sentinel_master(
        tuple(settings.sentinel_addresses),
        settings.redis_sentinel_service,
        settings.redis_sentinel_db,
        password,
    )


def shared_client(settings: Settings) -> redis.Redis | None:
    """The Redis for state every process shares (locks, pending ids, budgets, the
    scheduler's lease); ``None`` in the embedded mode."""
    if settings.redis_url:
        return _from_url(settings.redis_url)
    if settings.redis_sentinels:
        return broker_client(settings)
    return _from_url(settings.broker_url) if settings.broker_url else None


@functools.cache
def _from_url(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


@functools.cache
def _sentinel_master(
    addresses: tuple[tuple[str, int], ...], service: str, db: int, password: str | None
) -> redis.Redis:
    # The timeouts bound the asking of Sentinels and the connecting to a master; commands on
    # the master keep redis-py's default (none), as the broker's URL client does.
    sentinel = Sentinel(
        list(addresses),
        sentinel_kwargs={
            "socket_timeout": SENTINEL_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_TIMEOUT_S,
        },
        socket_connect_timeout=SENTINEL_TIMEOUT_S,
        db=db,
        password=password,
    )
    master: redis.Redis = sentinel.master_for(service)
    return master
