"""How many HubSpot webhook events per second the webhooks app accepts.

Serves the app on a real socket (uvicorn in a thread), with the Redis broker and a
database (a fresh SQLite file by default; pass ``--database-url`` for PostgreSQL, which it
migrates), and posts batches of 100 distinct events, each request signed with v3 and
verified by the app, from ``--clients`` keep-alive HTTP clients at once (HubSpot sends up
to 10 concurrent requests per account). Prints events/s accepted and request latencies,
and checks that every event's id is pending in Redis, behind one ``sync_pending`` job (no
worker runs here to take them).

    python -m bench.webhooks [--requests 300] [--clients 4] [--redis-url redis://127.0.0.1:6379/14]

The Redis database given is flushed before and after: do not point it at one in use.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from hubspot.utils.signature import Signature

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "bench-client-secret"
PORTAL = 48_215_730
EVENTS_PER_REQUEST = 100


def signed_batches(url: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` request bodies of 100 distinct company changes, with HubSpot's headers."""
    batches = []
    now_ms = int(time.time() * 1000)
    for number in range(count):
        events = [
            {
                "eventId": number * EVENTS_PER_REQUEST + index, "subscriptionId": 1,
                "portalId": PORTAL, "appId": 4242, "occurredAt": now_ms - index,
                "subscriptionType": "company.propertyChange", "attemptNumber": 0,
                "objectId": 10_000_000 + number * EVENTS_PER_REQUEST + index,
                "propertyName": "city", "propertyValue": f"City {index}", "changeSource": "CRM_UI",
            }
            for index in range(EVENTS_PER_REQUEST)
        ]  # fmt: skip
        body = json.dumps(events, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": Signature.get_signature(
                SECRET, body, "v3", http_uri=url, http_method="POST", timestamp=timestamp
            ),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        batches.append((body.encode(), headers))
    return batches


def post_all(url: str, batches: list[tuple[bytes, dict[str, str]]], latencies: list[float]) -> None:
    with httpx.Client(timeout=30) as client:
        for body, headers in batches:
            started = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text}")


def measure(
    *, requests: int, clients: int, redis_url: str, database_url: str | None = None
) -> dict[str, Any]:
    """Post ``requests`` signed batches from ``clients`` clients; return the figures.

    ``events_per_s`` and ``requests_per_s`` accepted, request latency ``median_ms``,
    ``p95_ms``, ``max_ms``; ``jobs_queued`` (``sync_pending`` jobs in Redis) against
    ``jobs_expected``, and ``pending_ids`` (ids waiting for them) against ``ids_expected``. The app reads its settings once per process, from the environment:
    the first call's ``redis_url`` and ``database_url`` hold for later calls. The Redis
    database given is flushed before and after.
    """
    workdir = tempfile.mkdtemp(prefix="crmsync-bench-")
    database_url = database_url or f"sqlite:///{workdir}/bench.db"
    os.environ.update(
        CRMSYNC_BROKER_URL=redis_url,
        CRMSYNC_DATABASE_URL=database_url,
        CRMSYNC_HUBSPOT_CLIENT_SECRET=SECRET,
        CRMSYNC_LOG_LEVEL="WARNING",
    )
    from customers import db
    from customers.service import get_tenant
    from customers.sync_state import Connection, WebhookEvent
    from sandbox.runner import ServerThread
    from worker import database
    from worker.pending import RedisPending
    from worker.webhooks import build_app

    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    db.upgrade(database.engine())
    with db.transaction(database.sessions()) as session:
        session.query(WebhookEvent).delete()
        session.query(Connection).filter(Connection.account_id == str(PORTAL)).delete()
        tenant = get_tenant(session, "default")
        connection = Connection(
            tenant_id=tenant.id, provider="hubspot", account_id=str(PORTAL), name="bench"
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id

    with ServerThread(build_app()) as server:
        url = f"{server.url}/webhooks/hubspot"
        batches = signed_batches(url, requests)
        post_all(url, batches[:2], [])  # warm-up: connections, caches, prepared statements
        work = batches[2:]
        shares = [work[index::clients] for index in range(clients)]
        latencies: list[float] = []
        threads = [
            threading.Thread(target=post_all, args=(url, share, latencies)) for share in shares
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started

    queued = int(store.llen("crmsync:default"))
    pending = len(RedisPending(store).pending(connection_id, "company"))
    store.flushdb()
    events = len(latencies) * EVENTS_PER_REQUEST
    ordered = sorted(latencies)
    return {
        "database": database_url.split("://", 1)[0],
        "clients": clients,
        "events": events,
        "requests": len(latencies),
        "elapsed_s": elapsed,
        "events_per_s": events / elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
        "max_ms": ordered[-1] * 1000,
        "jobs_queued": queued,
        # Every batch names companies of one portal: one job takes them, 100 at a time.
        "jobs_expected": 1,
        "pending_ids": pending,
        "ids_expected": requests * EVENTS_PER_REQUEST,  # warm-up included
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="batches of 100 events")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    figures = measure(
        requests=args.requests,
        clients=args.clients,
        redis_url=args.redis_url,
        database_url=args.database_url,
    )
    print(f"database: {figures['database']}, broker: Redis, clients: {figures['clients']}")
    print(
        f"accepted {figures['events']:,} events in {figures['requests']} signed requests in "
        f"{figures['elapsed_s']:.2f} s: {figures['events_per_s']:,.0f} events/s, "
        f"{figures['requests_per_s']:,.1f} requests/s"
    )
    print(
        f"request latency: median {figures['median_ms']:.1f} ms, "
        f"p95 {figures['p95_ms']:.1f} ms, max {figures['max_ms']:.1f} ms"
    )
    print(
        f"sync_pending jobs in Redis: {figures['jobs_queued']} (expected {figures['jobs_expected']}), "
        f"pending ids: {figures['pending_ids']:,} (expected {figures['ids_expected']:,})"
    )
    if (figures["jobs_queued"], figures["pending_ids"]) != (
        figures["jobs_expected"],
        figures["ids_expected"],
    ):
        raise SystemExit("the queue does not hold one job for every pending id")


if __name__ == "__main__":
    main()
