"""The Redis clients of a process: the broker's, and any other by URL.

- ``CRMSYNC_REDIS_SENTINELS`` set: one client to the master that the Sentinels name for
  ``CRMSYNC_REDIS_SENTINEL_SERVICE``. It asks the Sentinels again when the master stops
  answering or turns replica, so the broker survives the loss of one Redis node.
- Else the broker connects by ``CRMSYNC_BROKER_URL`` itself, and other users get a client
  per URL here.

One client per address and process, so every job of a process shares one connection pool.
This module builds clients and nothing else: which Redis holds the shared state is
``worker.shared_state``'s to say, and what lives in it is for its users to say.
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


@functools.cache
def client_for_url(url: str) -> redis.Redis:
    """The process's one client for ``url``."""
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
