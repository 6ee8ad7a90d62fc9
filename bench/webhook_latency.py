"""Edit-to-commit latency through the webhook path, at a steady rate of edits.

Each edit changes one HubSpot company (in the sandbox, in this process). HubSpot-style
signed webhooks go to a ``crmsync webhooks`` process, which enqueues on Redis; ``crmsync
worker`` processes fetch the record and commit it to PostgreSQL. The latency of an edit is
the customer row's ``updated_at`` minus the moment the edit was made (one machine, one
clock). Prints p50, p95, p99 and the maximum.

    python -m bench.webhook_latency --rate 20 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from cryptography.fernet import Fernet
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import func, select

from bench.csv_import import drop, postgres_scratch
from connectors.credentials import Credentials, load_cipher
from customers import db
from customers.models import Customer
from customers.service import get_tenant
from customers.sync_state import Connection, ExternalLink, SyncRun, WebhookEvent
from sandbox.hubspot import HubSpotSandbox, WebhookSubscription
from sandbox.seed import generate_companies

ROOT = Path(__file__).resolve().parents[1]
CRMSYNC = str(Path(sys.executable).parent / "crmsync")
SECRET = "bench-app-secret"
BURST_WINDOW_S = 10.0


def wait(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def roles(processes: list[subprocess.Popen[bytes]]) -> dict[str, list[int]]:
    """Process ids by role: the first process started is crmsync webhooks."""
    return {"webhooks": [processes[0].pid], "workers": [p.pid for p in processes[1:]]}


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of these processes and all their descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, seen, todo = 0.0, set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += children.get(pid, [])
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(*, rate: float, seconds: float, workers: int, redis_url: str) -> dict[str, Any]:
    """Run the whole loop once and return its figures.

    ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms`` and ``latencies_ms`` (one per edit) are
    edit-to-commit; ``events`` is the number of edits; ``jobs`` the ``sync_records`` runs
    that applied them, ``job_p50_ms`` / ``job_p95_ms`` how long one took and ``records``
    how many records they read (webhook jobs record their runs as ``records``);
    ``latencies_ms`` is in the order of the edits;
    ``intake_p50_ms`` / ``intake_p99_ms`` how long an edit's event took to be stored by
    ``crmsync webhooks`` (the sandbox's delivery batching included);
    ``worker_cpu_ms_per_edit`` / ``webhooks_cpu_ms_per_edit`` the CPU those processes spent
    per edit while the edits were made and applied (Linux). The Redis database given is
    flushed first.
    """
    edits = int(rate * seconds)
    scratch = postgres_scratch()
    if scratch is None:
        raise SystemExit("needs PostgreSQL")
    name, url = scratch
    redis.Redis.from_url(redis_url).flushdb()
    key = Fernet.generate_key().decode()
    folder = Path(tempfile.mkdtemp(prefix="crmsync-bench-"))
    env = {**os.environ, "CRMSYNC_DATABASE_URL": url, "CRMSYNC_BROKER_URL": redis_url,
           "CRMSYNC_ENCRYPTION_KEY": key, "CRMSYNC_DATA_DIR": str(folder),
           "CRMSYNC_HUBSPOT_CLIENT_SECRET": SECRET, "CRMSYNC_LOG_LEVEL": "WARNING"}  # fmt: skip
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with HubSpotSandbox(limits=None, webhook_retry_scale=0.001) as hubspot:
            hubspot.seed(generate_companies(edits + edits // 5, seed=5))
            with db.transaction(sessions) as session:
                tenant = get_tenant(session, "default")
                connection = Connection(
                    tenant_id=tenant.id, provider="hubspot", account_id=str(hubspot.portal_id), name="bench",
                    base_url=hubspot.url, settings={"connector": {}},
                    credentials=load_cipher(encryption_key=key, data_dir=folder).encrypt(
                        Credentials(access_token=hubspot.access_token)),
                )  # fmt: skip
                session.add(connection)
                session.flush()
                connection_id = connection.id
            port = 18_000 + os.getpid() % 1000
            log = (folder / "processes.log").open("wb")
            processes.append(subprocess.Popen([CRMSYNC, "webhooks", "--port", str(port)], env=env, cwd=ROOT,
                                              stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
            processes += [
                subprocess.Popen(
                    [CRMSYNC, "worker", "--processes", "1", "--threads", "4"],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                for _ in range(workers)
            ]

            def ready() -> bool:
                try:
                    return (
                        httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
                    )
                except httpx.TransportError:
                    return False

            wait(ready, 60, "crmsync webhooks")
            broker = RedisBroker(url=redis_url, namespace="crmsync")
            broker.declare_queue("default")
            broker.enqueue(Message(queue_name="default", actor_name="reconcile", args=(connection_id,),
                                   kwargs={}, options={}))  # fmt: skip

            def reconciled() -> bool:
                with sessions() as session:
                    return bool(session.scalar(select(func.count()).select_from(SyncRun).where(
                        SyncRun.kind == "reconcile", SyncRun.finished_at.is_not(None))))  # fmt: skip

            print(f"linking {edits + edits // 5:,} companies first (a full sync) ...", flush=True)
            wait(reconciled, 600, "the first full sync")
            with sessions() as session:
                links = session.execute(select(ExternalLink.external_id, ExternalLink.local_id).where(
                    ExternalLink.object_type == "company").limit(edits)).all()  # fmt: skip
            hubspot.subscribe_webhooks(WebhookSubscription(target_url=f"http://127.0.0.1:{port}/webhooks/hubspot",
                                                           client_secret=SECRET))  # fmt: skip
            # The full sync spent HubSpot's burst allowance (190 requests per rolling 10 s,
            # which crmsync keeps to as the real API would): let the window pass, or the
            # first seconds of edits would measure the setup's API budget.
            time.sleep(BURST_WINDOW_S)
            print(f"editing {len(links):,} companies at {rate:g}/s ...", flush=True)
            cpu_before = {name: cpu_seconds(pids) for name, pids in roles(processes).items()}
            edited_at: dict[int, float] = {}
            start = time.monotonic()
            for number, (external_id, local_id) in enumerate(links):
                delay = start + number / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                hubspot.update("companies", external_id, {"description": f"bench edit {number}"})
                edited_at[local_id] = time.time()

            def arrived() -> bool:
                with sessions() as session:
                    return (session.scalar(select(func.count()).select_from(Customer).where(
                        Customer.notes.like("bench edit %"))) or 0) >= len(links)  # fmt: skip

            wait(arrived, 120, "every edit to arrive")
            cpu_used = {
                name: cpu_seconds(pids) - cpu_before[name]
                for name, pids in roles(processes).items()
            }
            with sessions() as session:
                rows = session.execute(select(Customer.id, Customer.updated_at).where(
                    Customer.id.in_(list(edited_at)))).all()  # fmt: skip
                runs = session.execute(select(SyncRun.started_at, SyncRun.finished_at, SyncRun.counts).where(
                    SyncRun.kind == "records", SyncRun.finished_at.is_not(None))).all()  # fmt: skip
                # When each edit's event reached crmsync webhooks (HubSpot's occurredAt is when
                # the edit was made): the part of the latency before any job ran.
                arrivals = session.execute(select(WebhookEvent.occurred_at, WebhookEvent.received_at).where(
                    WebhookEvent.occurred_at.is_not(None))).all()  # fmt: skip
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        engine.dispose()
        drop(name)
    rows = sorted(rows, key=lambda row: edited_at[row.id])  # latencies in the order of the edits
    latencies_ms = [(row.updated_at.timestamp() - edited_at[row.id]) * 1000 for row in rows]
    durations_ms = [(run.finished_at - run.started_at).total_seconds() * 1000 for run in runs]
    intake_ms = [
        max((row.received_at - row.occurred_at).total_seconds() * 1000, 0.0) for row in arrivals
    ]
    return {
        "events": len(latencies_ms),
        "p50_ms": statistics.median(latencies_ms),
        "p95_ms": percentile(latencies_ms, 0.95),
        "p99_ms": percentile(latencies_ms, 0.99),
        "max_ms": max(latencies_ms),
        "latencies_ms": latencies_ms,
        "jobs": len(runs),
        "records": sum(run.counts.get("read", 0) for run in runs),
        "job_p50_ms": statistics.median(durations_ms) if durations_ms else 0.0,
        "job_p95_ms": percentile(durations_ms, 0.95) if durations_ms else 0.0,
        "intake_p50_ms": statistics.median(intake_ms) if intake_ms else 0.0,
        "intake_p99_ms": percentile(intake_ms, 0.99) if intake_ms else 0.0,
        # CPU the processes spent while the edits were made and applied, per edit.
        "worker_cpu_ms_per_edit": cpu_used["workers"] * 1000 / max(len(latencies_ms), 1),
        "webhooks_cpu_ms_per_edit": cpu_used["webhooks"] * 1000 / max(len(latencies_ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="edits per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to edit")
    parser.add_argument("--workers", type=int, default=2, help="crmsync worker processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    figures = measure(
        rate=args.rate, seconds=args.seconds, workers=args.workers, redis_url=args.redis_url
    )
    print(f"edit-to-commit over {figures['events']:,} edits at {args.rate:g} edits/s, {args.workers} worker(s): "
          f"p50 {figures['p50_ms']:,.0f} ms, p95 {figures['p95_ms']:,.0f} ms, "
          f"p99 {figures['p99_ms']:,.0f} ms, max {figures['max_ms']:,.0f} ms")  # fmt: skip
    print(
        f"  {figures['jobs']:,} sync_records jobs for {figures['records']:,} records; a job took p50 "
        f"{figures['job_p50_ms']:,.0f} ms, p95 {figures['job_p95_ms']:,.0f} ms"
    )
    print(
        f"  edit to event stored by crmsync webhooks: p50 {figures['intake_p50_ms']:,.0f} ms, "
        f"p99 {figures['intake_p99_ms']:,.0f} ms"
    )
    print(
        f"  CPU per edit: worker processes {figures['worker_cpu_ms_per_edit']:,.1f} ms, "
        f"crmsync webhooks {figures['webhooks_cpu_ms_per_edit']:,.1f} ms"
    )


if __name__ == "__main__":
    main()
