"""Every job's actor, in the order of the job table (``worker.jobs.enqueue``).

Actors are thin: they take ids, call the sync engine or a service function, and return.
Retries and failure rows follow the connector error taxonomy through
``worker.jobs.actor.job``; nothing here catches errors to hide them. Code that triggers work
sends jobs by name (``worker.jobs.enqueue.send``) and never imports this module; the worker
processes load it (``worker.embedded.ACTOR_MODULES``).

A sync job of a connection that was paused, failed or removed after the job was queued is
dropped with a log line, not recorded as a failure: nothing went wrong, and the connection
catches up by scanning when it is active again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from connectors.errors import ConnectorError, RateLimited
from connectors.llm import LLMCategorizer
from customers import categorize
from customers.categorizers import Categorizer
from customers.categorizers.rules import RulesCategorizer
from customers.db import transaction
from worker import retention, shared_state
from worker.database import sessions
from worker.failures import resolve_failures
from worker.jobs import enqueue
from worker.jobs.actor import job
from worker.jobs.retry import NEVER_RETRIED, record_job_failure
from worker.pending import leased
from worker.settings import Settings, get_settings
from worker.sync.lifecycle import NotActive
from worker.sync.passes import Sync

log = logging.getLogger(__name__)


# The sync jobs: each runs a pass of the sync engine (``worker.sync.passes.Sync``).
def _sync(connection_id: int, job: str) -> Sync | None:
    try:
        return Sync(connection_id, sessions=sessions())
    except NotActive as inactive:
        log.info("%s job of connection %s dropped: %s", job, connection_id, inactive)
        return None


@job(direction="inbound")
def sync_pending(connection_id: int, object_type: str) -> None:
    """Take up to 100 ids webhooks left pending for this connection and object type, and
    apply their current state.

    The ids are leased until the commit (``worker.pending``). Once this job holds the
    connection's lock it hands over: ids that arrived meanwhile get the next job, which
    fetches while this one writes. When the sync fails the ids go to a ``sync_records``
    job, which retries and records failures as every job does (and whose failure row
    names them for a replay)."""
    store = shared_state.pending_ids()
    handed_over = False

    def hand_over() -> None:
        nonlocal handed_over
        if not handed_over:
            handed_over = True
            if store.hand_over(connection_id, object_type):
                enqueue.send(enqueue.SYNC_PENDING, connection_id, object_type)

    lease_s = get_settings().webhook_lease_s
    try:
        with leased(store, connection_id, object_type, lease_s=lease_s) as taken:
            if taken.more or not taken.ids:
                hand_over()  # over 100 wait: the next job takes them on another thread now
            if taken.ids:
                _sync_taken(connection_id, object_type, taken.ids, on_locked=hand_over)
    finally:
        hand_over()


def _sync_taken(
    connection_id: int, object_type: str, ids: list[str], *, on_locked: Callable[[], None]
) -> None:
    try:
        runner = _sync(connection_id, enqueue.SYNC_PENDING)
        if runner is None:
            return  # the ids are acknowledged: the scan after a resume reads them
        runner.records(object_type, ids, on_locked=on_locked)
    except Exception as error:
        delay_s = error.wait_s if isinstance(error, RateLimited) else None
        enqueue.send(enqueue.SYNC_RECORDS, connection_id, object_type, ids, delay_s=delay_s)
        log.warning(
            "connection %s: %d %s record(s) handed to a sync_records job after %s",
            connection_id,
            len(ids),
            object_type,
            type(error).__name__,
        )


@job(direction="inbound", records_args=(1, 2))
def sync_records(connection_id: int, object_type: str, external_ids: list[str]) -> None:
    """Fetch these CRM records (batched) and apply their current state."""
    if (runner := _sync(connection_id, enqueue.SYNC_RECORDS)) is not None:
        runner.records(object_type, external_ids)


# The long passes are interrupted by a worker's shutdown and requeued (``worker.jobs.shutdown``):
# an incremental pass, a push or a reconcile resumes at the cursor it saved with its last
# page. The short jobs finish within the grace period instead.


# A pass runs for ``pass_slice_s`` at most, then queues the rest (``continued``): this limit
# only stops a job stuck far past its slice.
@job(direction="inbound", time_limit=3600 * 1000, notify_shutdown=True)
def sync_changes(connection_id: int, object_type: str | None = None) -> None:
    """Apply what changed in the CRM since the saved cursor; a pass still going after
    ``CRMSYNC_PASS_SLICE_S`` stops at its saved cursor and queues this job again."""
    if (runner := _sync(connection_id, enqueue.SYNC_CHANGES)) is None:
        return
    until = time.monotonic() + get_settings().pass_slice_s
    if runner.incremental(object_type, until=until).outcome == "continued":
        enqueue.send(enqueue.SYNC_CHANGES, connection_id, object_type)


@job(direction="inbound", time_limit=6 * 3600 * 1000, notify_shutdown=True)
def reconcile(connection_id: int) -> None:
    """A full pass both ways: finds deletes, merges, drift and records the CRM lacks."""
    if (runner := _sync(connection_id, enqueue.RECONCILE)) is not None:
        runner.reconcile()


@job(direction="outbound", notify_shutdown=True)
def push_changes(connection_id: int) -> None:
    """Drain the outbox to the connection's CRM (after reading the CRM's changes)."""
    if (runner := _sync(connection_id, enqueue.PUSH_CHANGES)) is not None:
        runner.push()


@job(direction="outbound")
def push_records(connection_id: int, local_type: str, local_ids: list[int]) -> None:
    """Push these local records now (replays of outbound failures)."""
    if (runner := _sync(connection_id, enqueue.PUSH_RECORDS)) is not None:
        runner.push_records(local_type, local_ids)


# Categorization: a customer's category, from the configured categorizer.

_categorizers: dict[int, tuple[Settings, Categorizer]] = {}
_categorizers_lock = threading.Lock()


def build_categorizer(settings: Settings) -> Categorizer:
    """The backend the settings choose (``CRMSYNC_CATEGORIZER``)."""
    if settings.categorizer == "llm":
        assert settings.llm_base_url and settings.llm_model  # checked when settings load
        return LLMCategorizer(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
        )
    return RulesCategorizer()


def categorizer() -> Categorizer:
    """One categorizer per settings object, shared by the worker's threads."""
    settings = get_settings()
    with _categorizers_lock:
        cached = _categorizers.get(id(settings))
        if cached is None or cached[0] is not settings:
            # Settings were reloaded: close the old client, whose pooled connections would
            # otherwise stay open until the collector finds them.
            for _, old in _categorizers.values():
                if isinstance(old, LLMCategorizer):
                    old.close()
            _categorizers.clear()
            cached = _categorizers[id(settings)] = (settings, build_categorizer(settings))
        return cached[1]


