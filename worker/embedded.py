"""The actor modules, and running jobs inside this process when there is no broker.

In the embedded mode (no ``CRMSYNC_BROKER_URL``) jobs are queued in memory; a command that
queues them (a sync that asks for categorization, the demo) runs them on worker threads
here and waits for them before it exits, so nothing queued is lost with the process.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq
from dramatiq.brokers.stub import StubBroker

from worker.jobs.broker import broker
from worker.jobs.queues import LEGACY_QUEUE, QUEUES
from worker.settings import get_settings

log = logging.getLogger(__name__)

ACTOR_MODULES = ("worker.actors",)
DRAIN_TIMEOUT_S = 600.0


# Loggers of the job machinery: a command that runs its jobs here reports each job's outcome
# itself (failures are recorded in ``sync_failures`` and named by the command), so their
# per-attempt lines and tracebacks are kept for CRMSYNC_LOG_LEVEL=DEBUG.
JOB_LOGGERS = {
    "dramatiq": logging.CRITICAL,
    "httpx": logging.WARNING,
    "httpx2": logging.WARNING,
    "worker.sync.passes": logging.WARNING,  # a run's start and end: the command reports them
}


@contextmanager
def quiet_job_logs() -> Iterator[None]:
    """While jobs run inside a command: no worker tracebacks or retry lines on its terminal,
    unless debugging (``CRMSYNC_LOG_LEVEL=DEBUG``)."""
    loggers = {logging.getLogger(name): level for name, level in JOB_LOGGERS.items()}
    before = {logger: logger.level for logger in loggers}
    for logger, level in loggers.items():
        if not logger.isEnabledFor(logging.DEBUG):
            logger.setLevel(level)
    try:
        yield
    finally:
        for logger, level in before.items():
            logger.setLevel(level)


def stop_worker(worker: dramatiq.Worker) -> None:
    """Stop an in-process worker and take its hooks off the broker, so the next command
    (or chunk) in this process starts a clean one."""
    worker.stop()
    broker.middleware[:] = [
        m for m in broker.middleware if getattr(m, "worker", None) is not worker
    ]


def load_actors() -> None:
    for module in ACTOR_MODULES:
        importlib.import_module(module)


def is_embedded() -> bool:
    return isinstance(broker, StubBroker)


@contextmanager
def jobs_run_here() -> Iterator[None]:
    """In the embedded mode, run queued jobs on threads of this process and wait for them
    at the end; with a broker, jobs go to the worker processes and this does nothing."""
    if not isinstance(broker, StubBroker):
        yield
        return
    stub: StubBroker = broker
    load_actors()
    for queue in (*QUEUES, LEGACY_QUEUE):
        broker.declare_queue(queue)
    worker = dramatiq.Worker(
        broker, worker_threads=get_settings().worker_threads, worker_timeout=100
    )
    worker.start()
    try:
        with quiet_job_logs():
            yield
            # Retries wait in the delay queues, and a job may queue another on any queue:
            # drain them all until none has work left. Retries are short here (see
            # worker.jobs.broker), so this ends in seconds.
            while True:
                for queue in list(stub.queues):
                    stub.join(queue, timeout=int(DRAIN_TIMEOUT_S * 1000), fail_fast=False)
                worker.join()
                if all(waiting.empty() for waiting in list(stub.queues.values())):
                    break
    finally:
        stop_worker(worker)
