"""Sending jobs by name: the contract between what triggers work and the actors that do it.

The webhooks app, the scheduler and the operator CLI enqueue through here, so they never
import actor code (and the actors can change without them noticing). Arguments are plain
JSON values.

=====================  ==========================================================
job                    arguments
=====================  ==========================================================
``sync_pending``       connection_id, object_type: take up to 100 of the ids webhooks left
                       pending for this connection and object type (``worker.pending``)
                       and sync them as ``sync_records`` does
``sync_records``       connection_id, object_type, external_ids: fetch these CRM records
                       (batched) and apply their current state; replays, and the ids of a
                       ``sync_pending`` job that failed (so they retry and fail as usual)
``sync_changes``       connection_id, object_type=None: incremental scan from the saved
                       cursor (all object types when None)
``reconcile``          connection_id: full pass; finds deletes, merges and drift
``push_changes``       connection_id: drain the outbox to this connection's CRM
``push_records``       connection_id, local_type, local_ids: push these local records now
                       (replays of outbound failures)
``categorize_customer`` customer_id: categorize a new customer
``categorize_customers`` customer_ids: categorize the customers a sync page created
``prune``              (none): delete sync history older than the retention settings,
                       for every tenant, in short batches (``worker.retention``)
=====================  ==========================================================

Each job has its queue (``JOB_QUEUES``, the queues are in ``worker.jobs.queues``): webhook
records and pushes on ``realtime``, scans, reconciles and prune on ``bulk``, categorization
on ``categorize``. The actors declare the same queue, from the same table.

A failure row's payload is a job call (``worker.jobs.payload.JobCall``): replaying it sends
the same job again, which re-reads current state rather than re-sending a stale copy.
"""

from __future__ import annotations

from typing import Any

from dramatiq import Message

from worker.jobs import queues
from worker.jobs.broker import broker
from worker.jobs.payload import JobCall

SYNC_PENDING = "sync_pending"
SYNC_RECORDS = "sync_records"
SYNC_CHANGES = "sync_changes"
RECONCILE = "reconcile"
PUSH_CHANGES = "push_changes"
PUSH_RECORDS = "push_records"
CATEGORIZE_CUSTOMER = "categorize_customer"
CATEGORIZE_CUSTOMERS = "categorize_customers"
PRUNE = "prune"

JOB_NAMES = frozenset(
    {
        SYNC_PENDING,
        SYNC_RECORDS,
        SYNC_CHANGES,
        RECONCILE,
        PUSH_CHANGES,
        PUSH_RECORDS,
        CATEGORIZE_CUSTOMER,
        CATEGORIZE_CUSTOMERS,
        PRUNE,
    }
)


JOB_QUEUES: dict[str, str] = {
    SYNC_PENDING: queues.REALTIME,
    SYNC_RECORDS: queues.REALTIME,
    PUSH_CHANGES: queues.REALTIME,
    PUSH_RECORDS: queues.REALTIME,
    SYNC_CHANGES: queues.BULK,
    RECONCILE: queues.BULK,
    PRUNE: queues.BULK,
    CATEGORIZE_CUSTOMER: queues.CATEGORIZE,
    CATEGORIZE_CUSTOMERS: queues.CATEGORIZE,
}
assert set(JOB_QUEUES) == JOB_NAMES and set(JOB_QUEUES.values()) <= set(queues.QUEUES)


def send(actor_name: str, *args: Any, delay_s: float | None = None, **kwargs: Any) -> Message[Any]:
    """Enqueue a job by name; ``delay_s`` holds it back (e.g. to coalesce rapid edits)."""
    if actor_name not in JOB_NAMES:
        raise ValueError(f"{actor_name!r} is not a crmsync job ({', '.join(sorted(JOB_NAMES))})")
    queue = JOB_QUEUES[actor_name]
    message: Message[Any] = Message(
        queue_name=queue, actor_name=actor_name, args=args, kwargs=kwargs, options={}
    )
    delay_ms = int(delay_s * 1000) if delay_s else None
    broker.declare_queue(queue)  # idempotent; senders need not import the actors
    return broker.enqueue(message, delay=delay_ms)


def replay(call: JobCall) -> Message[Any]:
    """Send the job a failure row describes (``JobCall.from_payload``), again."""
    return send(call.actor, *call.args, **call.kwargs)
