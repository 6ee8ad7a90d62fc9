"""A worker's shutdown (SIGTERM): nothing it holds is lost, and it starts nothing new.

Dramatiq stops a worker by letting its running jobs finish, then putting back the
messages it had fetched but not started. On top of that:

- A job declared with ``notify_shutdown=True`` (the long passes) gets Dramatiq's
  ``Shutdown`` exception at once. The job decorator (``worker.jobs.actor``) catches it
  and calls :func:`requeue_current`: the message goes back on its queue as it was,
  retries unspent and no failure row, and this run of it is acknowledged. The pass saved its progress as
  it went (an incremental pass commits its cursor with each page), so the next worker
  resumes rather than restarts.
- :class:`RequeueOnShutdown` puts back, untouched, any message a stopping worker's thread
  would still start (such as the one just requeued, which an idle thread of the same
  worker could otherwise take).
- Dramatiq's ``Shutdown`` is an asynchronous exception: Python raises it wherever the
  thread runs Python code next, and when that is a finalizer or a weakref callback it
  prints "Exception ignored in ..." and drops it, so the pass would run to its end. The
  passes therefore also call :func:`raise_if_stopping` before each page they write: a
  stop is certain at the next page even when the notice was lost.

This module must not import actor code: the broker loads it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage, Middleware, Shutdown, SkipMessage

log = logging.getLogger(__name__)


# Thread idents of the worker threads whose worker is stopping. Per worker, not per broker:
# several workers may share one broker in a process (a command that runs jobs here beside
# the embedded worker), and one stopping must not stop the others' jobs.
_stopping: set[int] = set()
_lock = threading.Lock()


def stopping() -> bool:
    """This thread is a worker thread whose worker is stopping."""
    return threading.get_ident() in _stopping


def raise_if_stopping() -> None:
    """Raise ``Shutdown`` when this thread's worker is stopping (see the module's notes);
    a no-op anywhere else, such as a command running a pass itself."""
    if stopping():
        raise Shutdown("worker shutdown")


class RequeueOnShutdown(Middleware):
    """Once its worker is stopping, a message is put back instead of being started, and
    the threads it runs on are marked for :func:`raise_if_stopping`."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        with _lock:
            _stopping.update(thread.ident for thread in worker.workers if thread.ident)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        with _lock:  # its threads are gone; their idents may be reused
            _stopping.difference_update(thread.ident for thread in worker.workers)

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if stopping():
            _requeue(broker, message, "not started: the worker is stopping")
            raise SkipMessage("the worker is stopping; the message was put back")


def caused_by_shutdown(error: BaseException) -> bool:
    """Whether ``error`` was raised while Dramatiq's ``Shutdown`` was being handled. The
    notice lands wherever the thread is, a database call included; psycopg cleans up
    after ^C only, so the connection is left mid-query, and the rollback that follows
    fails in the notice's place. Such an error is the shutdown, not a failure."""
    seen: BaseException | None = error
    for _ in range(32):  # chains are short; this bounds a cycle
        if seen is None:
            return False
        if isinstance(seen, Shutdown):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def requeue_current() -> None:
    """Put the message this thread is running back on its queue, as it was; it is then
    acknowledged as done. Raising instead would make Dramatiq's retries count a deploy as
    a failure, and a job stopped by enough deploys would become a failure row."""
    message = CurrentMessage.get_current_message()
    if message is None:  # called directly, not by a worker: nothing to put back
        raise Shutdown("worker shutdown")
    _requeue(dramatiq.get_broker(), message, "interrupted by the worker's shutdown")


def _requeue(broker: dramatiq.Broker, message: Any, why: str) -> None:
    broker.enqueue(message.copy())
    log.info(
        "%s%r %s; put back on %s",
        message.actor_name,
        tuple(message.args),
        why,
        message.queue_name,
    )
