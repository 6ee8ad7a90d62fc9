"""The sync passes of one connection, each recorded as a ``sync_runs`` row.

- ``records``: fetch named CRM records (a webhook, a replay) and apply their current state;
- ``incremental``: scan what changed since the saved cursor; the cursor is saved with each
  page, in the same transaction as the page's changes, so a crash re-reads one page at most
  and a stopped run resumes where it was;
- ``reconcile``: a full pass; links the pass did not see, and that existed before it began,
  are CRM deletes (archive and unlink); then local records the CRM lacks are created;
- ``push``: read the CRM's changes first (so local never overwrites an edit it has not
  seen), then drain the outbox.

A scan's small pages are applied ten at a time (``worker.sync.joined``: a page's own cost
is paid per transaction, not per 100 HubSpot records), and read one joined page ahead
(``worker.sync.prefetch``): the next comes from the CRM while the current one is applied,
so the two waits overlap instead of adding up. Applying
a page never calls the CRM, and a pass's writes to it start once its scans are done: the
connector serves one thread at a time.

Writes of one connection are serialized by one lock held by the database (each page's and
each push batch's transaction takes it first; ``worker.locks``), so work on a link never
interleaves across processes, whatever becomes of Redis. When the daily API budget is nearly
spent a pass ends cleanly at its saved cursor (outcome ``budget_exhausted``). An
incremental pass given a deadline (a ``sync_changes`` job: ``CRMSYNC_PASS_SLICE_S``) ends
the same way at the first page boundary past it (outcome ``continued``), for its job to
queue the rest: a first sync of a large account is a chain of jobs of minutes each, not
one job that outlives the worker's time limit or holds a thread for an hour. Only an
active connection runs passes; credentials the CRM refuses fail the connection
(``auth_failed``, ``worker.sync.lifecycle``) so nothing more is tried until a person acts.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, cast

from dramatiq.middleware import Shutdown
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector, Cursor, Page
from connectors.errors import AuthError, BudgetExhausted
from customers import service
from customers.db import refresh_statistics, transaction
from customers.errors import NotFound
from customers.models import Contact, Customer
from customers.sync_state import Connection, ExternalLink, SyncCursor, SyncRun
from customers.types import utcnow
from worker import failures, logs, shared_state
from worker.jobs import enqueue, shutdown
from worker.locks import Locks, lock_connection
from worker.sync import connections, lifecycle
from worker.sync.inbound import PageResult, apply_page
from worker.sync.joined import joined
from worker.sync.outbound import Pusher
from worker.sync.prefetch import read_ahead
from worker.sync.target import SyncTarget

log = logging.getLogger(__name__)
_REPORTED: set[tuple[int, Any]] = set()


class _SliceOver(Exception):
    """An incremental pass reached its deadline with pages left: it stops at the saved
    cursor, and its job queues the rest."""


PUSH_CHUNK = 500
# A pass that adds this many rows refreshes the statistics of the tables it reads by key
# (``customers.db.refresh_statistics``), and again each time it has doubled them: a first
# sync into empty tables is planned from real sizes within its first pages, at a handful
# of ANALYZEs for any size.
ANALYZE_FIRST = 1_000
ADDED = ("created", "linked", "contacts_created", "contacts_linked")
Progress = Callable[[str, int], None]  # (object type, records applied so far)


class Sync:
    """Runs passes for one connection."""

    def __init__(
        self,
        connection_id: int,
        *,
        sessions: sessionmaker[Session],
        connector: Connector | None = None,
        locks: Locks | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.sessions = sessions
        with sessions() as session:
            row = session.get(Connection, connection_id)
            if row is None:
                raise NotFound("connection", connection_id)  # permanent: never retried
            lifecycle.ensure_active(row)  # before the connector: a removed one has no credentials
            self.full_target = SyncTarget.from_connection(row)
            self.target = self.full_target
            self.connector = connector or connections.reusable_connector(row)
        self.locks = locks or shared_state.locks()
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self._added = 0  # rows this pass added (records created or linked)
        self._analyze_at = ANALYZE_FIRST

    def _prepare(self) -> None:
        """Sync only the map's fields the CRM account has (a Salesforce field an admin has
        not added yet is left out, not a query that fails)."""
        report = self.connector.prepare(self.full_target.fields)
        for problem in report.problems:
            said = (self.target.connection_id, problem)
            if said not in _REPORTED:  # once per process, not at every job
                _REPORTED.add(said)
                log.warning("connection %s: %s", self.target.connection_id, problem.describe())
        self.target = self.full_target.without(report.unavailable)

    # -- bookkeeping ---------------------------------------------------------------------

    @contextmanager
    def _run(self, kind: str) -> Iterator[SyncRun]:
        with transaction(self.sessions) as session:
            run = SyncRun(connection_id=self.target.connection_id, kind=kind, counts={})
            session.add(run)
        with logs.bound(connection_id=self.target.connection_id, run_id=run.id):
            log.info("%s run started", kind)
            yield from self._running(run, kind)

    def _running(self, run: SyncRun, kind: str) -> Iterator[SyncRun]:
        calls_before = self.connector.counter.total
        self.counts = Counter()
        outcome, error = "ok", None
        try:
            self._prepare()
            yield run
        except _SliceOver:
            outcome = "continued"
            log.info(
                "connection %s: the pass's time is up; the rest continues from the saved cursor",
                self.target.connection_id,
            )
        except BudgetExhausted as exhausted:
            outcome, error = "budget_exhausted", str(exhausted)
            log.warning(
                "connection %s: %s; stopped at the saved cursor",
                self.target.connection_id,
                exhausted,
            )
        except AuthError as refused:
            # The connector refreshed the token once already: only a person can fix this.
            outcome, error = "failed", f"{type(refused).__name__}: {refused}"
            lifecycle.mark_auth_failed(self.sessions, self.target.connection_id, str(refused))
            raise
        except Exception as failure:
            if shutdown.caused_by_shutdown(failure):
                # The notice landed in a database call and a failed rollback replaced it.
                outcome, error = "interrupted", Shutdown.__name__
                raise Shutdown("worker shutdown") from failure
            outcome, error = "failed", failures.describe(failure)
            raise
        except BaseException as stopped:
            # A worker's shutdown (Dramatiq's Shutdown) or ^C: what was committed stays, an
            # incremental pass resumes at its saved cursor when its job runs again.
            outcome, error = "interrupted", type(stopped).__name__
            raise
        finally:
            self.counts["api_calls"] = self.connector.counter.total - calls_before
            with transaction(self.sessions) as session:
                session.execute(
                    update(SyncRun)
                    .where(SyncRun.id == run.id)
                    .values(
                        finished_at=utcnow(),
                        outcome=outcome,
                        error=error,
                        counts=dict(self.counts),
                        cursor_after=self._cursors(session),
                    )
                )
            run.outcome = outcome
            run.counts = Counter(self.counts)  # missing keys read as 0
            log.info("%s run finished: %s", kind, outcome, extra={"counts": dict(self.counts)})

    def _cursors(self, session: Session) -> dict[str, Any]:
        rows = session.scalars(
            select(SyncCursor).where(SyncCursor.connection_id == self.target.connection_id)
        )
        return {f"{row.kind}:{row.object_type}": row.value for row in rows}

    def _cursor(self, session: Session, object_type: str, kind: str) -> SyncCursor:
        row = session.scalar(
            select(SyncCursor).where(
                SyncCursor.connection_id == self.target.connection_id,
                SyncCursor.object_type == object_type,
                SyncCursor.kind == kind,
            )
        )
        if row is None:
            row = SyncCursor(
                connection_id=self.target.connection_id, object_type=object_type, kind=kind
            )
            row.value = {}
            session.add(row)
        return row

    def _save_cursor(self, session: Session, object_type: str, kind: str, value: Cursor) -> None:
        """Save where the scan goes on from, and when it moved (``crmsync status`` and the
        lag metric read that): one UPDATE, or the row's INSERT on the first page."""
        key = (
            SyncCursor.connection_id == self.target.connection_id,
            SyncCursor.object_type == object_type,
            SyncCursor.kind == kind,
        )
        saved = session.execute(
            update(SyncCursor)
            .where(*key)
            .values(value=value, updated_at=utcnow())
            .execution_options(synchronize_session=False)  # the session has not loaded it
        )
        if not cast(CursorResult[Any], saved).rowcount:
            session.add(
                SyncCursor(
                    connection_id=self.target.connection_id,
                    object_type=object_type,
                    kind=kind,
                    value=value,
                )
            )

    @contextmanager
    def _writing(self, on_locked: Callable[[], None] | None = None) -> Iterator[Session]:
        shutdown.raise_if_stopping()  # a stopping worker's pass ends here, at a page boundary
        with self._locked():
            if on_locked is not None:
                on_locked()
            with transaction(self.sessions) as session:
                lock_connection(session, self.target.connection_id)
                yield session

    def _locked(self) -> AbstractContextManager[None]:
        return self.locks.hold(f"connection:{self.target.connection_id}")

    def _apply(
        self,
        object_type: str,
        page: Page,
        cursor_kind: str | None,
        on_locked: Callable[[], None] | None = None,
    ) -> PageResult:
        with self._writing(on_locked) as session:
            result = apply_page(
                session,
                self.target,
                object_type,
                page.records,
                defer_to_push=not self.connector.refuses_stale_writes,
            )
            if cursor_kind is not None:
                self._save_cursor(session, object_type, cursor_kind, page.cursor)
        self.counts.update(result.counts)
        self._added += sum(result.counts.get(key, 0) for key in ADDED)
        if self._added >= self._analyze_at:
            self._analyze_at = 2 * self._added
            self._refresh_statistics()
        if result.created_customers:
            enqueue.send(enqueue.CATEGORIZE_CUSTOMERS, result.created_customers)
        if self.progress:
            self.progress(object_type, self.counts["read"])
        return result

    def _refresh_statistics(self) -> None:
        """Refresh the statistics of the tables the pass fills; a refresh that cannot be
        made now (another ANALYZE or a VACUUM holds its lock) waits for the next mark."""
        try:
            with transaction(self.sessions) as session:
                refresh_statistics(session)
        except OperationalError as error:
            log.warning(
                "connection %s: statistics not refreshed: %s",
                self.target.connection_id,
                type(error.orig).__name__,
            )

    # -- passes --------------------------------------------------------------------------------

    def records(
        self,
        object_type: str,
        external_ids: Sequence[str],
        *,
        on_locked: Callable[[], None] | None = None,
    ) -> SyncRun:
        """Fetch these records and apply them; ``on_locked`` runs once the connection's lock
        is held for the write (the fetch is done by then)."""
        with self._run("records") as run:
            records = self.connector.fetch(object_type, list(external_ids))
            self._apply(object_type, Page(records, cursor={}), None, on_locked)
        return run

    def incremental(self, object_type: str | None = None, *, until: float | None = None) -> SyncRun:
        """Apply what changed in the CRM since the saved cursors. With ``until`` (a
        ``time.monotonic()`` deadline), a pass that reaches it with pages left stops at the
        saved cursor with outcome ``continued``: the same pass, run again, goes on from there."""
        with self._run("incremental") as run:
            for kind in [object_type] if object_type else self.target.object_types:
                self._apply_changes(kind, until)
        return run

    def _apply_changes(self, object_type: str, until: float | None = None) -> None:
        """Apply what changed since the saved cursor; each page saves its own cursor."""
        with self.sessions() as session:
            cursor: Cursor | None = self._cursor(session, object_type, "incremental").value or None
        scan = self.connector.scan(object_type, cursor=cursor, full=False)
        with read_ahead(joined(scan)) as pages:
            for applied, page in enumerate(pages):
                # Checked once another page has come: a pass with nothing left ends ``ok``.
                # The page read here is read again by the pass that goes on.
                if until is not None and applied and time.monotonic() >= until:
                    raise _SliceOver
                self._apply(object_type, page, "incremental")

    def reconcile(self) -> SyncRun:
        with self._run("reconcile") as run:
            for kind in self.target.object_types:
                self._full_pass(kind)
            self._push_missing()
            with self._locked():
                self.counts.update(Pusher(self.target, self.connector, self.sessions).drain())
        return run

    def _full_pass(self, object_type: str) -> None:
        started = utcnow()
        seen: set[str] = set()
        complete = False
        with read_ahead(joined(self.connector.scan(object_type, cursor=None, full=True))) as pages:
            for page in pages:
                seen.update(record.external_id for record in page.records)
                self._apply(object_type, page, None)
                complete = page.done
        if complete:
            self._archive_unseen(object_type, seen, started)
        else:
            log.warning(
                "connection %s: %s pass incomplete; nothing archived",
                self.target.connection_id,
                object_type,
            )

    def _archive_unseen(self, object_type: str, seen: set[str], started: datetime) -> None:
        with self._writing() as session:
            links = session.scalars(
                select(ExternalLink).where(
                    ExternalLink.connection_id == self.target.connection_id,
                    ExternalLink.object_type == object_type,
                    ExternalLink.created_at < started,
                )
            ).all()
            gone = [link for link in links if link.external_id not in seen]
            for link in gone:
                if link.local_type == "customer":
                    service.archive_customer(
                        session,
                        self.target.tenant_id,
                        link.local_id,
                        origin_connection_id=self.target.connection_id,
                    )
                session.delete(link)
            self.counts["archived"] += len(gone)

    def _push_missing(self) -> None:
        """Create in the CRM the live local customers (and their contacts) it lacks."""
        pusher = Pusher(self.target, self.connector, self.sessions)
        for local_type, object_type in (
            ("customer", self.target.parent_type),
            ("contact", "contact"),
        ):
            with self.sessions() as session:
                linked = select(ExternalLink.local_id).where(
                    ExternalLink.connection_id == self.target.connection_id,
                    ExternalLink.object_type == object_type,
                )
                if local_type == "customer":
                    query = select(Customer.id).where(
                        Customer.tenant_id == self.target.tenant_id,
                        Customer.deleted_at.is_(None),
                        Customer.archived_at.is_(None),
                        Customer.id.not_in(linked),
                    )
                else:
                    query = select(Contact.id).where(
                        Contact.tenant_id == self.target.tenant_id,
                        Contact.deleted_at.is_(None),
                        Contact.id.not_in(linked),
                    )
                missing = list(session.scalars(query.order_by(query.selected_columns[0])))
            for start in range(0, len(missing), PUSH_CHUNK):
                with self._writing() as session:
                    pusher.push(session, local_type, missing[start : start + PUSH_CHUNK])
        self.counts.update(pusher.counts)

    def push(self) -> SyncRun:
        with self._run("push") as run:
            for kind in self.target.object_types:
                self._apply_changes(kind)
            with self._locked():
                self.counts.update(Pusher(self.target, self.connector, self.sessions).drain())
        return run

    def push_records(self, local_type: str, local_ids: Sequence[int]) -> SyncRun:
        with self._run("push") as run:
            pusher = Pusher(self.target, self.connector, self.sessions)
            with self._writing() as session:
                pusher.push(session, local_type, list(local_ids))
            self.counts.update(pusher.counts)
        return run
