"""The activity chart: records synced per hour from the runs' counts, failures per hour
from the failure rows, one tenant's only, the last 7 days only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import Permanent
from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection, SyncRun
from worker.console import chart
from worker.failures import record_failure

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


def test_counts_land_in_their_hour(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as session:
        ours, theirs = get_tenant(session, "ours").id, get_tenant(session, "theirs").id
        mine = Connection(tenant_id=ours, provider="hubspot", account_id="1", name="p")
        other = Connection(tenant_id=theirs, provider="hubspot", account_id="2", name="q")
        session.add_all([mine, other])
        session.flush()
        finished = NOW - timedelta(hours=3)
        session.add_all([
            SyncRun(connection_id=mine.id, kind="incremental", started_at=finished - timedelta(minutes=5),
                    finished_at=finished, outcome="ok",
                    counts={"read": 50, "created": 2, "updated": 5, "contacts_linked": 1, "crm_updated": 4, "held": 9}),
            SyncRun(connection_id=mine.id, kind="reconcile", started_at=NOW - timedelta(days=8),
                    finished_at=NOW - timedelta(days=8), outcome="ok", counts={"created": 1000}),
            SyncRun(connection_id=other.id, kind="incremental", started_at=finished,
                    finished_at=finished, outcome="ok", counts={"created": 700}),
        ])  # fmt: skip
        failure = record_failure(session, direction="inbound", connection_id=mine.id, object_type="company",
                                 external_id="1", error=Permanent("bad", provider="hubspot"), payload={})  # fmt: skip
        failure.last_failed_at = NOW - timedelta(hours=1)
    with sessions() as session:
        activity = chart.activity(session, ours, now=NOW)
    assert len(activity.synced) == len(activity.failures) == chart.HOURS
    # created 2 + updated 5 + contacts linked 1 + written to the CRM 4; read and held are not syncs.
    assert sum(activity.synced) == 12
    assert activity.synced[chart.HOURS - 4] == 12  # 07:25 is in the 07:00 hour; now is 10:30
    assert sum(activity.failures) == 1
    picture = chart.svg(activity)
    assert picture.startswith("<svg") and "12 in 7 days" in picture and "1 in 7 days" in picture
    assert picture.count("<rect") == 2


def test_an_idle_week_draws_empty_rows() -> None:
    start = NOW - timedelta(hours=chart.HOURS)
    picture = chart.svg(chart.Activity(start, [0] * chart.HOURS, [0] * chart.HOURS))
    assert "<rect" not in picture and "0 in 7 days" in picture
