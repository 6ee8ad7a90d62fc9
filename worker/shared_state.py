"""Where the state that every process shares lives: one Redis, or this process's memory.

Four kinds of state must be seen alike by the webhooks app, every worker process and the
scheduler: the record ids waiting for a ``sync_pending`` job (``worker.pending``), the locks
in front of a connection's one writer (``worker.locks``), the CRMs' request budgets
(``connectors.budget``) and the scheduler's lease. All four live in the Redis that
:func:`client` picks from the settings:

- ``CRMSYNC_REDIS_URL`` when it is set;
- else the broker's Redis: the master the Sentinels name (``CRMSYNC_REDIS_SENTINELS``), or
  ``CRMSYNC_BROKER_URL``;
- else none, and the embedded mode keeps them in this process's memory (its one process
  runs every job).

The choice is made here and nowhere else, so the four never split across two servers.
``worker.shared_redis`` builds the clients; ``connectors`` takes the client as an argument
and never reads the settings.
"""

from __future__ import annotations

import redis

from worker.locks import Locks, locks_for
from worker.pending import PendingStore, store_for
from worker.settings import Settings, get_settings
from worker.shared_redis import broker_client, client_for_url


def client(settings: Settings | None = None) -> redis.Redis | None:
    """The Redis that holds the shared state, or ``None`` for this process's memory."""
    settings = settings or get_settings()
    if settings.shared_redis_url:
        return client_for_url(settings.shared_redis_url)
    return broker_client(settings)  # the Sentinels' master, or none at all


def pending_ids(settings: Settings | None = None) -> PendingStore:
    """Where webhook ids wait for their ``sync_pending`` job."""
    settings = settings or get_settings()
    return store_for(client(settings), lease_s=settings.webhook_lease_s)


def locks(settings: Settings | None = None) -> Locks:
    """The locks that queue jobs in front of a connection's writer."""
    return locks_for(client(settings))
