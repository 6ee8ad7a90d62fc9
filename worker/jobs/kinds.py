"""What each job is about: the direction its failures belong to, and which of its
arguments names its connection, its local record or its CRM records.

The job decorator (``worker.jobs.actor.job``) registers a kind per actor as it is
declared; the retry policy reads it to write failure rows, the log and trace middleware to
tag a job with its connection. A job no actor declared here is ``internal``.

This module imports nothing: every part of the job runtime may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


INTERNAL = JobKind("internal", None)

JOBS: dict[str, JobKind] = {}


def kind_of(actor_name: str) -> JobKind:
    return JOBS.get(actor_name, INTERNAL)


def connection_of(actor_name: str, args: tuple[Any, ...] | list[Any]) -> int | None:
    """The connection id a job is about, from its arguments."""
    kind = JOBS.get(actor_name)
    if kind is None or kind.connection_arg is None or len(args) <= kind.connection_arg:
        return None
    value = args[kind.connection_arg]
    return value if isinstance(value, int) and not isinstance(value, bool) else None
