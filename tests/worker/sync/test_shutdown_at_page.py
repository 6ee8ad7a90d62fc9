"""A stopping worker's pass ends at its next page even when Dramatiq's notice is lost.

Dramatiq tells a long job its worker is stopping with an asynchronous ``Shutdown``, which
Python drops when it lands in a finalizer or a weakref callback (it prints "Exception
ignored in ..."); the pass then ran to its end and the worker's stop waited for it. Here
the notice is never sent at all: only the worker's shutdown hook runs, as when the
exception was dropped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from dramatiq.middleware import Shutdown
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.sync_state import ExternalLink, SyncCursor, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.conftest import _truncate
from tests.connectors.conftest import hubspot_connector
from tests.worker.sync.conftest import hubspot_connection
from worker.jobs import shutdown
from worker.locks import ThreadLocks
from worker.sync import joined
from worker.sync.passes import Sync

PAGE = 100  # HubSpot's list page: a first pass lists
COMPANIES = 2 * PAGE + 50  # three pages


@pytest.fixture(autouse=True)
def _pages_applied_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The passes here stop between two list pages: each is applied on its own."""
    monkeypatch.setattr(joined, "APPLY_RECORDS", PAGE)


def _stopped_pass(
    sessions: sessionmaker[Session], tenant_id: int, after_page: Callable[[int], None]
) -> tuple[list[int], pytest.ExceptionInfo[Shutdown]]:
    """A first pass over the companies that must end in ``Shutdown``; the records read
    after each page it applied, and what stopped it. ``after_page`` is told how many pages
    were applied."""
    with HubSpotSandbox(limits=None) as sandbox:
        sandbox.seed(generate_companies(COMPANIES, seed=7))
        connection_id = hubspot_connection(sessions, tenant_id, str(sandbox.portal_id))
        pages: list[int] = []

        def progress(_object_type: str, read: int) -> None:
            pages.append(read)
            after_page(len(pages))

        sync = Sync(connection_id, sessions=sessions, connector=hubspot_connector(sandbox),
                    locks=ThreadLocks(), progress=progress)  # fmt: skip
        with pytest.raises(Shutdown) as stopped:
            sync.incremental("company")
    return pages, stopped


def test_a_pass_stops_at_the_next_page_once_its_worker_is_stopping(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    middleware = shutdown.RequeueOnShutdown()
    worker = SimpleNamespace(workers=[threading.current_thread()])

    def after_page(applied: int) -> None:
        if applied == 1:  # the worker is told to stop while the pass is under way
            middleware.before_worker_shutdown(None, worker)  # type: ignore[arg-type]

    try:
        pages, _ = _stopped_pass(sessions, tenant_id, after_page)
    finally:
        middleware.after_worker_shutdown(None, worker)  # type: ignore[arg-type]
    assert pages == [PAGE]
    assert not shutdown.stopping()  # the mark went with the worker
    with sessions() as session:
        [run] = session.scalars(select(SyncRun)).all()
        linked = session.scalar(select(func.count()).select_from(ExternalLink))
        cursor = session.scalar(select(SyncCursor.value))
    assert (run.outcome, run.error, run.finished_at is not None) == (
        "interrupted",
        "Shutdown",
        True,
    )
    assert run.counts["read"] == PAGE and linked is not None and 0 < linked <= PAGE
    assert cursor, "the page applied before the stop saved the cursor"


def test_the_check_is_quiet_outside_a_stopping_worker() -> None:
    other = SimpleNamespace(workers=[threading.Thread(target=lambda: None)])
    other.workers[0].start()
    other.workers[0].join()
    middleware = shutdown.RequeueOnShutdown()
    middleware.before_worker_shutdown(None, other)  # type: ignore[arg-type]
    try:
        shutdown.raise_if_stopping()  # another worker's stop is not this thread's
        assert not shutdown.stopping()
    finally:
        middleware.after_worker_shutdown(None, other)  # type: ignore[arg-type]


def test_a_shutdown_notice_landing_in_a_database_call_is_an_interruption_not_a_failure(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notice lands wherever the thread is. In psycopg's wait for a result it leaves
    the connection mid-query (psycopg cleans up after ^C only), what the transaction does
    next with it fails, and that error stood in for the notice: the run ended ``failed`` and the
    job was retried as a failure instead of put back."""
    _truncate(postgres_engine)
    sessions = db.session_factory(postgres_engine)
    with db.transaction(sessions) as session:
        tenant = service.get_tenant(session, "stopping")
        tenant.require_billing_address = False
        tenant_id = tenant.id
    armed = threading.Event()
    real_wait = psycopg.Connection.wait

    def wait(self: psycopg.Connection[Any], gen: Any, *args: Any, **kwargs: Any) -> Any:
        if armed.is_set() and threading.current_thread() is pass_thread:
            try:
                next(gen)  # the statement is sent ...
            except StopIteration as done:
                return done.value  # (done without waiting: the next one, then)
            armed.clear()
            raise Shutdown("worker shutdown")  # ... and Dramatiq's notice lands in the wait
        return real_wait(self, gen, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "wait", wait)
    pass_thread = threading.current_thread()
    # After each page, the next statement of this thread gets the notice.
    pages, stopped = _stopped_pass(sessions, tenant_id, lambda _applied: armed.set())
    # What stood in for the notice (psycopg: "can't change 'autocommit' now: connection in
    # transaction status ACTIVE", from the pool's reset of the connection).
    assert isinstance(stopped.value.__cause__, DBAPIError)
    assert pages == [PAGE]
    with sessions() as session:
        [run] = session.scalars(select(SyncRun)).all()
    assert (run.outcome, run.error, run.finished_at is not None) == (
        "interrupted",
        "Shutdown",
        True,
    )
    assert run.counts["read"] == PAGE


def test_an_error_in_the_shutdowns_wake_is_the_shutdown() -> None:
    try:
        try:
            raise Shutdown("worker shutdown")
        except Shutdown:
            # Raised while handling it, not from it: how the failed rollback chains.
            raise OperationalError("ROLLBACK", {}, Exception("another command is in progress"))  # noqa: B904
    except OperationalError as error:
        assert shutdown.caused_by_shutdown(error)
    assert not shutdown.caused_by_shutdown(OperationalError("SELECT 1", {}, Exception("down")))
