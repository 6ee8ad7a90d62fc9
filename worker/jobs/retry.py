"""How jobs fail and retry: the connector error taxonomy mapped to Dramatiq, in one place.

- ``Permanent`` and ``AuthError``: no retry; a failure row at once.
- ``RateLimited``: retried after the wait the CRM asked for (``Retry(delay=...)``).
- ``Transient`` and anything unexpected: retried with exponential backoff and jitter.
- Retries spent: a failure row (written by ``worker.jobs.broker.RecordFailures``).

Actors declare themselves with :func:`job`, naming the direction their failures belong to
and which argument is the connection id; their queue comes from ``worker.jobs.enqueue.JOB_QUEUES``.

Worker shutdown (SIGTERM): a job declared with ``notify_shutdown=True`` (the long passes)
is interrupted at once and its message put back as it was (``worker.jobs.shutdown``); the
other jobs are short and are left to finish within the grace period.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import dramatiq
from dramatiq.middleware import Shutdown

import worker.jobs.broker  # noqa: F401  (the broker must exist before any actor is declared)
from connectors.errors import AuthError, Permanent, RateLimited
from customers.db import transaction
from customers.errors import DirectoryError
from worker.database import sessions
from worker.failures import record_failure, resolve_failures
from worker.jobs.enqueue import JOB_QUEUES, job_payload
from worker.jobs.queues import LEGACY_QUEUE
from worker.jobs.shutdown import requeue_current

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Errors that retrying cannot fix.
NEVER_RETRIED: tuple[type[BaseException], ...] = (Permanent, AuthError, DirectoryError)


@dataclass(frozen=True)
class JobKind:
    direction: str  # inbound | outbound | categorize | ...
    connection_arg: int | None  # position of the connection id argument, if any
    # For jobs about one local record (categorize a customer): which argument names it, so
    # each record keeps its own failure row, closed when a later run of the job succeeds.
    local_arg: int | None = None
    object_type: str | None = None
    # For jobs about CRM records (object type, list of ids): a job naming one record keeps
    # its failure on that record's row (e.g. a replay that fails again reopens it).
    records_args: tuple[int, int] | None = None


JOBS: dict[str, JobKind] = {}

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
            if local_arg is not None and len(args) > local_arg:
                _resolve_local(direction, object_type, int(args[local_arg]))  # type: ignore[call-overload]
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


def _resolve_local(direction: str, object_type: str | None, local_id: int) -> None:
    with transaction(sessions()) as session:
        resolve_failures(
            session, connection_id=None, direction=direction, object_type=object_type,
            local_ids=[local_id],
        )  # fmt: skip


def record_job_failure(
    actor_name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exception: BaseException,
    options: dict[str, Any],
) -> None:
    kind = JOBS.get(actor_name, JobKind("internal", None))
    cause = (
        exception.__cause__
        if isinstance(exception, dramatiq.Retry) and exception.__cause__
        else exception
    )
    connection_id = (
        args[kind.connection_arg]
        if kind.connection_arg is not None and len(args) > kind.connection_arg
        else None
    )
    local_id = (
        int(args[kind.local_arg])
        if kind.local_arg is not None and len(args) > kind.local_arg
        else None
    )
    object_type, external_id = kind.object_type, None
    if kind.records_args is not None and len(args) > max(kind.records_args):
        ids = args[kind.records_args[1]]
        if isinstance(ids, list | tuple) and len(ids) == 1:
            object_type, external_id = str(args[kind.records_args[0]]), str(ids[0])
    try:
        with transaction(sessions()) as session:
            record_failure(
                session,
                direction=kind.direction,
                error=cause,
                payload=job_payload(actor_name, *args, **kwargs),
                connection_id=connection_id,
                object_type=object_type,
                external_id=external_id,
                local_id=local_id,
                # Retries counts failed runs, except for errors it never retries.
                attempts=int(options.get("retries", 0))
                + (1 if isinstance(cause, NEVER_RETRIED) else 0),
            )
    except Exception:
        # The job's own error is already logged by Dramatiq; losing the row must not be silent.
        log.exception("could not record the failure of %s%r", actor_name, args)
