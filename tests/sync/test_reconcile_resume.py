"""A reconcile stopped between two pages (a worker's shutdown) resumes at the page after
the last one it applied, on SQLite and PostgreSQL, against the HubSpot sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dramatiq.middleware import Shutdown
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.sync_state import Connection, ExternalLink, SyncCursor, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import hubspot_connector
from worker.locks import ThreadLocks
from worker.sync.passes import Progress, Sync

COMPANIES = 450  # five pages of companies


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None) as running:
        running.seed(generate_companies(COMPANIES, seed=5))
        yield running


@pytest.fixture
def connection_id(sessions: sessionmaker[Session], tenant_id: int, sandbox: HubSpotSandbox) -> int:
    with db.transaction(sessions) as session:
        connection = Connection(tenant_id=tenant_id, provider="hubspot",
                                account_id=str(sandbox.portal_id), name="portal")  # fmt: skip
        session.add(connection)
        session.flush()
        return connection.id


def reconcile(
    sessions: sessionmaker[Session], connection_id: int, sandbox: HubSpotSandbox,
    progress: Progress | None = None,
) -> None:  # fmt: skip
    """One reconcile job: a Sync of its own, as each worker job makes."""
    Sync(connection_id, sessions=sessions, connector=hubspot_connector(sandbox),
         locks=ThreadLocks(), progress=progress).reconcile()  # fmt: skip


def links(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return dict(session.execute(select(ExternalLink.external_id, ExternalLink.local_id)).all())  # type: ignore[arg-type]


def test_a_stopped_reconcile_resumes_where_it_stopped_and_archives_nothing_it_missed(
    sessions: sessionmaker[Session], connection_id: int, sandbox: HubSpotSandbox
) -> None:
    reconcile(sessions, connection_id, sandbox)
    linked = links(sessions)
    assert linked

    def shutdown_after_two_pages(object_type: str, read: int) -> None:
        if object_type == "company" and read >= 200:
            raise Shutdown("worker shutdown")  # as Dramatiq raises it, between two pages

    with pytest.raises(Shutdown):
        reconcile(sessions, connection_id, sandbox, shutdown_after_two_pages)
    with sessions() as session:
        saved = session.scalar(select(SyncCursor.value).where(SyncCursor.kind == "reconcile",
                                                              SyncCursor.object_type == "company"))  # fmt: skip
    assert saved is not None and saved["mode"] == "full" and not saved.get("done")

    reconcile(sessions, connection_id, sandbox)
    # Nothing the resumed pass did not see was taken for deleted: every link stays.
    assert links(sessions) == linked
    reconcile(sessions, connection_id, sandbox)  # and the next one is complete again
    with sessions() as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        done = session.scalar(select(SyncCursor.value).where(SyncCursor.kind == "reconcile",
                                                             SyncCursor.object_type == "company"))  # fmt: skip
    full, stopped, resumed, again = (run.counts.get("read", 0) for run in runs)
    assert [run.outcome for run in runs] == ["ok", "interrupted", "ok", "ok"]
    assert stopped == 200
    assert resumed == full - stopped  # the pages after the last one applied, no more
    assert again == full
    assert done is not None and done["done"] is True
    assert links(sessions) == linked
