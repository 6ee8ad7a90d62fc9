"""The Dramatiq broker and its middleware: import this before any actor module.

``CRMSYNC_BROKER_URL`` (or ``CRMSYNC_REDIS_SENTINELS``, ``worker.shared_redis``) set: a
Redis broker, and jobs run in ``crmsync worker`` processes. Unset: Dramatiq's in-process
broker, and jobs run on worker threads inside the process that started them (the
embedded mode: the demo, one machine, no Redis).

Retries follow the connector error taxonomy (see ``worker.jobs.retry``); a job that fails
for good is written to ``sync_failures`` by :class:`RecordFailures`.

This module must not import actor code, nor anything that imports it (``worker.jobs.actor``,
``worker.jobs.enqueue``).
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Middleware, Retries

from worker.jobs.context import JobContext
from worker.jobs.shutdown import RequeueOnShutdown
from worker.settings import Settings, get_settings
from worker.shared_redis import broker_client

log = logging.getLogger(__name__)


class RecordFailures(Middleware):
    """After retries are spent (or at once for a permanent error), write a failure row.

    Runs after the Retries middleware, so ``message.failed`` tells whether the message was
    given up on.
    """

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        # The database side, kept out of import time.
        from worker.jobs.retry import record_job_failure

        record_job_failure(
            message.actor_name, message.args, message.kwargs, exception, message.options
        )


# The in-process queue dies with the process, so the embedded mode cannot keep a retry for
# an hour: it retries a few times within seconds, then records a failure row to replay.
EMBEDDED_MAX_RETRIES = 3
EMBEDDED_MAX_BACKOFF_S = 5.0


def build_broker(settings: Settings) -> dramatiq.Broker:
    broker: dramatiq.Broker
    retries_max, backoff_max_s = settings.max_retries, settings.retry_max_backoff_s
    if (client := broker_client(settings)) is not None:
        broker = RedisBroker(client=client, namespace="crmsync")
    elif settings.broker_url:
        broker = RedisBroker(url=settings.broker_url, namespace="crmsync")
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
        retries_max = min(retries_max, EMBEDDED_MAX_RETRIES)
        backoff_max_s = min(backoff_max_s, EMBEDDED_MAX_BACKOFF_S)
    retries = next(m for m in broker.middleware if isinstance(m, Retries))
    retries.max_retries = retries_max
    retries.min_backoff = int(min(settings.retry_min_backoff_s, backoff_max_s) * 1000)
    retries.max_backoff = int(backoff_max_s * 1000)
    broker.add_middleware(RecordFailures(), before=Retries)
    # A worker's shutdown puts back what it cut short or had not started (worker.jobs.shutdown).
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(RequeueOnShutdown())
    broker.add_middleware(JobContext())  # last: its after-hooks clear the ids of the job
    return broker


broker = build_broker(get_settings())
dramatiq.set_broker(broker)
