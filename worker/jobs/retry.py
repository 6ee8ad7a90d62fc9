"""How jobs fail and retry: the connector error taxonomy mapped to Dramatiq, in one place.

- ``Permanent`` and ``AuthError``: no retry; a failure row at once.
- ``RateLimited``: retried after the wait the CRM asked for (``Retry(delay=...)``, raised
  by the job decorator, ``worker.jobs.actor``).
- ``Transient`` and anything unexpected: retried with exponential backoff and jitter
  (Dramatiq's ``Retries``, set up by ``worker.jobs.broker``).
- Retries spent: a failure row (:func:`record_job_failure`, called by
  ``worker.jobs.broker.RecordFailures``), filed under what the job is about
  (``worker.jobs.kinds``).

This module must not import the broker, which calls it.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from connectors.errors import AuthError, Permanent
from customers.db import transaction
from customers.errors import DirectoryError
from worker.database import sessions
from worker.failures import record_failure, resolve_failures
from worker.jobs.kinds import kind_of
from worker.jobs.payload import JobCall

log = logging.getLogger(__name__)

# Errors that retrying cannot fix.
NEVER_RETRIED: tuple[type[BaseException], ...] = (Permanent, AuthError, DirectoryError)


def resolve_local(direction: str, object_type: str | None, local_id: int) -> None:
    """Close the failure row of a job about one local record, which has now succeeded."""
    with transaction(sessions()) as session:
        resolve_failures(
            session,
            connection_id=None,
            direction=direction,
            object_type=object_type,
            local_ids=[local_id],
        )


def record_job_failure(
    actor_name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exception: BaseException,
    options: dict[str, Any],
) -> None:
    kind = kind_of(actor_name)
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
                payload=JobCall.of(actor_name, *args, **kwargs).payload(),
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
