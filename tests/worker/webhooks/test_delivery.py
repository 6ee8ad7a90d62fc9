"""The delivery path on real sockets: the sandboxes' own emitters post to the webhooks
app, which writes to a real PostgreSQL and enqueues into a real Redis.

One test runs the real ``crmsync webhooks`` command in its own process; the others serve
the same app from a thread, which lets them read the app's counters."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from sandbox.faults import FaultRule
from sandbox.hubspot import HubSpotSandbox, WebhookFaults, WebhookSubscription
from sandbox.runner import ServerThread
from sandbox.salesforce import SalesforceSandbox
from tests.conftest import _truncate
from tests.worker.webhooks.conftest import (
    ORG_ID,
    SECRET,
    SF_TOKEN,
    event_rows,
    jobs,
    own_redis,
    redis_messages,
    redis_pending,
    settings,
)
from worker import metrics
from worker.webhooks import build_app

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sessions(postgres_engine: Engine) -> sessionmaker[Session]:
    """These tests run on PostgreSQL only: it is what production runs."""
    _truncate(postgres_engine)
    return db.session_factory(postgres_engine)


@pytest.fixture
def app_url(
    sessions: sessionmaker[Session], connections: dict[str, int], redis_broker: RedisBroker
) -> Iterator[str]:
    app = build_app(settings(), sessions=lambda: sessions)
    with ServerThread(app) as server:
        yield server.url


def counter(name: str, provider: str = "hubspot") -> float:
    return (
        metrics.registry.get_sample_value(f"crmsync_webhook_{name}_total", {"provider": provider})
        or 0.0
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def webhooks_process(
    postgres_engine: Engine,
    sessions: sessionmaker[Session],
    connections: dict[str, int],
    tmp_path: Path,
) -> Iterator[str]:
    """``crmsync webhooks`` as the compose service runs it, on PostgreSQL and Redis."""
    redis_url = own_redis()
    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    env = {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": redis_url,
        "CRMSYNC_HUBSPOT_CLIENT_SECRET": SECRET,
        "CRMSYNC_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        "-c",
        "from worker.cli import main; main()",
        "webhooks",
        "--port",
        str(port),
    ]
    with (tmp_path / "webhooks.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "webhooks.log"
                ).read_text()
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)
    redis.Redis.from_url(redis_url).flushdb()


def test_an_edit_in_hubspot_reaches_the_queue_through_crmsync_webhooks(
    webhooks_process: str, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    with (
        HubSpotSandbox(limits=None, webhook_retry_scale=1e-4) as sandbox,
        httpx.Client(base_url=sandbox.url) as admin,
    ):
        subscription = {"targetUrl": f"{webhooks_process}/webhooks/hubspot", "clientSecret": SECRET}
        assert (
            admin.put("/__sandbox/hubspot/webhooks/subscription", json=subscription).status_code
            == 200
        )
        company = admin.post(
            "/__sandbox/hubspot/objects/companies", json={"properties": {"name": "Acme"}}
        ).json()
        assert admin.post("/__sandbox/hubspot/webhooks/flush?timeout=10").json() == {
            "flushed": True
        }
        # Three properties in one edit: three events in one request, one job.
        edit = {"properties": {"city": "Oslo", "phone": "+47 1", "industry": "ACCOUNTING"}}
        assert (
            admin.patch(
                f"/__sandbox/hubspot/objects/companies/{company['id']}", json=edit
            ).status_code
            == 200
        )
        assert admin.post("/__sandbox/hubspot/webhooks/flush?timeout=10").json() == {
            "flushed": True
        }
        assert sandbox.faults.deliveries == {"delivered": 4}
    # No worker runs here: the first request's job is still on its way and takes both.
    hubspot = connections["hubspot"]
    assert jobs(redis_messages(own_redis())) == [("sync_pending", [hubspot, "company"])]
    assert redis_pending(own_redis(), hubspot, "company") == [company["id"]]
    assert event_rows(sessions) == 4


def test_duplicated_deliveries_enqueue_once_per_distinct_event(
    app_url: str,
    connections: dict[str, int],
    redis_broker: RedisBroker,
    sessions: sessionmaker[Session],
) -> None:
    enqueued = counter("events_enqueued")
    with HubSpotSandbox(
        limits=None, webhook_retry_scale=1e-4, webhook_faults=WebhookFaults(duplicate=1.0)
    ) as sandbox:
        sandbox.subscribe_webhooks(
            WebhookSubscription(target_url=f"{app_url}/webhooks/hubspot", client_secret=SECRET)
        )
        company = sandbox.create("companies", {"name": "Twice"})
        assert sandbox.flush_webhooks(10)
        for city in ("A", "B"):
            sandbox.update("companies", company["id"], {"city": city})
            assert sandbox.flush_webhooks(10)
        assert sandbox.faults.deliveries == {"duplicated": 3, "delivered": 6}
    hubspot = connections["hubspot"]
    assert jobs(redis_messages(redis_broker)) == [("sync_pending", [hubspot, "company"])]
    assert redis_pending(redis_broker, hubspot, "company") == [company["id"]]
    assert counter("events_enqueued") - enqueued == 3
    assert event_rows(sessions) == 3


def test_reordered_and_duplicated_deliveries_store_each_event_once(
    app_url: str,
    connections: dict[str, int],
    redis_broker: RedisBroker,
    sessions: sessionmaker[Session],
) -> None:
    enqueued, duplicates = counter("events_enqueued"), counter("events_duplicate")
    faults = WebhookFaults(duplicate=0.5, reorder=0.5, reorder_delay_s=0.1)
    with HubSpotSandbox(
        limits=None, webhook_retry_scale=1e-4, webhook_faults=faults, seed=3
    ) as sandbox:
        sandbox.subscribe_webhooks(WebhookSubscription(target_url=f"{app_url}/webhooks/hubspot", client_secret=SECRET,
                                                       property_names=frozenset({"city"})))  # fmt: skip
        company = sandbox.create("companies", {"name": "Moving"})
        for city in "CDEFGH":
            sandbox.update("companies", company["id"], {"city": city})
        assert sandbox.flush_webhooks(10)
        doubled = sandbox.faults.deliveries["duplicated"]
        assert doubled > 0
    assert event_rows(sessions) == 7
    assert counter("events_enqueued") - enqueued == 7
    assert counter("events_duplicate") - duplicates == doubled
    hubspot = connections["hubspot"]
    assert jobs(redis_messages(redis_broker)) == [("sync_pending", [hubspot, "company"])]
    assert redis_pending(redis_broker, hubspot, "company") == [company["id"]]


def test_salesforce_outbound_messages_are_acknowledged_and_enqueued(
    app_url: str,
    connections: dict[str, int],
    redis_broker: RedisBroker,
    sessions: sessionmaker[Session],
) -> None:
    with SalesforceSandbox(org_id=ORG_ID, outbound_time_scale=0.001) as sandbox:
        sandbox.register_outbound(f"{app_url}/webhooks/salesforce/{SF_TOKEN}", "Account", ["Name"])
        account = sandbox.create("Account", {"Name": "Acme"})
        assert sandbox.flush_outbound(10)
        assert sandbox.faults.deliveries["acked"] == 1
        # Salesforce delivers at least once: the same message twice is enqueued once.
        sandbox.faults.add(FaultRule(endpoint="outbound.duplicate", remaining=1))
        sandbox.update("Account", account, {"Name": "Acme Corp"})
        assert sandbox.flush_outbound(10)
        assert sandbox.faults.deliveries["duplicated"] == 1
        assert sandbox.faults.deliveries["acked"] == 3
    salesforce = connections["salesforce"]
    assert jobs(redis_messages(redis_broker)) == [("sync_pending", [salesforce, "account"])]
    assert redis_pending(redis_broker, salesforce, "account") == [account]
    assert event_rows(sessions) == 2  # one per distinct notification


def test_a_message_from_another_org_is_refused_and_resent(
    app_url: str,
    connections: dict[str, int],
    redis_broker: RedisBroker,
    sessions: sessionmaker[Session],
) -> None:
    with SalesforceSandbox(org_id="00D5J0000000009AAA", outbound_time_scale=0.001) as sandbox:
        sandbox.register_outbound(f"{app_url}/webhooks/salesforce/{SF_TOKEN}", "Account", ["Name"])
        sandbox.create("Account", {"Name": "Intruder"})
        deadline = time.monotonic() + 10
        while sandbox.faults.deliveries.get("nacked", 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sandbox.faults.deliveries.get("nacked", 0) >= 3  # never acknowledged: resent
        assert sandbox.faults.deliveries.get("acked", 0) == 0
        assert sandbox.outbound.pending_count == 1
    assert redis_messages(redis_broker) == []
    assert event_rows(sessions) == 0
