"""The job queues, so a fleet can give each kind of work its own pool of workers.

==============  =========================================================  ==============
queue           jobs                                                       why apart
==============  =========================================================  ==============
``realtime``    webhook records (``sync_pending``, ``sync_records``) and   seconds matter
                pushes (``push_changes``, ``push_records``)
``bulk``        scans and reconciles (``sync_changes``, ``reconcile``)     minutes to
                and ``prune``                                              hours each
``categorize``  ``categorize_customer``, ``categorize_customers``          an LLM's pace
==============  =========================================================  ==============

Which job goes on which queue is one table, ``worker.jobs.enqueue.JOB_QUEUES``; the actors
take their ``queue_name`` from it. A worker started with no ``--queues`` consumes every queue.
``default`` is where every job went before the queues were split: a worker that consumes
``bulk`` (or every queue) also drains it, so a message queued by an older release still
runs once.

This module imports nothing of the project: the CLI checks ``--queues`` with it without
building a broker.
"""

from __future__ import annotations

from collections.abc import Iterable

REALTIME = "realtime"
BULK = "bulk"
CATEGORIZE = "categorize"

QUEUES: tuple[str, ...] = (REALTIME, BULK, CATEGORIZE)
LEGACY_QUEUE = "default"  # drained by the consumers of BULK; nothing is sent there any more


def parse_queues(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """The queue names of ``--queues`` (comma-separated, or repeated), checked and in the
    order of :data:`QUEUES`; none given means all.

    Raises ``ValueError`` naming the unknown names and the known ones."""
    if text is None:
        return QUEUES
    parts = [text] if isinstance(text, str) else list(text)
    names = {name.strip() for part in parts for name in part.split(",") if name.strip()}
    if not names:
        return QUEUES
    unknown = sorted(names - set(QUEUES))
    if unknown:
        raise ValueError(
            f"unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(QUEUES)}"
        )
    return tuple(name for name in QUEUES if name in names)


def consumed(queues: Iterable[str]) -> tuple[str, ...]:
    """The broker queues a worker of these queues reads: the legacy queue rides with bulk."""
    chosen = tuple(queues)
    return (*chosen, LEGACY_QUEUE) if BULK in chosen else chosen


def all_broker_queues() -> tuple[str, ...]:
    """Every queue a job may wait in, delay queues included (for queue depth and drains)."""
    names = (*QUEUES, LEGACY_QUEUE)
    return (*names, *(f"{name}.DQ" for name in names))