@job(direction="categorize", connection_arg=None, local_arg=0, object_type="customer")
def categorize_customer(customer_id: int, force: bool = False) -> None:
    """Categorize a customer; ``force`` re-categorizes one that has a category already
    (never one categorized by hand)."""
    outcome = categorize.categorize_customer(sessions(), customer_id, categorizer(), force=force)
    log.debug("customer %s: %s", customer_id, outcome.status)


@job(direction="categorize", connection_arg=None)
def categorize_customers(customer_ids: list[int]) -> None:
    """Categorize the customers a sync page created: one message for the page rather than
    one per customer. A customer that fails for good gets the failure row its own
    ``categorize_customer`` job would have left (replaying it categorizes that customer);
    one that fails for now gets such a job, with its retries; the others go on."""
    chosen = categorizer()
    with transaction(sessions()) as session:
        asks, _ = categorize.read_for_categorizing(session, customer_ids)
    answers = {}
    for customer_id, (facts, version_read) in asks.items():
        try:
            answers[customer_id] = (chosen.categorize(facts), version_read)
        except NEVER_RETRIED as error:
            record_job_failure(enqueue.CATEGORIZE_CUSTOMER, (customer_id,), {}, error, {})
        except ConnectorError as error:
            log.info("customer %s: %s; retried in a job of its own", customer_id, error)
            enqueue.send(enqueue.CATEGORIZE_CUSTOMER, customer_id)
    with transaction(sessions()) as session:
        categorize.save_categorizations(session, answers)
        resolve_failures(
            session,
            connection_id=None,
            direction="categorize",
            object_type="customer",
            local_ids=list(answers),
        )


# Maintenance.


@job(direction="maintenance", connection_arg=None, time_limit=6 * 3600 * 1000, notify_shutdown=True)
def prune() -> None:
    """Delete sync history older than the retention settings, for every tenant, in short
    batches (``worker.retention``). A prune cut short (a worker's shutdown interrupts it and
    requeues it) removed whole batches; the next one carries on."""
    settings = get_settings()
    report = retention.prune(
        sessions(),
        retention.Retention.from_settings(settings),
        batch_rows=settings.prune_batch_rows,
    )
    log.info("prune: %d row(s) in %d transaction(s)", report.rows, report.transactions)
