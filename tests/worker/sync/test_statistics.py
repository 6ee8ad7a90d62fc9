"""A pass that fills the directory refreshes PostgreSQL's statistics of the tables it reads
by key, at the first ``ANALYZE_FIRST`` rows it adds and each time it has doubled them: a
first sync into empty tables is not planned as if they were still empty."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.service import get_tenant
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.conftest import _truncate
from tests.connectors.conftest import hubspot_connector
from tests.worker.sync.conftest import hubspot_connection
from worker.locks import ThreadLocks
from worker.sync import passes
from worker.sync.passes import Sync

COMPANIES = 250  # one page as applied; some 240 customers made, the rest held as duplicates


def _analyzed(sessions: sessionmaker[Session]) -> dict[str, int]:
    """How many times each of the sync's tables was analyzed by hand (not by autovacuum)."""
    with sessions() as session:
        session.execute(text("SELECT pg_stat_clear_snapshot()"))
        rows = session.execute(
            text(
                "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname IN :names"
            ).bindparams(bindparam("names", expanding=True)),
            {"names": list(db.SYNC_TABLES)},
        )
        return {name: count for name, count in rows}


def _first_pass(sessions: sessionmaker[Session], tenant_id: int) -> dict[str, int]:
    with HubSpotSandbox(limits=None) as sandbox:
        sandbox.seed(generate_companies(COMPANIES, seed=11))
        connection_id = hubspot_connection(sessions, tenant_id, str(sandbox.portal_id))
        sync = Sync(connection_id, sessions=sessions, connector=hubspot_connector(sandbox),
                    locks=ThreadLocks())  # fmt: skip
        run = sync.incremental("company")
    assert run.outcome == "ok"
    return dict(run.counts)


def test_a_pass_that_adds_rows_refreshes_the_statistics_once_per_doubling(
    sessions: sessionmaker[Session], tenant_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passes, "ANALYZE_FIRST", 100)
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    before = _analyzed(sessions) if postgres else {}
    counts = _first_pass(sessions, tenant_id)
    # One page past the first mark: the next is twice what it had added then.
    assert counts["created"] >= 100
    if not postgres:
        return  # nothing to refresh on SQLite; the pass is the same
    deadline = time.monotonic() + 10  # statistics reach other sessions within a second
    after = _analyzed(sessions)
    while after == before and time.monotonic() < deadline:
        time.sleep(0.2)
        after = _analyzed(sessions)
    assert set(after) == set(db.SYNC_TABLES)
    assert {name: after[name] - before[name] for name in after} == dict.fromkeys(after, 1)


def test_a_refresh_that_cannot_have_its_lock_is_let_go_and_the_pass_goes_on(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _truncate(postgres_engine)
    sessions = db.session_factory(postgres_engine)
    with db.transaction(sessions) as session:
        tenant = get_tenant(session, "vacuumed")
        tenant.require_billing_address = False
        tenant_id = tenant.id
    monkeypatch.setattr(passes, "ANALYZE_FIRST", 100)
    monkeypatch.setattr(db, "ANALYZE_LOCK_WAIT_S", 1)
    before = _analyzed(sessions)
    with postgres_engine.connect() as vacuum:  # holds what a VACUUM of the links holds
        vacuum.execute(text("LOCK TABLE external_links IN SHARE UPDATE EXCLUSIVE MODE"))
        counts = _first_pass(sessions, tenant_id)
        vacuum.rollback()
    assert counts["created"] >= 100
    assert "statistics not refreshed: LockNotAvailable" in caplog.text
    time.sleep(1)  # what would have been analyzed shows within a second
    assert _analyzed(sessions)["external_links"] == before["external_links"]
