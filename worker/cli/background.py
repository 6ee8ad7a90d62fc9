"""Jobs sent from the CLI, and run right here when there is no external worker.

With a broker URL (``CRMSYNC_BROKER_URL``) a command only sends its jobs: the worker
processes run them and the command returns at once. Without one (the embedded mode) the
jobs would sit in this process's in-memory queue and vanish when it exits, so the command
starts in-process worker threads, shows a progress bar until every job it sent has
finished (succeeded, or failed for good and been recorded in ``sync_failures``), and stops
them. Retries happen as they would in a worker, waits included; Ctrl-C stops waiting and
reports which jobs did not finish.

Unlike ``worker.embedded.jobs_run_here``, which drains the queue for commands that only
need their jobs done, this follows each job it was given, for a progress bar and a per-job
outcome. It does not know what the jobs do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware, Retries
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from worker.embedded import is_embedded, load_actors, quiet_job_logs, stop_worker
from worker.jobs.broker import broker
from worker.settings import get_settings

POLL_S = 0.05
WORKER_TIMEOUT_MS = 100  # how often idle worker threads look up; also how fast they stop


def embedded() -> bool:
    """True when jobs run in this process (no external broker)."""
    return is_embedded()


def declare_actors() -> None:
    """In the embedded mode this process is the worker, so it needs the actors declared."""
    load_actors()


@dataclass
class JobsRun:
    """What became of the jobs a command ran here."""

    succeeded: set[str] = field(default_factory=set)  # message ids
    failed: set[str] = field(default_factory=set)
    unfinished: set[str] = field(default_factory=set)  # still queued or retrying when we stopped


class _Tracker(Middleware):
    """Notes when each watched message is done for good. Placed before ``Retries`` so it
    runs after it (Dramatiq calls ``after_*`` hooks in reverse) and sees ``message.failed``."""

    def __init__(self, message_ids: Iterable[str]) -> None:
        self.pending = set(message_ids)
        self.run = JobsRun()
        self.lock = threading.Lock()

    def _done(self, message_id: str, succeeded: bool) -> None:
        with self.lock:
            if message_id in self.pending:
                self.pending.discard(message_id)
                (self.run.succeeded if succeeded else self.run.failed).add(message_id)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            self._done(message.message_id, True)
        elif message.failed:
            self._done(message.message_id, False)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._done(message.message_id, False)


def run_here(message_ids: list[str], *, what: str, console: Console) -> JobsRun:
    """Run the already-sent messages on worker threads in this process until each one has
    finished, with a progress bar; Ctrl-C stops early (the rest are ``unfinished``)."""
    tracker = _Tracker(message_ids)
    if not message_ids:
        return tracker.run
    broker.add_middleware(tracker, before=Retries)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # The progress bar and the command's own report say what the worker's lines would.
    with quiet_job_logs():
        worker = dramatiq.Worker(
            broker, worker_threads=get_settings().worker_threads, worker_timeout=WORKER_TIMEOUT_MS
        )
        worker.start()
        try:
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task(what, total=len(message_ids))
                while tracker.pending:
                    progress.update(task, completed=len(message_ids) - len(tracker.pending))
                    time.sleep(POLL_S)
                progress.update(task, completed=len(message_ids))
        except KeyboardInterrupt:
            console.print("stopped waiting; unfinished jobs are dropped", style="yellow")
        finally:
            stop_worker(worker)
            broker.middleware.remove(tracker)
            with tracker.lock:
                tracker.run.unfinished = set(tracker.pending)
            if tracker.run.unfinished:
                # Their messages live only in this process's memory: drop them with it.
                broker.flush_all()
    return tracker.run
