"""Did the processes recover from the chaos while the workload still ran?

Measured at the end of the workload, before the rest: after the last Redis restart each
connection finished an incremental sync or a push (both read the CRM's changes), at the
latest ``RECOVERY_GRACE_S`` after the workload and the chaos stopped, and
the webhooks process still stored events; the webhooks process and the scheduler are alive; no worker
died that the soak did not kill. A process that cannot recover is a finding.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.soak.history import History
from bench.soak.outcome import Outcome, Problem
from bench.soak.services import Processes
from customers.sync_state import SyncRun, WebhookEvent

RECOVERY_GRACE_S = 30.0


def _finished_runs(
    sessions: sessionmaker[Session], connection_id: int, since: datetime
) -> dict[str, int]:
    # Both read the CRM's changes (a push scans before it writes): either shows that the
    # scheduler enqueued and a worker ran the connection's periodic work.
    with sessions() as session:
        return {kind: session.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.connection_id == connection_id, SyncRun.kind == kind,
            SyncRun.started_at > since, SyncRun.outcome == "ok")) or 0
            for kind in ("incremental", "push")}  # fmt: skip


def recovery(
    sessions: sessionmaker[Session],
    history: History,
    processes: Processes,
    connections: dict[str, int],
    *,
    others_alive: bool,
) -> Outcome:
    outcome = Outcome("processes that did not recover", 0)
    restarts = [op.at for op in history.operations if op.side == "chaos" and op.kind == "redis"]
    since = datetime.fromtimestamp(restarts[-1] if restarts else history.started, UTC)
    label = "the last Redis restart" if restarts else "the start"
    # The scheduler keeps running: a run it started just before the workload stopped, or one
    # a killed worker left behind and that is taken for dead after the scheduler's stale
    # time, may finish a few seconds later. Not finishing within the grace is the finding.
    deadline = time.monotonic() + RECOVERY_GRACE_S
    while True:
        finished = {provider: _finished_runs(sessions, connection_id, since)
                    for provider, connection_id in connections.items()}  # fmt: skip
        if all(any(runs.values()) for runs in finished.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    with sessions() as session:
        for provider, runs in finished.items():
            outcome.checked += 1
            outcome.notes.append(f"{provider} runs finished after {label}: {runs}")
            if not any(runs.values()):
                outcome.problems.append(Problem(provider, "runs", f"no incremental sync or push finished after {label}"))  # fmt: skip
        outcome.checked += 1
        events = session.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.received_at > since)) or 0  # fmt: skip
        outcome.notes.append(f"webhook events stored after {label}: {events}")
        if not events:
            outcome.problems.append(Problem("crmsync webhooks", "events", f"no event stored after {label}"))  # fmt: skip
    outcome.checked += 2
    if not others_alive:
        outcome.problems.append(Problem("crmsync webhooks / scheduler", "process", "exited during the run"))  # fmt: skip
    if processes.died:
        outcome.problems.append(Problem("crmsync worker", "process",
                                        f"{processes.died} worker(s) died without being killed"))  # fmt: skip
    return outcome
