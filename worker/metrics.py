"""Prometheus metrics: the webhooks app's, and the per-connection gauges of the workers'.

Neither is served on the public webhook port: ``crmsync webhooks`` serves :data:`registry`
on its own listener (``CRMSYNC_METRICS_HOST``:``CRMSYNC_METRICS_PORT``, :func:`serve`), and
``crmsync worker`` serves Dramatiq's job metrics with :class:`ConnectionCollector` on
``CRMSYNC_METRICS_HOST``:``CRMSYNC_WORKER_METRICS_PORT`` (``worker.dramatiq_main``).

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
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from customers.models import OutboxEntry, Tenant
from customers.sync_state import Connection, SyncCursor, SyncFailure, SyncRun
from customers.types import utcnow
from worker.jobs.queues import all_broker_queues

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
    from worker.jobs import enqueue  # the broker is built on import; metrics alone need not

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


def serve(host: str, port: int, served: CollectorRegistry = registry) -> Any:
    """Serve ``served`` at ``http://host:port/metrics`` on a daemon thread; the server is
    returned (its ``shutdown()`` stops it)."""
    server, _thread = start_http_server(port, addr=host, registry=served)
    return server


class ConnectionCollector(Collector):
    """Per connection, read at scrape time with a few grouped queries: how far its
    incremental sync is behind, its open failures and its outbox depth (as ``crmsync
    status`` counts them). Labels: ``tenant`` (slug), ``connection`` (id), ``provider``."""

    LABELS = ["tenant", "connection", "provider"]

    def __init__(self, sessions: Callable[[], sessionmaker[Session]]) -> None:
        self._sessions = sessions

    def describe(self) -> list[Any]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Any]:
        try:
            with self._sessions()() as session:
                rows = self._read(session)
        except Exception:
            log.warning("metrics: the database did not answer; connection gauges left out")
            return
        lag = GaugeMetricFamily(
            "crmsync_connection_lag_seconds",
            "Seconds since the connection's incremental sync last moved (its newest cursor "
            "update or successful run); absent before its first.",
            labels=self.LABELS,
        )
        failures = GaugeMetricFamily(
            "crmsync_connection_open_failures",
            "Open failure rows of the connection.",
            labels=self.LABELS,
        )
        outbox = GaugeMetricFamily(
            "crmsync_connection_outbox_depth",
            "Local changes of the connection's tenant not yet pushed to its CRM.",
            labels=self.LABELS,
        )
        for labels, lag_s, open_failures, depth in rows:
            if lag_s is not None:
                lag.add_metric(labels, lag_s)
            failures.add_metric(labels, open_failures)
            outbox.add_metric(labels, depth)
        yield from (lag, failures, outbox)

    @staticmethod
    def _read(session: Session) -> list[tuple[list[str], float | None, int, int]]:
        from worker.failures import OPEN

        connections = session.execute(
            select(Connection.id, Connection.tenant_id, Connection.provider, Tenant.slug)
            .join(Tenant, Tenant.id == Connection.tenant_id)
            .order_by(Connection.id)
        ).all()
        moved = dict(
            session.execute(
                select(SyncCursor.connection_id, func.max(SyncCursor.updated_at))
                .where(SyncCursor.kind == "incremental")
                .group_by(SyncCursor.connection_id)
            ).all()
        )
        finished = dict(
            session.execute(
                select(SyncRun.connection_id, func.max(SyncRun.finished_at))
                .where(SyncRun.kind == "incremental", SyncRun.outcome == "ok")
                .group_by(SyncRun.connection_id)
            ).all()
        )
        open_failures = dict(
            session.execute(
                select(SyncFailure.connection_id, func.count())
                .where(SyncFailure.status == OPEN)
                .group_by(SyncFailure.connection_id)
            ).all()
        )
        positions: dict[int, int] = {}
        for connection_id, value in session.execute(
            select(SyncCursor.connection_id, SyncCursor.value).where(SyncCursor.kind == "outbox")
        ):
            position = int(value.get("position", 0)) if isinstance(value, dict) else 0
            positions[connection_id] = max(positions.get(connection_id, 0), position)
        now = utcnow()
        rows = []
        for connection_id, tenant_id, provider, tenant in connections:
            moments = (moved.get(connection_id), finished.get(connection_id))
            latest = max((_aware(t) for t in moments if t is not None), default=None)
            lag_s = (now - latest).total_seconds() if latest is not None else None
            depth = session.scalar(
                select(func.count())
                .select_from(OutboxEntry)
                .where(
                    OutboxEntry.tenant_id == tenant_id,
                    OutboxEntry.id > positions.get(connection_id, 0),
                )
            )
            labels = [tenant, str(connection_id), provider]
            rows.append((labels, lag_s, int(open_failures.get(connection_id, 0)), int(depth or 0)))
        return rows


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
