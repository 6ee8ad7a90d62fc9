"""Each job's ids on the log lines written while it runs.

This module must not import the broker, which loads it.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import Middleware

from worker.jobs.kinds import connection_of
from worker.logs import bind, configure


class JobContext(Middleware):
    """Binds each job's ``message_id``, ``actor`` and ``connection_id`` to the log lines
    written while it runs (the sync run binds its ``run_id``), and clears them after.

    In a Dramatiq worker process it also sets up logging at boot, replacing what Dramatiq's
    CLI configured (its own format, at INFO whatever ``CRMSYNC_LOG_LEVEL`` says)."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        configure(service=True)

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
        bind(
            message_id=message.message_id,
            actor=message.actor_name,
            connection_id=connection_of(message.actor_name, message.args),
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
