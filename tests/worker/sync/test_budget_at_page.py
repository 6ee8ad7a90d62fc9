"""A pass that runs out of daily budget mid-scan ends at the cursor of the last page it
applied, though the next page was being read while that one was applied; the next pass
resumes there and misses nothing."""

from __future__ import annotations

from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from customers.sync_state import ExternalLink, SyncCursor, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import hubspot_connector, memory_budget
from tests.worker.sync.conftest import hubspot_connection
from worker.locks import ThreadLocks
from worker.sync.passes import Sync

PAGE = 100  # HubSpot's list page: a first pass lists
COMPANIES = 2 * PAGE + 50  # three pages


def test_a_pass_out_of_budget_ends_at_the_last_applied_page_and_the_next_one_resumes(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    with HubSpotSandbox(limits=None) as sandbox:
        sandbox.seed(generate_companies(COMPANIES, seed=7))
        connection_id = hubspot_connection(sessions, tenant_id, str(sandbox.portal_id))
        [_, second] = islice(hubspot_connector(sandbox).scan("company", cursor=None), 2)
        budget = memory_budget("hubspot", daily_reserve=0.0)
        connector = hubspot_connector(sandbox, budget=budget)
        sync = Sync(connection_id, sessions=sessions, connector=connector, locks=ThreadLocks())
        connector.prepare(sync.full_target.fields)  # the pass reads the field list kept here
        sandbox.faults.reset_counters()
        budget.observe_daily(used=0, limit=2)  # two pages' reads left today

        stopped = sync.incremental("company")
        lists = sandbox.faults.calls["companies.list"]
        with sessions() as session:
            linked = session.scalar(select(func.count()).select_from(ExternalLink))
            cursor = session.scalar(select(SyncCursor.value))

        budget.observe_daily(used=0, limit=1_000)  # a new day
        resumed = sync.incremental("company")
        with sessions() as session:
            linked_after = session.scalar(select(func.count()).select_from(ExternalLink))
            runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()

    assert (stopped.outcome, stopped.counts["read"]) == ("budget_exhausted", 2 * PAGE)
    assert lists == 2  # the third page's read was refused before it was sent
    # The second page's own cursor (the pass's start time aside, the CRM's clock at its
    # first read): not the first page's, whose successor was applied, nor a later one.
    assert cursor == {**second.cursor, "started_ms": cursor["started_ms"]}
    assert linked is not None and linked_after is not None and 0 < linked < linked_after
    assert (resumed.outcome, resumed.counts["read"]) == ("ok", COMPANIES - 2 * PAGE)
    assert [run.outcome for run in runs] == ["budget_exhausted", "ok"]
