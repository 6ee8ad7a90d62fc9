"""The push reads the outbox in id order, but ids are handed out when rows are inserted and
rows become visible when their transaction commits: a row with a lower id can appear after
one with a higher id was pushed. The push must not move its position past it. On
PostgreSQL, where two transactions really interleave. Found by the convergence soak."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.sync_state import Connection
from sandbox.faults import Faults
from sandbox.hubspot import HubSpotSandbox
from tests.conftest import _truncate
from tests.connectors.conftest import hubspot_connector
from worker.locks import ThreadLocks
from worker.sync.outbound import OUTBOX_GAP_WAIT_S, settled_up_to
from worker.sync.passes import Sync


@pytest.fixture
def sessions(postgres_engine: Engine) -> sessionmaker[Session]:
    _truncate(postgres_engine)
    return db.session_factory(postgres_engine)


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None, faults=Faults(seed=3)) as running:
        yield running


def test_a_change_committed_after_a_later_one_was_pushed_is_still_pushed(
    sessions: sessionmaker[Session], hubspot: HubSpotSandbox
) -> None:
    with db.transaction(sessions) as session:
        tenant = service.get_tenant(session, "acme-books")
        tenant.require_billing_address = False  # the test is about the outbox
        tenant_id = tenant.id
        first = service.create_customer(
            session, tenant_id, {"name": "Globex GmbH", "email": "ap@globex.de"}
        ).id
        second = service.create_customer(
            session, tenant_id, {"name": "Initech Ltd", "email": "ap@initech.io"}
        ).id
        connection = Connection(
            tenant_id=tenant_id,
            provider="hubspot",
            account_id=str(hubspot.portal_id),
            name="portal",
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id
    sync = Sync(
        connection_id, sessions=sessions, connector=hubspot_connector(hubspot), locks=ThreadLocks()
    )
    sync.reconcile()  # both customers created in HubSpot and linked
    companies = {c: hubspot.get("companies", i) for c, i in zip((first, second), hubspot.ids("companies"), strict=True)}  # fmt: skip

    slow = sessions()
    slow.begin()
    service.update_customer(slow, tenant_id, first, {"billing_city": "Springfield"})
    slow.flush()  # its outbox row has its id now, but is not committed
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, second, {"billing_city": "Shelbyville"})
    sync.push()  # sees the second change only
    slow.commit()
    slow.close()
    sync.push()

    cities = {c: (hubspot.get("companies", record["id"]) or {})["properties"].get("city")
              for c, record in companies.items()}  # fmt: skip
    assert cities == {first: "Springfield", second: "Shelbyville"}


def test_a_missing_id_holds_the_position_until_it_is_old_enough_to_be_a_rollback() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def row(id_: int, age_s: float) -> SimpleNamespace:
        return SimpleNamespace(id=id_, created_at=now - timedelta(seconds=age_s))

    assert settled_up_to(10, [row(11, 1), row(12, 1)], now) == 12
    assert settled_up_to(10, [row(11, 1), row(13, 1), row(14, 1)], now) == 11  # 12 may commit
    assert settled_up_to(10, [row(12, 1)], now) == 10
    old = OUTBOX_GAP_WAIT_S + 1
    assert settled_up_to(10, [row(11, old), row(13, old), row(14, 1)], now) == 14
