"""Per-connection gauges read from the database at scrape time, served on a listener of
their own; and the webhooks process, whose public port serves no metrics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.models import OutboxEntry, Tenant
from customers.sync_state import Connection, SyncCursor, SyncFailure, SyncRun
from tests.worker.sync.processes import wait_until
from tests.worker.webhooks.test_delivery import free_port
from worker import metrics

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]
CRMSYNC = str(Path(sys.executable).parent / "crmsync")


def _connection(session: Session, tenant_id: int, provider: str) -> int:
    row = Connection(tenant_id=tenant_id, provider=provider, account_id=provider, name=provider)
    session.add(row)
    session.flush()
    return row.id


def _ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def _failure(tenant_id: int, connection_id: int, status: str) -> SyncFailure:
    return SyncFailure(
        tenant_id=tenant_id,
        connection_id=connection_id,
        direction="inbound",
        error_class="permanent",
        message="x",
        status=status,
    )


def _change(tenant_id: int, entity_id: int) -> OutboxEntry:
    return OutboxEntry(
        tenant_id=tenant_id, entity_type="customer", entity_id=entity_id, operation="update"
    )


@pytest.fixture
def scraped(
    sessions: sessionmaker[Session], tenant_id: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, int, int]]:
    monkeypatch.setattr(metrics, "utcnow", lambda: NOW)
    with db.transaction(sessions) as session:
        synced = _connection(session, tenant_id, "hubspot")
        other_tenant = Tenant(slug="globex", name="Globex")
        session.add(other_tenant)
        session.flush()
        never = _connection(session, other_tenant.id, "salesforce")
        session.add_all(
            [
                SyncCursor(
                    connection_id=synced,
                    object_type="company",
                    kind="incremental",
                    value={},
                    updated_at=_ago(300),
                ),
                SyncRun(
                    connection_id=synced,
                    kind="incremental",
                    outcome="ok",
                    started_at=_ago(200),
                    finished_at=_ago(120),
                ),
                # A failed run is not the sync moving.
                SyncRun(
                    connection_id=synced,
                    kind="incremental",
                    outcome="failed",
                    started_at=_ago(60),
                    finished_at=_ago(30),
                ),
                SyncCursor(
                    connection_id=synced, object_type="*", kind="outbox", value={"position": 0}
                ),
            ]
        )
        for status in ("open", "open", "resolved"):
            session.add(_failure(tenant_id, synced, status))
        entries = [_change(tenant_id, n) for n in range(3)] + [_change(other_tenant.id, 9)]
        session.add_all(entries)
        session.flush()
        # The connection has pushed the first of its tenant's three changes.
        outbox = session.query(SyncCursor).filter_by(connection_id=synced, kind="outbox").one()
        outbox.value = {"position": entries[0].id}
        # The other tenant's connection starts at 0: its one change waits.
    registry = CollectorRegistry()
    registry.register(metrics.ConnectionCollector(lambda: sessions))
    yield generate_latest(registry).decode(), synced, never


def test_per_connection_lag_open_failures_and_outbox_depth(
    scraped: tuple[str, int, int],
) -> None:
    text, synced, never = scraped
    ours = f'connection="{synced}",provider="hubspot",tenant="acme-books"'
    theirs = f'connection="{never}",provider="salesforce",tenant="globex"'
    assert f"crmsync_connection_lag_seconds{{{ours}}} 120.0" in text
    assert f"crmsync_connection_lag_seconds{{{theirs}}}" not in text  # never synced
    assert f"crmsync_connection_open_failures{{{ours}}} 2.0" in text
    assert f"crmsync_connection_open_failures{{{theirs}}} 0.0" in text
    assert f"crmsync_connection_outbox_depth{{{ours}}} 2.0" in text
    assert f"crmsync_connection_outbox_depth{{{theirs}}} 1.0" in text


def test_a_scrape_without_a_database_leaves_the_gauges_out() -> None:
    def broken() -> sessionmaker[Session]:
        raise OSError("database down")

    registry = CollectorRegistry()
    registry.register(metrics.ConnectionCollector(broken))
    assert "crmsync_connection" not in generate_latest(registry).decode()


def test_crmsync_webhooks_serves_metrics_on_its_private_port_only(
    sqlite_template: Path, tmp_path: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "crmsync.db")
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "CRMSYNC_DATA_DIR": str(tmp_path),
        "CRMSYNC_METRICS_PORT": str(metrics_port),
        "CRMSYNC_LOG_LEVEL": "INFO",
    }
    for name in ("CRMSYNC_DATABASE_URL", "CRMSYNC_BROKER_URL", "CRMSYNC_LOG_FORMAT"):
        env.pop(name, None)
    log_path = tmp_path / "webhooks.log"
    with log_path.open("wb") as out:
        command = [CRMSYNC, "webhooks", "--port", str(port)]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _answers(port), 60, "crmsync webhooks to answer")
        public = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        private = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert public.status_code == 404
    assert private.status_code == 200
    assert "crmsync_webhook_requests_rejected_total" in private.text
    assert "crmsync_sync_failures" in private.text  # read from the database
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    events = [line["event"] for line in lines]
    assert f"metrics at http://127.0.0.1:{metrics_port}/metrics" in events
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's, as JSON


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
