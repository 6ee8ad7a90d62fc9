"""OpenTelemetry: spans of queries, HTTP calls, jobs and webhook requests when enabled, none
when not, and a plain error when enabled without the packages. Each case runs in a process
of its own: the instrumentations patch libraries for the whole process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import json, sys
import requests
from dramatiq import Message
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import worker.actors  # noqa: F401  (registers the jobs and where their connection is)
from customers.db import make_engine
from worker import tracing
from worker.jobs.broker import broker
from worker.settings import Settings

exporter = InMemorySpanExporter()
on = tracing.setup(Settings(), "test", exporter=exporter)
engine = make_engine("sqlite://")  # imported before tracing began, as in the services
job = Message(queue_name="default", actor_name="sync_changes", args=(5,), kwargs={}, options={})
spans = [m for m in broker.middleware if type(m).__name__ == "JobSpans"]
for middleware in spans:
    middleware.before_process_message(broker, job)
with engine.connect() as connection:
    connection.execute(text("SELECT 1"))
for middleware in spans:
    middleware.after_process_message(broker, job)
requests.get(sys.argv[1], timeout=5)

async def hook(request):
    return PlainTextResponse("ok")

app = Starlette(routes=[Route("/webhooks/salesforce/{token}", hook, methods=["POST"])])
tracing.instrument_app(app)
TestClient(app).post("/webhooks/salesforce/TopSecretToken_1")
print(json.dumps({
    "on": on,
    "instrumented": "opentelemetry.instrumentation.sqlalchemy" in sys.modules,
    "spans": [
        {"name": s.name, "attributes": dict(s.attributes or {}), "id": s.context.span_id,
         "parent": s.parent.span_id if s.parent else None}
        for s in exporter.get_finished_spans()
    ],
}))
"""

BLOCKED = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
"""


@pytest.fixture
def http_url() -> Iterator[str]:
    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/ping"
    server.shutdown()
    server.server_close()


def run(enabled: str, url: str) -> dict[str, Any]:
    env = {**os.environ, "CRMSYNC_OTEL_ENABLED": enabled, "PYTHONPATH": str(ROOT)}
    env.pop("CRMSYNC_BROKER_URL", None)
    command = [sys.executable, "-c", SCRIPT, url]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_enabled_tracing_records_queries_http_calls_jobs_and_requests(http_url: str) -> None:
    result = run("true", http_url)
    assert result["on"] is True
    spans = result["spans"]
    [query] = [s for s in spans if s["attributes"].get("db.statement") == "SELECT 1"]
    [job] = [s for s in spans if s["name"] == "job sync_changes"]
    assert query["parent"] == job["id"]  # the job's queries are part of its trace
    assert job["attributes"]["crmsync.connection_id"] == 5
    [call] = [s for s in spans if s["name"] == "GET"]
    assert http_url in json.dumps(call["attributes"])
    requests = [s for s in spans if s["name"].startswith("POST /webhooks/salesforce/")]
    assert requests, [s["name"] for s in spans]
    assert "TopSecretToken_1" not in json.dumps(spans)  # the token is out of every span


def test_disabled_tracing_records_nothing_and_loads_nothing(http_url: str) -> None:
    result = run("false", http_url)
    assert result == {"on": False, "instrumented": False, "spans": []}


@pytest.mark.parametrize("service", ["scheduler", "worker", "webhooks"])
def test_enabled_without_the_packages_is_a_plain_error(service: str) -> None:
    env = {**os.environ, "CRMSYNC_OTEL_ENABLED": "true", "PYTHONPATH": str(ROOT)}
    env.pop("CRMSYNC_BROKER_URL", None)
    script = BLOCKED + "from worker.cli import main; main()"
    command = [sys.executable, "-c", script, service]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "CRMSYNC_OTEL_ENABLED is true but the tracing packages are not installed" in done.stderr
    assert "crmsync[otel]" in done.stderr and "Traceback" not in done.stderr
