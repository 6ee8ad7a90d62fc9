"""Prometheus metrics of the webhooks app (and anything else that serves ``/metrics``).

Counters live in one registry of their own, so importing this module twice (tests, a
reloaded app) never trips over prometheus-client's global registry. Sync outcomes and open
failures are read from the database when Prometheus scrapes, not kept in memory: they are
written by worker processes this one never sees.

This module must not make CRM calls, and a scrape must never fail because the database is
down: the database-backed gauges are then left out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from customers.sync_state import SyncFailure, SyncRun
from customers.types import utcnow
from worker.queues import all_broker_queues

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Sync outcomes are counted over this window (runs older than a day are history).
OUTCOME_WINDOW = timedelta(hours=24)

registry = CollectorRegistry(auto_describe=True)

events_received = Counter(
    "crmsync_webhook_events_received",
    "CRM events in accepted webhook requests.",
    ["provider"],
    registry=registry,
)
events_duplicate = Counter(
    "crmsync_webhook_events_duplicate",
    "Accepted events already seen before (redeliveries), not enqueued again.",
    ["provider"],
    registry=registry,
)
events_enqueued = Counter(
    "crmsync_webhook_events_enqueued",
    "New events whose records were enqueued for sync.",
    ["provider"],
    registry=registry,
)
events_ignored = Counter(
    "crmsync_webhook_events_ignored",
    "Events acknowledged but not synced (object types crmsync does not sync, paused "
    "connections, portals with no connection in a request that had others).",
    ["provider", "reason"],
    registry=registry,
)
requests_rejected = Counter(
    "crmsync_webhook_requests_rejected",
    "Webhook requests refused, by reason.",
    ["provider", "reason"],
    registry=registry,
)
jobs_enqueued = Counter(
    "crmsync_webhook_jobs_enqueued",
    "sync_pending jobs sent by the webhooks app (one takes up to 100 pending ids).",
    ["provider"],
    registry=registry,
)
event_lag = Histogram(
    "crmsync_webhook_event_lag_seconds",
    "From the event's occurrence in the CRM to its records being enqueued.",
    ["provider"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
    registry=registry,
)
request_seconds = Histogram(
    "crmsync_webhook_request_seconds",
    "Time to answer a webhook request (HubSpot gives up after 5 s).",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=registry,
)


class DatabaseCollector(Collector):
    """Sync outcomes of the last day, open failures and queue depth, read at scrape time."""

    def __init__(
        self, sessions: Callable[[], sessionmaker[Session]], queue_depth: Callable[[], int | None]
    ) -> None:
        self._sessions = sessions
        self._queue_depth = queue_depth

    def describe(self) -> list[Any]:
        # Without this, registering would run collect(), querying the database at start-up.
        return []

    def collect(self) -> Iterator[Any]:
        try:
            with self._sessions()() as session:
                outcomes = session.execute(
                    select(SyncRun.kind, SyncRun.outcome, func.count())
                    .where(SyncRun.started_at >= utcnow() - OUTCOME_WINDOW)
                    .group_by(SyncRun.kind, SyncRun.outcome)
                ).all()
                failures = session.execute(
                    select(SyncFailure.status, func.count()).group_by(SyncFailure.status)
                ).all()
        except Exception:
            log.warning("metrics: the database did not answer; sync gauges left out")
        else:
            runs = GaugeMetricFamily(
                "crmsync_sync_runs_last_day",
                "Sync runs started in the last 24 hours, by kind and outcome.",
                labels=["kind", "outcome"],
            )
            for kind, outcome, count in outcomes:
                runs.add_metric([kind, outcome], count)
            yield runs
            rows = GaugeMetricFamily(
                "crmsync_sync_failures", "Failure rows by status.", labels=["status"]
            )
            for status, count in failures:
                rows.add_metric([status], count)
            yield rows
        try:
            depth = self._queue_depth()
        except Exception:
            log.warning("metrics: the broker did not answer; queue depth left out")
            depth = None
        if depth is not None:
            yield GaugeMetricFamily(
                "crmsync_queue_depth", "Jobs waiting in the broker's queue.", value=depth
            )


_collector: DatabaseCollector | None = None


def watch_database(
    sessions: Callable[[], sessionmaker[Session]], queue_depth: Callable[[], int | None]
) -> None:
    """Add (or replace) the scrape-time database gauges."""
    global _collector
    if _collector is not None:
        registry.unregister(_collector)
    _collector = DatabaseCollector(sessions, queue_depth)
    registry.register(_collector)


def queue_depth() -> int:
    """Jobs waiting in the broker (ready and delayed): Redis list lengths with a Redis
    broker, the in-process queues otherwise."""
    from worker import enqueue  # the broker is built on import; metrics alone need not

    broker = enqueue.broker
    names = all_broker_queues()
    client = getattr(broker, "client", None)
    if client is not None:
        namespace = getattr(broker, "namespace", "dramatiq")
        return sum(int(client.llen(f"{namespace}:{name}")) for name in names)
    queues = getattr(broker, "queues", {})
    return sum(queues[name].qsize() for name in names if name in queues)


def exposition() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(registry)
