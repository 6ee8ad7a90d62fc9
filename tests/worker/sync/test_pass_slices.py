"""A sync_changes pass runs for ``CRMSYNC_PASS_SLICE_S`` at most: past its deadline, with
pages left, it stops at its saved cursor (outcome ``continued``) and its job queues the
rest. The chain reads every record once and makes each customer once."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.models import Customer
from customers.service import get_tenant
from customers.sync_state import ExternalLink, SyncCursor, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import hubspot_connector
from tests.worker.sync.conftest import hubspot_connection
from tests.worker.sync.processes import Workers, connect_hubspot, enqueue, finished_runs, wait_until
from worker.locks import ThreadLocks
from worker.sync import joined
from worker.sync.passes import Sync

PAGE = 100  # HubSpot's list page: a first pass lists
COMPANIES = 2 * PAGE + 50  # three pages, then the recycle bin's


def _first_sync(
    sessions: sessionmaker[Session], tenant: str, *, sliced: bool
) -> tuple[list[SyncRun], set[str]]:
    """The runs of a first sync of the same companies into a tenant of its own, and the
    names of the customers it linked. Sliced: every pass is given a deadline already past,
    so it applies the page it has and no more."""
    with db.transaction(sessions) as session:
        owner = get_tenant(session, tenant)
        owner.require_billing_address = False
        tenant_id = owner.id
    with HubSpotSandbox(limits=None, portal_id=7_000 + tenant_id) as sandbox:
        sandbox.seed(generate_companies(COMPANIES, seed=7))
        connection_id = hubspot_connection(sessions, tenant_id, str(sandbox.portal_id))
        connector = hubspot_connector(sandbox)
        sync = Sync(connection_id, sessions=sessions, connector=connector, locks=ThreadLocks())
        runs: list[SyncRun] = []
        moved: list[datetime] = []  # when the cursor last moved, after each run
        while not runs or runs[-1].outcome == "continued":
            assert len(runs) < 10
            until = time.monotonic() if sliced else None
            runs.append(sync.incremental("company", until=until))
            with sessions() as session:
                moved.extend(
                    session.scalars(
                        select(SyncCursor.updated_at).where(
                            SyncCursor.connection_id == connection_id
                        )
                    )
                )
        # Each page's cursor says when it was saved: what the lag ``crmsync status`` and
        # the metrics show reads it.
        assert moved == sorted(moved) and len(set(moved)) == len(moved) == len(runs)
        with sessions() as session:
            links = session.scalar(
                select(func.count()).where(ExternalLink.connection_id == connection_id)
            )
            names = list(
                session.scalars(
                    select(Customer.name)
                    .join(ExternalLink, ExternalLink.local_id == Customer.id)
                    .where(ExternalLink.connection_id == connection_id)
                )
            )
    assert links == len(names) == len(set(names))  # none made or linked twice
    return runs, set(names)


def test_a_pass_past_its_deadline_stops_after_a_page_and_the_next_goes_on_from_there(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joined, "APPLY_RECORDS", PAGE)  # each list page applied alone
    runs, made = _first_sync(sessions, "sliced", sliced=True)
    # Three pages of the list, then the recycle bin's (empty), which joins the short third
    # page: the last pass has nothing left after it and ends ok.
    assert [run.outcome for run in runs] == ["continued"] * 2 + ["ok"]
    assert [run.counts["read"] for run in runs] == [PAGE, PAGE, COMPANIES - 2 * PAGE]

    # What the chain made is what one pass makes of the same companies.
    whole, made_whole = _first_sync(sessions, "whole", sliced=False)
    assert [run.outcome for run in whole] == ["ok"]
    assert whole[0].counts["read"] == COMPANIES
    assert made == made_whole and len(made) > COMPANIES * 0.9


def test_small_pages_are_applied_together_up_to_a_transactions_worth(
    sessions: sessionmaker[Session],
) -> None:
    # The same deadline already past: the three list pages and the recycle bin's are one
    # page of 250 records, under APPLY_RECORDS, so the first pass applies them all.
    runs, made = _first_sync(sessions, "joined", sliced=True)
    assert COMPANIES < joined.APPLY_RECORDS
    assert [(run.outcome, run.counts["read"]) for run in runs] == [("ok", COMPANIES)]
    assert len(made) > COMPANIES * 0.9


def test_a_first_sync_longer_than_a_slice_is_a_chain_of_jobs_through_worker_processes(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    companies = 3_000  # three joined pages of 1,000: several slices of one second
    env["CRMSYNC_PASS_SLICE_S"] = "1"
    with HubSpotSandbox(limits=None) as hubspot:
        hubspot.seed(generate_companies(companies, seed=5))
        connection_id = connect_hubspot(sessions, hubspot)
        workers.start()
        enqueue(redis_url, "sync_changes", connection_id)

        def ended() -> bool:
            runs = finished_runs(sessions, "incremental")
            return bool(runs) and any(run.outcome != "continued" for run in runs)

        wait_until(ended, 240, "the chain of sync_changes jobs")
        runs = sorted(finished_runs(sessions, "incremental"), key=lambda run: run.id)
        with sessions() as session:
            customers = session.scalar(select(func.count()).select_from(Customer))
            links = session.scalar(select(func.count()).select_from(ExternalLink))
    outcomes = [run.outcome for run in runs]
    assert len(runs) >= 2 and outcomes[-1] == "ok" and set(outcomes[:-1]) == {"continued"}
    assert sum(run.counts.get("read", 0) for run in runs) >= companies
    held = sum(run.counts.get("held", 0) for run in runs)  # duplicates left for review
    assert customers == links and links + held == companies
