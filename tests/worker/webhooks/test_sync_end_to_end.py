"""The whole loop in processes, as production runs it: HubSpot (the sandbox) sends signed
webhooks to ``crmsync webhooks``, which enqueues on Redis; ``crmsync worker`` fetches and
applies the records to PostgreSQL; ``crmsync scheduler`` catches what webhooks missed; an
operator replays a failure with ``crmsync failures replay``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.credentials import Credentials
from customers import db
from customers.models import Customer, OutboxEntry
from customers.sync_state import SyncFailure
from sandbox.hubspot import HubSpotSandbox, WebhookFaults, WebhookSubscription
from tests.conftest import _truncate
from tests.services import require_redis
from tests.worker.sync.processes import KEY, Workers, connect, wait_until
from tests.worker.webhooks.test_delivery import free_port

ROOT = Path(__file__).resolve().parents[3]
SECRET = "end-to-end-app-secret"
CRMSYNC = str(Path(sys.executable).parent / "crmsync")


@pytest.fixture
def env(postgres_engine: Engine, tmp_path: Path) -> Iterator[dict[str, str]]:
    _truncate(postgres_engine)
    url = require_redis()
    redis.Redis.from_url(url).flushdb()
    yield {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": url,
        "CRMSYNC_ENCRYPTION_KEY": KEY,
        "CRMSYNC_DATA_DIR": str(tmp_path),
        "CRMSYNC_HUBSPOT_CLIENT_SECRET": SECRET,
        "CRMSYNC_SCHEDULER_SYNC_INTERVAL_S": "1",
        "CRMSYNC_SCHEDULER_REFRESH_S": "1",
        "CRMSYNC_LOG_LEVEL": "WARNING",
    }
    redis.Redis.from_url(url).flushdb()


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([CRMSYNC, *command], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def customer_named(sessions: sessionmaker[Session], name: str) -> Customer | None:
    with sessions() as session:
        return session.scalar(select(Customer).where(Customer.name == name))


def test_webhooks_worker_scheduler_and_replay(
    env: dict[str, str], postgres_engine: Engine, tmp_path: Path
) -> None:
    sessions = db.session_factory(postgres_engine)
    port = free_port()
    processes = Workers(env, tmp_path)
    with HubSpotSandbox(limits=None, webhook_retry_scale=0.001,
                        webhook_faults=WebhookFaults(duplicate=1.0)) as hubspot:  # fmt: skip
        connect(
            sessions,
            "hubspot",
            str(hubspot.portal_id),
            Credentials(access_token=hubspot.access_token),
            hubspot.url,
        )
        webhooks = start(["webhooks", "--port", str(port)], env, tmp_path / "webhooks.log")
        processes.processes.append(webhooks)
        processes.start()
        try:
            wait_until(lambda: _ready(port), 60, "crmsync webhooks to answer")
            hubspot.subscribe_webhooks(WebhookSubscription(target_url=f"http://127.0.0.1:{port}/webhooks/hubspot",
                                                           client_secret=SECRET))  # fmt: skip

            # 1. A company created in HubSpot arrives through the webhook path, no polling.
            company = hubspot.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
            wait_until(
                lambda: customer_named(sessions, "Globex GmbH") is not None, 60, "the new company"
            )

            # 2. An edit arrives too, and every event delivered twice applies once.
            hubspot.update("companies", company["id"], {"city": "Springfield"})
            wait_until(lambda: (customer_named(sessions, "Globex GmbH") or Customer()).billing_city == "Springfield",
                       60, "the edit")  # fmt: skip
            hubspot.flush_webhooks(10)
            processes_idle(env)
            globex = customer_named(sessions, "Globex GmbH")
            assert globex is not None
            with sessions() as session:
                city_changes = [
                    row
                    for row in session.scalars(
                        select(OutboxEntry).where(OutboxEntry.entity_id == globex.id)
                    )
                    if row.operation == "update" and "billing_city" in row.fields
                ]
            assert len(city_changes) == 1  # delivered twice, applied once

            # 3. A record that fails for good is listed, fixed in the CRM and replayed.
            nameless = hubspot.create("companies", {"domain": "nameless.io"})
            wait_until(lambda: _open_failures(sessions) == [nameless["id"]], 60, "the failure row")
            listed = json.loads(_crmsync(env, "failures", "list", "--json"))
            [row] = [f for f in listed["failures"] if f["external_id"] == nameless["id"]]
            assert row["error_class"] == "permanent" and "name" in row["message"]
            hubspot.webhooks.options = dataclasses.replace(
                hubspot.webhooks.options, faults=WebhookFaults(drop=1.0)
            )
            hubspot.update("companies", nameless["id"], {"name": "Nameless Inc"})
            _crmsync(env, "failures", "replay", str(row["id"]))
            wait_until(
                lambda: customer_named(sessions, "Nameless Inc") is not None, 60, "the replay"
            )
            with sessions() as session:
                assert session.get(SyncFailure, row["id"]).status == "resolved"  # type: ignore[union-attr]

            # 4. Webhooks are now dropped: the scheduler's incremental sync catches the edit.
            hubspot.update("companies", company["id"], {"city": "Shelbyville"})
            processes.processes.append(start(["scheduler"], env, tmp_path / "scheduler.log"))
            wait_until(lambda: (customer_named(sessions, "Globex GmbH") or Customer()).billing_city == "Shelbyville",
                       90, "the scheduler to pick up the dropped edit")  # fmt: skip
        finally:
            processes.stop_all()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _open_failures(sessions: sessionmaker[Session]) -> list[str | None]:
    with sessions() as session:
        return [
            f.external_id
            for f in session.scalars(select(SyncFailure).where(SyncFailure.status == "open"))
        ]


def _crmsync(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [CRMSYNC, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def processes_idle(env: dict[str, str]) -> None:
    """Wait until the job queue is empty (each duplicate delivery has been applied)."""
    client = redis.Redis.from_url(env["CRMSYNC_BROKER_URL"])
    wait_until(
        lambda: client.llen("crmsync:default") == 0 and client.zcard("crmsync:default.DQ") == 0,
        30,
        "an empty queue",
    )
