"""The sync as it runs in production: jobs on a real Redis, run by real ``crmsync worker``
processes, on PostgreSQL, against the sandboxes over real sockets. Includes a worker killed
with SIGKILL in the middle of a sync."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from customers import db
from customers.models import Customer
from customers.sync_state import DuplicateReview, ExternalLink
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies
from tests.worker.sync.processes import (
    Workers,
    connect_hubspot,
    connect_salesforce,
    count,
    enqueue,
    finished_runs,
    wait_until,
)


def test_new_crm_records_become_one_customer_each_through_worker_processes(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    with HubSpotSandbox(limits=None) as hubspot, SalesforceSandbox() as salesforce:
        hubspot.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
        salesforce.create("Account", {"Name": "Initech Ltd", "Website": "https://initech.io"})
        hubspot_id = connect_hubspot(sessions, hubspot)
        salesforce_id = connect_salesforce(sessions, salesforce)
        workers.start()
        enqueue(redis_url, "sync_changes", hubspot_id)
        enqueue(redis_url, "sync_changes", salesforce_id)
        wait_until(lambda: len(finished_runs(sessions, "incremental")) == 2, 60, "both syncs")
        with sessions() as session:
            names = sorted(session.scalars(select(Customer.name)))
        assert names == ["Globex GmbH", "Initech Ltd"]
        enqueue(redis_url, "sync_changes", hubspot_id)
        enqueue(redis_url, "sync_changes", salesforce_id)
        wait_until(lambda: len(finished_runs(sessions, "incremental")) == 4, 60, "the second syncs")
        assert count(sessions, Customer) == 2 and count(sessions, ExternalLink) == 2
        assert {run.outcome for run in finished_runs(sessions, "incremental")} == {"ok"}


def test_a_worker_killed_mid_sync_loses_and_duplicates_nothing(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    companies = 600
    with HubSpotSandbox(limits=None) as hubspot:
        hubspot.seed(generate_companies(companies, seed=99))
        connection_id = connect_hubspot(sessions, hubspot)
        first = workers.start()
        enqueue(redis_url, "reconcile", connection_id)
        wait_until(lambda: count(sessions, ExternalLink) >= 100, 120, "the sync to be under way")
        workers.kill(first)
        linked_at_kill = count(sessions, ExternalLink)
        assert linked_at_kill < companies  # killed mid-sync, not after
        # What the scheduler would do next: run the sync again on a fresh worker.
        workers.start()
        enqueue(redis_url, "reconcile", connection_id)
        wait_until(
            lambda: any(r.outcome == "ok" for r in finished_runs(sessions, "reconcile")),
            180,
            "the rerun",
        )
        with sessions() as session:
            links = session.execute(select(ExternalLink.external_id, ExternalLink.local_id)).all()
            customers = session.scalar(select(func.count()).select_from(Customer)) or 0
            held = session.scalar(select(func.count()).select_from(DuplicateReview)) or 0
        external_ids = [row.external_id for row in links]
        local_ids = [row.local_id for row in links]
        assert len(set(external_ids)) == len(external_ids) and len(set(local_ids)) == len(local_ids)
        assert len(links) + held == companies  # every company linked or held: nothing lost
        assert customers == len(links)  # one customer per linked company: nothing duplicated
        assert len(hubspot.ids("companies")) == companies  # and nothing duplicated in the CRM
