"""Fixtures for the webhooks tests: a migrated database (SQLite and PostgreSQL) with
HubSpot and Salesforce connections, the app built on it, signing helpers, and a way to
read what was enqueued (the in-process broker, or a real Redis)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from hubspot.utils.signature import Signature
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection, WebhookEvent
from tests.services import require_redis
from worker import shared_state
from worker.jobs import enqueue
from worker.jobs.broker import broker as process_broker
from worker.jobs.queues import QUEUES
from worker.pending import RedisPending
from worker.pending import in_process as memory_pending
from worker.settings import Settings, get_settings
from worker.webhooks import build_app

SECRET = "test-app-client-secret"
PORTAL = 48_215_730  # the HubSpot sandbox's default portal
OTHER_PORTAL = 777
PAUSED_PORTAL = 888
ORG_ID = "00D5J0000000001AAA"
SF_TOKEN = "tok-3f9a1c"
BASE_URL = "https://hooks.example.test"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "hubspot_client_secret": SECRET,
        "webhooks_max_body_bytes": 64_000,
        "webhooks_public_url": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def connections(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Connection ids by name: hubspot, other (a second portal), paused, salesforce."""
    with db.transaction(sessions) as session:
        tenant = get_tenant(session, "default")
        rows = {
            "hubspot": Connection(tenant_id=tenant.id, provider="hubspot", account_id=str(PORTAL), name="portal"),
            "other": Connection(tenant_id=tenant.id, provider="hubspot", account_id=str(OTHER_PORTAL), name="second"),
            "paused": Connection(tenant_id=tenant.id, provider="hubspot", account_id=str(PAUSED_PORTAL), name="paused", status="paused"),
            "salesforce": Connection(tenant_id=tenant.id, provider="salesforce", account_id=ORG_ID, name="org", webhook_token=SF_TOKEN),
        }  # fmt: skip
        session.add_all(rows.values())
        session.flush()
        return {name: row.id for name, row in rows.items()}


def drain_stub() -> list[Message[Any]]:
    """Take every message the in-process broker holds (the default outside Redis tests),
    queue by queue."""
    messages = []
    for name in QUEUES:
        process_broker.declare_queue(name)
        queue = process_broker.queues[name]  # type: ignore[attr-defined]
        while not queue.empty():
            messages.append(Message.decode(queue.get_nowait()))
    return messages


@pytest.fixture
def stub_queue() -> Iterator[None]:
    drain_stub()
    memory_pending.clear()
    yield
    drain_stub()
    memory_pending.clear()


def pending_ids(connection_id: int, object_type: str) -> list[str]:
    """The ids waiting for a ``sync_pending`` job, oldest first, in the shared state."""
    return shared_state.pending_ids().pending(connection_id, object_type)


@pytest.fixture
def client(engine: Engine, connections: dict[str, int], stub_queue: None) -> Iterator[TestClient]:
    factory = db.session_factory(engine)
    app = build_app(settings(), sessions=lambda: factory)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=True) as test_client:
        yield test_client


def event_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookEvent)) or 0)


def body_of(events: list[dict[str, Any]]) -> str:
    return json.dumps(events, separators=(",", ":"))


def signed_headers(
    body: str, url: str, *, secret: str = SECRET, timestamp_ms: int | None = None
) -> dict[str, str]:
    """Headers as HubSpot sends them: v1 and v3 signatures made by the SDK itself."""
    timestamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature": Signature.get_signature(secret, body, "v1"),
        "X-HubSpot-Signature-Version": "v1",
        "X-HubSpot-Signature-v3": Signature.get_signature(
            secret, body, "v3", http_uri=url, http_method="POST", timestamp=timestamp
        ),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def hubspot_event(
    kind: str, object_id: int, *, portal: int = PORTAL, occurred_at: int = 1_700_000_000_000,
    event_id: int = 1, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    return {
        "eventId": event_id, "subscriptionId": 1, "portalId": portal, "appId": 4242,
        "occurredAt": occurred_at, "subscriptionType": kind, "attemptNumber": 0,
        "objectId": object_id, "changeSource": "CRM_UI", **extra,
    }  # fmt: skip


def jobs(messages: list[Message[Any]]) -> list[tuple[str, list[Any]]]:
    return [(m.actor_name, list(m.args)) for m in messages]


# ---- a real Redis broker -------------------------------------------------------------


def own_redis() -> str:
    """The test Redis database this session (or this xdist worker) claimed for itself:
    these tests flush it, so it must be nobody else's."""
    return require_redis()


@pytest.fixture
def redis_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisBroker]:
    """``worker.jobs.enqueue.send`` sends to a real Redis for the test's duration, and the
    settings name it as the broker, so the shared state (pending ids) is there too."""
    url = own_redis()
    redis.Redis.from_url(url).flushdb()
    real = RedisBroker(url=url, namespace="crmsync")
    monkeypatch.setattr(enqueue, "broker", real)
    monkeypatch.setenv("CRMSYNC_BROKER_URL", url)
    get_settings.cache_clear()
    yield real
    get_settings.cache_clear()
    real.client.flushdb()
    real.close()


def redis_messages(url_or_broker: RedisBroker | str) -> list[Message[Any]]:
    """Every message waiting in the crmsync queues of a Redis broker, oldest first in each
    queue, queue by queue."""
    client = (
        redis.Redis.from_url(url_or_broker)
        if isinstance(url_or_broker, str)
        else url_or_broker.client
    )
    messages = []
    for name in QUEUES:
        queue = f"crmsync:{name}"
        ids = [raw.decode() for raw in client.lrange(queue, 0, -1)]
        # The list holds message ids in arrival order; their bodies are in the .msgs hash.
        bodies = client.hmget(f"{queue}.msgs", ids) if ids else []
        messages += [Message.decode(body) for body in bodies if body is not None]
    return messages


def redis_pending(
    url_or_broker: RedisBroker | str, connection_id: int, object_type: str
) -> list[str]:
    """The ids pending for a ``sync_pending`` job in a Redis broker's database, oldest first."""
    client = (
        redis.Redis.from_url(url_or_broker)
        if isinstance(url_or_broker, str)
        else url_or_broker.client
    )
    return RedisPending(client).pending(connection_id, object_type)
