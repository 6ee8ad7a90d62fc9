"""Sending the console's jobs (sync now, reconcile now, replays, a held record's sync).

With a broker the jobs go to the worker processes like any other. In the embedded mode (no
broker) no worker would ever see them, so the console runs them itself, one at a time, on
a thread of its own; a page does not wait for a sync, but it does wait for a replay (so
the operator sees what became of it), up to ``REPLAY_WAIT_S``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from worker.embedded import is_embedded, jobs_run_here
from worker.jobs import enqueue
from worker.jobs.payload import JobCall

log = logging.getLogger(__name__)

REPLAY_WAIT_S = 60.0


class JobRunner:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-jobs")

    @property
    def embedded(self) -> bool:
        return is_embedded()

    def _run_here(self, work: Callable[[], Any]) -> Future[Any]:
        def run() -> None:
            try:
                with jobs_run_here():
                    work()
            except Exception:
                log.exception("a job the console ran failed")

        return self._executor.submit(run)

    def send(self, actor_name: str, *args: Any) -> None:
        """Queue a job: to the broker, or to this console's own job thread."""
        if not self.embedded:
            enqueue.send(actor_name, *args)
            return
        self._run_here(lambda: enqueue.send(actor_name, *args))

    def run_replays(self, jobs: list[JobCall]) -> bool:
        """Run replayed jobs here (embedded mode) and wait for them; False when they take
        longer than ``REPLAY_WAIT_S`` (they go on in the background)."""
        if not jobs:
            return True
        future = self._run_here(lambda: [enqueue.replay(job) for job in jobs])
        try:
            future.result(timeout=REPLAY_WAIT_S)
        except FutureTimeout:
            return False
        return True

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
