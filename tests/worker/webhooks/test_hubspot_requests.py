"""HubSpot webhook requests through the ASGI app, on SQLite and PostgreSQL: signatures,
routing by portal, deduplication, coalescing into pending ids and ``sync_pending`` jobs, and
every refusal (401/400/413/404) leaving nothing enqueued and nothing written."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from dramatiq.brokers.redis import RedisBroker
from hubspot.utils.signature import Signature
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from customers import db
from customers.service import get_tenant
from customers.sync_state import WebhookEvent
from tests.worker.webhooks.conftest import (
    BASE_URL,
    OTHER_PORTAL,
    PAUSED_PORTAL,
    PORTAL,
    SECRET,
    body_of,
    drain_stub,
    event_rows,
    hubspot_event,
    jobs,
    pending_ids,
    settings,
    signed_headers,
)  # fmt: skip
from worker import logs, metrics, shared_state
from worker.jobs import enqueue
from worker.pending import in_process as memory_pending
from worker.settings import get_settings
from worker.sync import lifecycle
from worker.webhooks import build_app

URL = f"{BASE_URL}/webhooks/hubspot"


def post(client: TestClient, events: list[dict[str, Any]], **kwargs: Any) -> Any:
    body = body_of(events)
    return client.post(
        "/webhooks/hubspot", content=body, headers=signed_headers(body, URL, **kwargs)
    )


def test_events_become_pending_ids_and_one_job_per_object_type(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    events = [
        hubspot_event("company.propertyChange", 11, occurred_at=3, propertyName="city", propertyValue="Oslo"),
        hubspot_event("company.propertyChange", 11, occurred_at=2, propertyName="phone", propertyValue="+47"),
        hubspot_event("company.creation", 12, occurred_at=1),
        hubspot_event("contact.creation", 21, occurred_at=4),
        hubspot_event("deal.creation", 99, occurred_at=5),  # not an object crmsync syncs
    ]  # fmt: skip
    response = post(client, events)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "events": 5, "duplicates": 0, "ignored": {"not_synced_object": 1}, "jobs": 2,
    }  # fmt: skip
    hubspot = connections["hubspot"]
    assert jobs(drain_stub()) == [
        ("sync_pending", [hubspot, "company"]),
        ("sync_pending", [hubspot, "contact"]),
    ]
    # Ids follow occurrence: 12 was created before 11 changed.
    assert pending_ids(hubspot, "company") == ["12", "11"]
    assert pending_ids(hubspot, "contact") == ["21"]
    assert event_rows(sessions) == 4


def test_a_job_on_its_way_takes_the_ids_of_later_requests(
    client: TestClient, connections: dict[str, int]
) -> None:
    hubspot = connections["hubspot"]
    assert post(client, [hubspot_event("company.creation", 1, occurred_at=1)]).json()["jobs"] == 1
    for number in range(2, 6):
        event = hubspot_event("company.creation", number, occurred_at=number, event_id=number)
        assert post(client, [event]).json()["jobs"] == 0
    assert jobs(drain_stub()) == [("sync_pending", [hubspot, "company"])]
    assert pending_ids(hubspot, "company") == ["1", "2", "3", "4", "5"]


def test_redeliveries_and_duplicates_are_enqueued_once(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    change = hubspot_event(
        "company.propertyChange", 11, propertyName="city", propertyValue="Oslo", event_id=5
    )
    # The same change twice in one request, once more with another eventId and attempt.
    again = {**change, "eventId": 6, "attemptNumber": 3}
    assert post(client, [change, again]).json()["duplicates"] == 1
    hubspot = connections["hubspot"]
    assert jobs(drain_stub()) == [("sync_pending", [hubspot, "company"])]
    store = shared_state.pending_ids()
    assert store.take(hubspot, "company", lease_s=30).ids == ["11"]
    assert store.hand_over(hubspot, "company") is False  # as the job does: nothing waits
    assert post(client, [again]).json() == {"events": 1, "duplicates": 1, "ignored": {}, "jobs": 0}
    assert drain_stub() == [] and pending_ids(hubspot, "company") == []
    # Same eventId but a different change is a different event (HubSpot reuses ids).
    other = {**change, "propertyValue": "Bergen"}
    assert post(client, [other]).json()["jobs"] == 1
    assert pending_ids(hubspot, "company") == ["11"]
    assert event_rows(sessions) == 2


def test_more_than_100_ids_are_taken_in_batches_oldest_first(
    client: TestClient, connections: dict[str, int]
) -> None:
    events = [hubspot_event("contact.creation", 1000 + i, occurred_at=i) for i in range(150)]
    assert post(client, events).status_code == 200
    assert len(drain_stub()) == 1
    store, hubspot = shared_state.pending_ids(), connections["hubspot"]
    first = store.take(hubspot, "contact", lease_s=30)
    second = store.take(hubspot, "contact", lease_s=30)
    assert (len(first.ids), first.more, len(second.ids), second.more) == (100, True, 50, False)
    assert first.ids + second.ids == [str(1000 + i) for i in range(150)]


def test_merge_and_association_events_name_every_record_involved(
    client: TestClient, connections: dict[str, int]
) -> None:
    events = [
        hubspot_event("company.merge", 40, primaryObjectId=40, mergedObjectIds=[41, 42], newObjectId=40),
        hubspot_event("contact.associationChange", 21, associationType="CONTACT_TO_COMPANY",
                      fromObjectId=21, toObjectId=43, associationRemoved=False),
        hubspot_event("company.restore", 44),
        hubspot_event("contact.deletion", 22),
    ]  # fmt: skip
    assert post(client, events).status_code == 200
    hubspot = connections["hubspot"]
    assert len(drain_stub()) == 2
    assert pending_ids(hubspot, "company") == ["40", "41", "42", "43", "44"]
    assert pending_ids(hubspot, "contact") == ["21", "22"]


def test_events_of_failed_or_removed_connections_are_dropped_until_resumed(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    with db.transaction(sessions) as session:
        tenant_id = get_tenant(session, "default").id
        lifecycle.remove(session, tenant_id, connections["hubspot"])
    lifecycle.mark_auth_failed(sessions, connections["other"], "401 INVALID_AUTHENTICATION")
    events = [
        hubspot_event("company.creation", 1, portal=PORTAL),
        hubspot_event("company.creation", 2, portal=OTHER_PORTAL),
    ]
    response = post(client, events)
    assert response.status_code == 200  # acknowledged, so HubSpot does not retry for a day
    assert response.json()["ignored"] == {"connection_not_active": 2}
    assert drain_stub() == [] and event_rows(sessions) == 0
    with db.transaction(sessions) as session:
        lifecycle.resume(session, tenant_id, connections["other"])
    later = [hubspot_event("company.creation", 3, portal=OTHER_PORTAL)]
    assert post(client, later).json()["ignored"] == {}
    assert jobs(drain_stub()) == [("sync_pending", [connections["other"], "company"])]


def test_events_are_routed_by_portal_and_paused_connections_are_skipped(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    events = [
        hubspot_event("company.creation", 1, portal=PORTAL),
        hubspot_event("company.creation", 2, portal=OTHER_PORTAL),
        hubspot_event("company.creation", 3, portal=PAUSED_PORTAL),
        hubspot_event("company.creation", 4, portal=123456),  # uninstalled: acknowledged
    ]
    response = post(client, events)
    assert response.json()["ignored"] == {"connection_not_active": 1, "unknown_account": 1}
    assert sorted(jobs(drain_stub())) == [
        ("sync_pending", [connections["hubspot"], "company"]),
        ("sync_pending", [connections["other"], "company"]),
    ]
    assert pending_ids(connections["hubspot"], "company") == ["1"]
    assert pending_ids(connections["other"], "company") == ["2"]
    assert pending_ids(connections["paused"], "company") == []
    assert event_rows(sessions) == 2


def test_v1_alone_is_refused_unless_v3_is_not_required(
    engine: Engine, client: TestClient, connections: dict[str, int]
) -> None:
    """Found by attacking the endpoint: a captured request with its v3 headers stripped was
    accepted on its v1 signature, which has no timestamp, at any age. Legacy private apps
    sign with v1 alone; they turn the requirement off."""
    body = body_of([hubspot_event("company.creation", 7)])
    headers = {"Content-Type": "application/json",
               "X-HubSpot-Signature": Signature.get_signature(SECRET, body, "v1")}  # fmt: skip
    refused = client.post("/webhooks/hubspot", content=body, headers=headers)
    assert refused.status_code == 401 and "REQUIRE_V3" in refused.text
    assert jobs(drain_stub()) == []
    stripped = without(
        signed_headers(body, f"{BASE_URL}/webhooks/hubspot"), "X-HubSpot-Signature-v3"
    )
    assert client.post("/webhooks/hubspot", content=body, headers=stripped).status_code == 401
    factory = db.session_factory(engine)
    legacy = build_app(settings(hubspot_webhook_require_v3=False), sessions=lambda: factory)
    with TestClient(legacy, base_url=BASE_URL) as client:
        assert client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200
    assert jobs(drain_stub()) == [("sync_pending", [connections["hubspot"], "company"])]
    assert pending_ids(connections["hubspot"], "company") == ["7"]


def test_the_public_url_is_what_is_verified_behind_a_proxy(
    engine: Engine, connections: dict[str, int], stub_queue: None
) -> None:
    factory = db.session_factory(engine)
    public = "https://crm-hooks.example.com/base"
    app = build_app(settings(webhooks_public_url=public), sessions=lambda: factory)
    body = body_of([hubspot_event("company.creation", 8)])
    with TestClient(app, base_url="http://10.0.0.5:8080") as behind_proxy:
        # HubSpot called the public URL (it decodes %3A and friends before signing).
        signed_public = signed_headers(
            body, "https://crm-hooks.example.com/base/webhooks/hubspot?a=b:c"
        )
        response = behind_proxy.post(
            "/webhooks/hubspot?a=b%3Ac", content=body, headers=signed_public
        )
        assert response.status_code == 200, response.text
        signed_internal = signed_headers(body, "http://10.0.0.5:8080/webhooks/hubspot")
        assert (
            behind_proxy.post(
                "/webhooks/hubspot", content=body, headers=signed_internal
            ).status_code
            == 401
        )
    assert len(drain_stub()) == 1


def _stream(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


BIG = body_of([hubspot_event("company.creation", i) for i in range(700)])  # over 64 kB


def signed(body: str, **kwargs: Any) -> dict[str, str]:
    return signed_headers(body, URL, **kwargs)


def without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in names}


def ago_ms(seconds: float) -> int:
    return int((time.time() - seconds) * 1000)


GOOD = body_of([hubspot_event("company.creation", 5)])
UNKNOWN = body_of([hubspot_event("company.creation", 5, portal=31337)])
NO_PORTAL = '[{"subscriptionType": "company.creation"}]'

# Each case makes its request when the test runs: signatures made at collection time
# would go stale in a long test session.
REFUSALS = [
    pytest.param(lambda: (GOOD, without(signed(GOOD), "X-HubSpot-Signature-v3", "X-HubSpot-Signature")), 401, id="no-signature"),
    pytest.param(lambda: (GOOD, signed(GOOD, secret="someone-else")), 401, id="wrong-secret"),
    pytest.param(lambda: (GOOD, {**signed(GOOD), "X-HubSpot-Signature-v3": "AAAA"}), 401, id="bad-v3"),
    # v3 present but wrong: a valid v1 beside it does not rescue the request.
    pytest.param(lambda: (GOOD, {**signed(GOOD), "X-HubSpot-Signature-v3": signed(GOOD, secret="x")["X-HubSpot-Signature-v3"]}), 401, id="v3-wrong-v1-right"),
    pytest.param(lambda: (GOOD, signed(GOOD, timestamp_ms=ago_ms(301))), 401, id="stale"),
    pytest.param(lambda: (GOOD, signed(GOOD, timestamp_ms=ago_ms(-600))), 401, id="future"),
    pytest.param(lambda: (GOOD, without(signed(GOOD), "X-HubSpot-Request-Timestamp")), 401, id="no-timestamp"),
    pytest.param(lambda: (GOOD, {**signed(GOOD), "X-HubSpot-Signature-v3": b"\xe9" * 44}), 401, id="non-ascii-v3"),
    pytest.param(lambda: (GOOD, {**without(signed(GOOD), "X-HubSpot-Signature-v3"), "X-HubSpot-Signature": b"\xe9" * 64}), 401, id="non-ascii-v1"),
    pytest.param(lambda: (GOOD, {**signed(GOOD), "X-HubSpot-Request-Timestamp": b"\xb2"}), 401, id="superscript-timestamp"),
    pytest.param(lambda: (GOOD + " ", signed(GOOD)), 401, id="body-changed"),
    pytest.param(lambda: ("[{", signed("[{")), 400, id="malformed-json"),
    pytest.param(lambda: ('{"a": 1}', signed('{"a": 1}')), 400, id="not-an-array"),
    pytest.param(lambda: ("[]", signed("[]")), 400, id="empty-array"),
    pytest.param(lambda: (NO_PORTAL, signed(NO_PORTAL)), 400, id="no-portal"),
    pytest.param(lambda: (GOOD, {**signed(GOOD), "Content-Type": "text/plain"}), 400, id="content-type"),
    pytest.param(lambda: (BIG, signed(BIG)), 413, id="too-large"),
    pytest.param(lambda: (_stream(BIG.encode()), without(signed(BIG), "Content-Length")), 413, id="too-large-streamed"),
    pytest.param(lambda: (UNKNOWN, signed(UNKNOWN)), 404, id="unknown-portal"),
    pytest.param(lambda: (GOOD, {**signed(GOOD), "Content-Length": b"\xb2"}), 400, id="superscript-content-length"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "status"), REFUSALS)
def test_refused_requests_enqueue_and_write_nothing(
    client: TestClient,
    connections: dict[str, int],
    sessions: sessionmaker[Session],
    make: Callable[[], tuple[Any, dict[str, str]]],
    status: int,
) -> None:
    content, headers = make()
    response = client.post("/webhooks/hubspot", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert drain_stub() == [] and memory_pending.pending(connections["hubspot"], "company") == []
    assert event_rows(sessions) == 0


def test_health_readiness_and_metrics(client: TestClient, connections: dict[str, int]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"database": "ok", "broker": "ok"}
    post(client, [hubspot_event("company.creation", 9)])
    client.post("/webhooks/hubspot", content="[]", headers={"Content-Type": "application/json"})
    # The webhook port is public: metrics are served on a private listener of their own.
    assert client.get("/metrics").status_code == 404
    server = metrics.serve("127.0.0.1", 0)
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    assert 'crmsync_webhook_events_enqueued_total{provider="hubspot"}' in text
    assert (
        'crmsync_webhook_requests_rejected_total{provider="hubspot",reason="missing_signature"}'
        in text
    )
    assert "crmsync_webhook_event_lag_seconds_bucket" in text
    assert "crmsync_queue_depth 1.0" in text
    assert "crmsync_sync_failures" in text


def test_a_requests_log_lines_carry_its_request_id_and_connection(
    client: TestClient, connections: dict[str, int]
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure(settings(log_level="INFO"), service=True, stream=stream)
    try:
        body = body_of([hubspot_event("company.creation", 5, portal=PAUSED_PORTAL)])
        headers = {**signed_headers(body, URL), "X-Request-Id": "req-42"}
        response = client.post("/webhooks/hubspot", content=body, headers=headers)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logs._installed.clear()
    assert response.status_code == 200 and response.headers["X-Request-Id"] == "req-42"
    [line] = [json.loads(text) for text in stream.getvalue().splitlines() if "dropped" in text]
    assert line["request_id"] == "req-42" and line["connection_id"] == connections["paused"]


def test_stored_events_keep_their_payload_and_time(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    post(client, [hubspot_event("company.creation", 10, occurred_at=1_700_000_000_123)])
    with sessions() as session:
        [row] = session.scalars(select(WebhookEvent))
    assert row.connection_id == connections["hubspot"] and row.payload["objectId"] == 10
    assert row.occurred_at is not None and row.occurred_at.timestamp() == 1_700_000_000.123
    assert row.dedupe_key.startswith("hubspot:")


def test_without_a_client_secret_hubspot_is_told_to_come_back(
    engine: Engine, connections: dict[str, int], sessions: sessionmaker[Session], stub_queue: None
) -> None:
    factory = db.session_factory(engine)
    app = build_app(settings(hubspot_client_secret=None), sessions=lambda: factory)
    body = body_of([hubspot_event("company.creation", 5)])
    with TestClient(app, base_url=BASE_URL) as unconfigured:
        response = unconfigured.post(
            "/webhooks/hubspot", content=body, headers=signed_headers(body, URL)
        )
    assert response.status_code == 503
    assert drain_stub() == [] and event_rows(sessions) == 0


def test_a_database_outage_answers_503_so_the_crm_retries(stub_queue: None) -> None:
    unreachable = db.session_factory(
        db.make_engine("postgresql+psycopg://crmsync@127.0.0.1:1/none")
    )
    app = build_app(settings(), sessions=lambda: unreachable)
    body = body_of([hubspot_event("company.creation", 5)])
    with TestClient(app, base_url=BASE_URL) as client:
        assert (
            client.post(
                "/webhooks/hubspot", content=body, headers=signed_headers(body, URL)
            ).status_code
            == 503
        )
        ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["database"].startswith("unavailable")
    assert drain_stub() == []


def test_a_broker_outage_answers_503_and_stores_nothing(
    client: TestClient,
    connections: dict[str, int],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pending ids live in the broker's Redis when no other is set: a Redis that does not
    # answer refuses the request, and the events are not stored, so the CRM's redelivery is
    # not taken for a duplicate.
    url = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(enqueue, "broker", RedisBroker(url=url, namespace="crmsync"))
    monkeypatch.setenv("CRMSYNC_BROKER_URL", url)
    get_settings.cache_clear()
    try:
        response = post(client, [hubspot_event("company.creation", 5)])
    finally:
        get_settings.cache_clear()
    assert response.status_code == 503
    assert event_rows(sessions) == 0


def test_a_client_that_leaves_mid_body_is_no_outage(
    engine: Engine, connections: dict[str, int], stub_queue: None, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Found by attacking the endpoint: a client that disconnected mid-body was logged as
    an ERROR with a traceback and counted as `unavailable` (an outage that was not one)."""
    import asyncio

    factory = db.session_factory(engine)
    app = build_app(settings(), sessions=lambda: factory)
    body = GOOD.encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in signed(GOOD).items()]
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "https",
             "path": "/webhooks/hubspot", "raw_path": b"/webhooks/hubspot", "query_string": b"",
             "headers": headers, "server": ("hooks.example.test", 443), "client": ("1.2.3.4", 5)}  # fmt: skip
    incoming = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def rejected(reason: str) -> float:
        return float(metrics.requests_rejected.labels("hubspot", reason)._value.get())

    before = {reason: rejected(reason) for reason in ("client_disconnected", "unavailable")}
    with caplog.at_level("INFO"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelname == "ERROR" or r.exc_info]
    assert rejected("client_disconnected") == before["client_disconnected"] + 1
    assert rejected("unavailable") == before["unavailable"]
    assert drain_stub() == [] and event_rows(sessions) == 0
