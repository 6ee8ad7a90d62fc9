"""Declaring an actor: :func:`job`, Dramatiq's ``actor`` with crmsync's retry policy.

Actors declare themselves with :func:`job`, naming the direction their failures belong to
and which argument is the connection id (``worker.jobs.kinds``); their queue comes from
``worker.jobs.enqueue.JOB_QUEUES``, and errors follow ``worker.jobs.retry``.

Worker shutdown (SIGTERM): a job declared with ``notify_shutdown=True`` (the long passes)
is interrupted at once and its message put back as it was (``worker.jobs.shutdown``); the
other jobs are short and are left to finish within the grace period.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import dramatiq
from dramatiq.middleware import Shutdown

import worker.jobs.broker  # noqa: F401  (the broker must exist before any actor is declared)
from connectors.errors import RateLimited
from worker.jobs.enqueue import JOB_QUEUES
from worker.jobs.kinds import JOBS, JobKind
from worker.jobs.queues import LEGACY_QUEUE
from worker.jobs.retry import NEVER_RETRIED, resolve_local
from worker.jobs.shutdown import caused_by_shutdown, requeue_current

P = ParamSpec("P")
R = TypeVar("R")

# Where every job went before the queues were split: declared, so that the workers that
# consume bulk see it and a message an older release queued there still runs.
dramatiq.get_broker().declare_queue(LEGACY_QUEUE)


def job(
    *,
    direction: str,
    connection_arg: int | None = 0,
    local_arg: int | None = None,
    object_type: str | None = None,
    records_args: tuple[int, int] | None = None,
    queue_name: str | None = None,
    **actor_options: Any,
) -> Callable[[Callable[P, R]], dramatiq.Actor[P, R]]:
    """Declare an actor whose errors follow the taxonomy, on the queue ``JOB_QUEUES`` gives
    its name (``queue_name`` only for actors outside that contract, such as tests')."""

    def decorate(function: Callable[P, R]) -> dramatiq.Actor[P, R]:
        queue = JOB_QUEUES.get(function.__name__) or queue_name
        if queue is None:
            raise ValueError(f"{function.__name__} has no queue in worker.jobs.enqueue.JOB_QUEUES")

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                result = function(*args, **kwargs)
            except Shutdown:
                requeue_current()
                return None
            except RateLimited as error:
                # Not an error to log: wait what the CRM asked, then try again.
                raise dramatiq.Retry(str(error), delay=int(error.wait_s * 1000)) from error
            except Exception as error:
                if not caused_by_shutdown(error):
                    raise
                requeue_current()  # the shutdown, though a failed rollback stood in for it
                return None
            if local_arg is not None and len(args) > local_arg:
                resolve_local(direction, object_type, int(args[local_arg]))  # type: ignore[call-overload]
            return result

        JOBS[function.__name__] = JobKind(
            direction, connection_arg, local_arg, object_type, records_args
        )
        declare = dramatiq.actor(
            actor_name=function.__name__,
            queue_name=queue,
            throws=NEVER_RETRIED,
            **actor_options,
        )
        return declare(run)  # type: ignore[arg-type]

    return decorate
