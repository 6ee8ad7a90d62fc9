"""What a real ``crmsync worker`` writes and serves while it runs a sync job from Redis: JSON
log lines carrying the job's connection and run, at ``CRMSYNC_LOG_LEVEL``, and job and
per-connection metrics on its private metrics port."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from customers import db
from customers.models import OutboxEntry
from sandbox.hubspot import HubSpotSandbox
from tests.worker.sync.processes import (
    Workers,
    connect_hubspot,
    count,
    enqueue,
    finished_runs,
    wait_until,
)
from tests.worker.webhooks.test_delivery import free_port


def log_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the log, each of which must be one JSON object."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(line, dict) for line in parsed)
    return parsed


def scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_a_worker_job_logs_json_lines_with_its_connection_and_run_and_serves_metrics(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, tmp_path: Path
) -> None:
    sessions = db.session_factory(postgres_engine)
    metrics_port = free_port()
    env = {**env, "CRMSYNC_LOG_LEVEL": "INFO", "CRMSYNC_WORKER_METRICS_PORT": str(metrics_port)}
    workers = Workers(env, tmp_path)
    with HubSpotSandbox(limits=None) as hubspot:
        hubspot.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
        connection_id = connect_hubspot(sessions, hubspot)
        try:
            workers.start()
            enqueue(redis_url, "sync_changes", connection_id)
            wait_until(lambda: len(finished_runs(sessions, "incremental")) == 1, 60, "the sync")
            [run] = finished_runs(sessions, "incremental")
            wait_until(
                lambda: "dramatiq_messages_total{" in _scrape_or_empty(metrics_port),
                30,
                "the job's metrics",
            )
            scraped = scrape(metrics_port)
            outbox = count(sessions, OutboxEntry)
        finally:
            workers.stop_all()
        token = hubspot.access_token

    lines = log_lines(tmp_path / "worker-0.log")
    finished = [line for line in lines if line["event"] == "incremental run finished: ok"]
    assert len(finished) == 1
    assert finished[0]["connection_id"] == connection_id
    assert finished[0]["run_id"] == run.id
    assert finished[0]["actor"] == "sync_changes" and finished[0]["message_id"]
    assert finished[0]["level"] == "info" and finished[0]["logger"] == "worker.sync.passes"
    started = [line for line in lines if line["event"] == "incremental run started"]
    assert [(s["connection_id"], s["run_id"]) for s in started] == [(connection_id, run.id)]
    # Dramatiq's own lines (main and worker processes) are JSON too, without a job's ids.
    ready = [line for line in lines if line["event"] == "Worker process is ready for action."]
    assert ready and "connection_id" not in ready[0]
    assert token not in (tmp_path / "worker-0.log").read_text()

    labels = '{actor_name="sync_changes",queue_name="bulk"}'
    assert f"dramatiq_messages_total{labels} 1.0" in scraped
    connection = f'connection="{connection_id}",provider="hubspot",tenant="default"'
    assert f"crmsync_connection_open_failures{{{connection}}} 0.0" in scraped
    # Nothing pushed yet: every outbox row of the tenant (the new customer's) is waiting.
    assert f"crmsync_connection_outbox_depth{{{connection}}} {float(outbox)}" in scraped
    assert f"crmsync_connection_lag_seconds{{{connection}}}" in scraped


def _scrape_or_empty(port: int) -> str:
    try:
        return scrape(port)
    except httpx.HTTPError:
        return ""


def test_a_worker_honours_the_log_level(
    env: dict[str, str], redis_url: str, postgres_engine: Engine, tmp_path: Path
) -> None:
    # Dramatiq's CLI logs at INFO whatever it is told, unless crmsync sets its processes up.
    sessions = db.session_factory(postgres_engine)
    env = {**env, "CRMSYNC_LOG_LEVEL": "WARNING", "CRMSYNC_WORKER_METRICS_PORT": "0"}
    workers = Workers(env, tmp_path)
    with HubSpotSandbox(limits=None) as hubspot:
        connection_id = connect_hubspot(sessions, hubspot)
        try:
            workers.start()
            enqueue(redis_url, "sync_changes", connection_id)
            wait_until(lambda: len(finished_runs(sessions, "incremental")) == 1, 60, "the sync")
        finally:
            workers.stop_all()
    levels = {line["level"] for line in log_lines(tmp_path / "worker-0.log")}
    assert levels <= {"warning", "error", "critical"}
