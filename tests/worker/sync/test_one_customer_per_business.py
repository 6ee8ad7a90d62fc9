"""One customer per business when two CRMs of one tenant sync at the same time.

The first full syncs of a HubSpot and a Salesforce connection run together on two
``crmsync worker`` processes (Redis, PostgreSQL, the sandboxes over real sockets). 30% of
the businesses are in both CRMs with the same domain. Each connection's pages check new
records for duplicates; without one guard per tenant held by the database, each side made
its own customer for a shared business before it could see the other's.
"""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.duplicates import DuplicateIndex
from customers.models import Customer
from customers.sync_state import DuplicateReview, ExternalLink, SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import SeedCompany, generate_companies
from tests.worker.sync.processes import (
    Workers,
    connect_hubspot,
    connect_salesforce,
    enqueue,
    finished_runs,
    wait_until,
)

BUSINESSES = 300
SHARED = 90  # 30%: in both CRMs, same domain


def _businesses() -> list[SeedCompany]:
    """Distinct businesses: the generator plants look-alikes, and similar names are held
    for review rather than linked, so only businesses no duplicate check flags are kept."""
    kept: list[SeedCompany] = []
    index = DuplicateIndex()
    for company in generate_companies(BUSINESSES * 2, seed=31):
        keys = {"name": company.name, "email": None, "domain": company.domain, "tax_id": None}
        if not index.check(**keys).found:
            index.add(len(kept), **keys)
            kept.append(company)
    assert len(kept) >= BUSINESSES
    return kept[:BUSINESSES]


def _reconciled(sessions: sessionmaker[Session], connection_ids: list[int], rounds: int) -> bool:
    runs = [
        run for run in finished_runs(sessions, "reconcile") if run.connection_id in connection_ids
    ]
    return len(runs) >= rounds * len(connection_ids)


def test_concurrent_first_syncs_of_two_crms_make_one_customer_per_business(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, workers: Workers
) -> None:
    sessions = db.session_factory(postgres_engine)
    businesses = _businesses()
    shared = businesses[:SHARED]
    rest = businesses[SHARED:]
    hubspot_only, salesforce_only = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    rng = random.Random(5)
    in_hubspot, in_salesforce = shared + hubspot_only, shared + salesforce_only
    # Shared businesses spread over every page of both scans, in different orders.
    rng.shuffle(in_hubspot)
    rng.shuffle(in_salesforce)
    with HubSpotSandbox(limits=None) as hubspot, SalesforceSandbox() as salesforce:
        hubspot.seed(in_hubspot)
        for object_type in ("companies", "contacts"):  # what `crmsync connect` makes
            hubspot.create_property(object_type, "crmsync_id", unique=True)
        account_ids = salesforce.seed(in_salesforce)
        company_ids = hubspot.ids("companies")
        hubspot_id = connect_hubspot(sessions, hubspot)
        salesforce_id = connect_salesforce(sessions, salesforce)
        connections = [hubspot_id, salesforce_id]
        workers.start()
        workers.start()
        for connection_id in connections:
            enqueue(redis_url, "reconcile", connection_id)
        wait_until(lambda: _reconciled(sessions, connections, 1), 300, "both first syncs")
        # What the scheduler does next: each side creates what the other one brought.
        for connection_id in connections:
            enqueue(redis_url, "reconcile", connection_id)
        wait_until(lambda: _reconciled(sessions, connections, 2), 300, "the second reconciles")

        with sessions() as session:
            runs = session.scalars(select(SyncRun).where(SyncRun.kind == "reconcile")).all()
            customers = session.scalars(select(Customer).where(Customer.deleted_at.is_(None))).all()
            links = session.scalars(select(ExternalLink)).all()
            held = session.scalars(select(DuplicateReview)).all()
        assert {run.outcome for run in runs} == {"ok"}, [run.error for run in runs]
        assert held == []
        by_domain = Counter(customer.domain for customer in customers)
        assert {domain for domain, n in by_domain.items() if n > 1} == set()
        assert sorted(by_domain) == sorted(business.domain for business in businesses)
        # Every business is linked to exactly one record in each CRM ...
        for connection_id in connections:
            mine = [link for link in links if link.connection_id == connection_id]
            assert Counter(link.local_id for link in mine).most_common(1)[0][1] == 1
            assert {link.local_id for link in mine} == {customer.id for customer in customers}
        # ... and a shared business to the record each CRM had, not to one a push made.
        customer_of = {customer.id: customer.domain for customer in customers}
        seeded = {hubspot_id: dict(zip(company_ids, in_hubspot, strict=True)),
                  salesforce_id: dict(zip(account_ids, in_salesforce, strict=True))}  # fmt: skip
        for link in links:
            business = seeded[link.connection_id].get(link.external_id)
            if business is not None:
                assert customer_of[link.local_id] == business.domain
        # The CRMs hold one record per business: the pushes created only what each lacked.
        assert len(hubspot.ids("companies")) == BUSINESSES
        assert len(salesforce.records("Account", include_deleted=False)) == BUSINESSES
