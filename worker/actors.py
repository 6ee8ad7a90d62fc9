"""The Dramatiq actors: thin wrappers that take ids, call a service function and return.

Retries and failure rows follow the connector error taxonomy through ``worker.jobs.retry.job``;
nothing here catches errors. Jobs are sent by name through ``worker.jobs.enqueue`` (which lists
every job and its arguments), so code that triggers work never imports this module.
"""

from __future__ import annotations

import logging
import threading

from connectors.errors import ConnectorError
from connectors.llm import LLMCategorizer
from customers import categorize
from customers.categorizers import Categorizer
from customers.categorizers.rules import RulesCategorizer
from customers.db import transaction
from worker import retention
from worker.database import sessions
from worker.failures import resolve_failures
from worker.jobs import enqueue
from worker.jobs.retry import NEVER_RETRIED, job, record_job_failure
from worker.settings import Settings, get_settings

log = logging.getLogger(__name__)

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
            _categorizers.clear()  # settings were reloaded (tests): forget the old client
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
            session, connection_id=None, direction="categorize", object_type="customer",
            local_ids=list(answers),
        )  # fmt: skip


@job(direction="maintenance", connection_arg=None, time_limit=6 * 3600 * 1000,
     notify_shutdown=True)  # fmt: skip
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
