"""The processes of ``crmsync worker``: Dramatiq's CLI, with crmsync's logging and metrics.

    python -m worker.dramatiq_main worker.dramatiq_main:boot <actor modules> [dramatiq options]

- The main process logs as every crmsync service does (``worker.logs``); Dramatiq's own
  setup is skipped (``--skip-logging``) and each worker process sets itself up when it
  boots (``worker.jobs.context.JobContext``), so ``CRMSYNC_LOG_LEVEL`` holds in all of them.
- :func:`boot`, Dramatiq's broker argument, builds the broker in each worker process, tunes
  its garbage collector once the actors are loaded (``worker.jobs.collector``), adds
  Dramatiq's Prometheus middleware (job counts, errors, retries and durations, kept in
  files the processes share: ``dramatiq_prom_db``, a fresh folder per start) and starts
  tracing when enabled.
- :func:`serve_metrics`, run as a Dramatiq ``--fork``, serves those job metrics with the
  per-connection gauges (``worker.metrics.ConnectionCollector``) on
  ``CRMSYNC_METRICS_HOST``:``CRMSYNC_WORKER_METRICS_PORT`` (``/metrics``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from typing import Any

from worker import logs
from worker.settings import get_settings

log = logging.getLogger("worker.dramatiq_main")

METRICS_DIR = "dramatiq_prom_db"  # Dramatiq's variable: where its Prometheus files live
FORK = "worker.dramatiq_main:serve_metrics"


def _job_metrics() -> Any:
    # Dramatiq's module reads its folder from the environment when imported.
    from dramatiq.middleware.prometheus import Prometheus

    class JobMetrics(Prometheus):
        """Dramatiq's Prometheus middleware, served by :func:`serve_metrics` instead of its
        own server (which listens on every interface)."""

        @property
        def forks(self) -> list[Any]:
            return []

    return JobMetrics()


def boot() -> None:
    """In each worker process, before the actor modules: the broker and its extras."""
    from worker import tracing
    from worker.jobs.broker import broker
    from worker.jobs.collector import TunedCollector

    settings = get_settings()
    broker.add_middleware(TunedCollector())
    if settings.worker_metrics_port and METRICS_DIR in os.environ:
        broker.add_middleware(_job_metrics())
    tracing.setup(settings, "worker")


def serve_metrics() -> int:
    """The metrics listener (a Dramatiq fork process): runs until Dramatiq stops it."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from worker import metrics
    from worker.database import sessions

    settings = get_settings()
    logs.configure(settings, service=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ[METRICS_DIR])
    registry.register(metrics.ConnectionCollector(sessions))
    host, port = settings.metrics_host, settings.worker_metrics_port
    try:
        server = metrics.serve(host, port, registry)
    except OSError as error:
        log.error("worker metrics cannot listen on %s:%s: %s", host, port, error)
        return 1
    log.info("worker metrics at http://%s:%s/metrics", host, port)
    try:
        threading.Event().wait()  # Dramatiq ends a fork with SystemExit from SIGTERM
    finally:
        server.shutdown()
        server.server_close()
    return 0


def main(argv: list[str]) -> int:
    settings = get_settings()
    logs.configure(settings, service=True)
    metrics_dir = None
    if settings.worker_metrics_port:
        # Set before anything imports prometheus_client, which picks its storage on import.
        metrics_dir = tempfile.mkdtemp(prefix="crmsync-worker-metrics-")
        os.environ[METRICS_DIR] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    try:
        code: int = dramatiq_main(make_argument_parser().parse_args(argv))
        return code
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
