"""``categorize_customer`` end to end on the in-process broker (the embedded mode): the
real actor, the real SDK, the sandbox endpoint over a socket, SQLite and PostgreSQL."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import dramatiq
import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers import categorize, service
from customers.db import transaction
from customers.models import Customer
from customers.sync_state import SyncFailure
from sandbox.llm import LLMSandbox
from tests.customers.categorize.conftest import MODEL
from worker.cli import background
from worker.jobs import enqueue
from worker.jobs.payload import JobCall


def add(sessions: sessionmaker[Session], tenant_id: int, name: str, email: str) -> int:
    with transaction(sessions) as session:
        return service.create_customer(session, tenant_id, {"name": name, "email": email}).id


def wait_until(check: Callable[[], object], timeout_s: float = 15.0) -> object:
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


def failures(sessions: sessionmaker[Session]) -> list[SyncFailure]:
    with sessions() as session:
        return list(session.scalars(select(SyncFailure).order_by(SyncFailure.id)))


def test_rate_limited_then_failing_then_answering_is_saved(
    running_worker: dramatiq.Worker, llm: LLMSandbox, sessions: sessionmaker[Session],
    tenant_id: int,
) -> None:  # fmt: skip
    customer_id = add(sessions, tenant_id, "Acme Software GmbH", "ap@acme-software.de")
    llm.rate_limit()  # first call: 429 with Retry-After 0.2 s
    llm.fail(500)  # second call: 500
    enqueue.send(enqueue.CATEGORIZE_CUSTOMER, customer_id)

    def categorized() -> Customer | None:
        with sessions() as session:
            customer = session.get_one(Customer, customer_id)
            return customer if customer.category else None

    customer = wait_until(categorized)
    assert isinstance(customer, Customer)
    assert (customer.category, customer.subcategory, customer.category_source) == (
        "technology",
        "software",
        f"llm:{MODEL}",
    )
    assert llm.calls == 3
    first, second, _ = llm.arrivals
    assert second - first >= 0.2  # the Retry-After the endpoint sent, not the backoff
    assert failures(sessions) == []


def test_a_malformed_answer_is_a_permanent_failure_row_at_once(
    running_worker: dramatiq.Worker, llm: LLMSandbox, sessions: sessionmaker[Session],
    tenant_id: int,
) -> None:  # fmt: skip
    customer_id = add(sessions, tenant_id, "Acme Software GmbH", "ap@acme-software.de")
    llm.malformed()
    enqueue.send(enqueue.CATEGORIZE_CUSTOMER, customer_id)
    wait_until(lambda: failures(sessions))
    [failure] = failures(sessions)
    assert (failure.direction, failure.error_class, failure.crm_code, failure.attempts) == (
        "categorize",
        "permanent",
        "invalid_answer",
        1,
    )
    assert "spaceships" in failure.message and failure.connection_id is None
    assert failure.payload == {"actor": "categorize_customer", "args": [customer_id], "kwargs": {}}
    assert llm.calls == 1
    # Replaying the row sends the same job again, which now gets a good answer.
    enqueue.replay(JobCall.from_payload(failure.payload))
    wait_until(lambda: load_category(sessions, customer_id))
    assert load_category(sessions, customer_id) == "technology"


def load_category(sessions: sessionmaker[Session], customer_id: int) -> str | None:
    with sessions() as session:
        return session.get_one(Customer, customer_id).category


def test_the_actor_never_overwrites_a_manual_category(
    worker_settings: None, fast_retries: None, llm: LLMSandbox,
    sessions: sessionmaker[Session], tenant_id: int,
) -> None:  # fmt: skip
    customer_id = add(sessions, tenant_id, "Acme Software GmbH", "ap@acme-software.de")
    with transaction(sessions) as session:
        categorize.set_category(session, tenant_id, customer_id, "retail", "stores")
    background.declare_actors()
    message = enqueue.send(enqueue.CATEGORIZE_CUSTOMER, customer_id, force=True)
    run = background.run_here([message.message_id], what="", console=Console(file=io.StringIO()))
    assert run.succeeded == {message.message_id}  # it ran, and left the customer alone
    assert load_category(sessions, customer_id) == "retail"
    assert llm.calls == 0 and failures(sessions) == []


def test_a_page_of_new_customers_is_one_job_and_a_failing_one_gets_its_own(
    running_worker: dramatiq.Worker, llm: LLMSandbox, sessions: sessionmaker[Session],
    tenant_id: int,
) -> None:  # fmt: skip
    ids = [
        add(sessions, tenant_id, f"Acme Software {n} GmbH", f"ap{n}@acme{n}.de") for n in range(3)
    ]
    llm.malformed()  # the first call: an answer outside the taxonomy, a permanent failure
    enqueue.send(enqueue.CATEGORIZE_CUSTOMERS, ids)

    def settled() -> bool:
        with sessions() as session:
            categorized = session.scalars(
                select(Customer.id).where(Customer.id.in_(ids), Customer.category.is_not(None))
            ).all()
        return len(categorized) == 2 and len(failures(sessions)) == 1

    wait_until(settled)
    [failure] = failures(sessions)
    # The row is the one the customer's own job would leave: replaying it asks again.
    assert failure.local_id == ids[0] and failure.error_class == "permanent"
    assert failure.payload == {"actor": "categorize_customer", "args": [ids[0]], "kwargs": {}}
    assert llm.calls == 3  # a permanent failure is not asked again
    enqueue.replay(JobCall.from_payload(failure.payload))
    wait_until(lambda: load_category(sessions, ids[0]))


def test_a_customer_failing_for_now_in_a_page_is_retried_in_a_job_of_its_own(
    running_worker: dramatiq.Worker, llm: LLMSandbox, sessions: sessionmaker[Session],
    tenant_id: int,
) -> None:  # fmt: skip
    ids = [
        add(sessions, tenant_id, f"Acme Software {n} GmbH", f"ap{n}@acme{n}.de") for n in range(2)
    ]
    llm.fail(503)  # the first call only
    enqueue.send(enqueue.CATEGORIZE_CUSTOMERS, ids)
    wait_until(lambda: all(load_category(sessions, customer_id) for customer_id in ids))
    assert failures(sessions) == [] and llm.calls >= 3


def test_reloaded_settings_close_the_old_categorizers_client(
    worker_settings: None, llm: LLMSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.llm import LLMCategorizer
    from worker import actors
    from worker.settings import get_settings

    first = actors.categorizer()
    assert isinstance(first, LLMCategorizer) and actors.categorizer() is first
    monkeypatch.setenv("CRMSYNC_LLM_TIMEOUT_S", "0.6")
    get_settings.cache_clear()
    second = actors.categorizer()
    assert second is not first and isinstance(second, LLMCategorizer)
    # Its pooled connections are closed now, not whenever the collector finds them.
    assert first._client.is_closed() and not second._client.is_closed()
