"""The garbage collector of a worker process, set once it has loaded its code.

A sync allocates millions of short-lived objects (rows, dicts, strings of CRM records) and
almost no reference cycles. CPython's defaults suit a small script: a young collection
every 700 new objects, and a full collection, as the heap grows, that walks every object
the process holds, the 150,000-odd of its imported modules included. In the full sync of
``python -m bench`` collections took a tenth of the worker processes' CPU (2.7 of 25 s,
3.5 of 36 s) and collected almost nothing.

So, in a ``crmsync worker`` process, once the actor modules are imported and before the
worker threads start (Dramatiq's ``before_worker_boot``):

- what exists then (modules, their functions and constants) is moved out of the
  collector's sight (``gc.freeze``): it lives as long as the process, and a full
  collection no longer walks it. It also keeps those pages shared after a fork.
- a young collection runs every ``YOUNG_OBJECTS`` new objects instead of 700; older
  generations keep their ratios, so full collections come as many times rarer. A cycle
  of garbage waits a little longer to be freed: at most that many objects more.

Cycles are still collected; nothing is switched off.
"""

from __future__ import annotations

import gc

import dramatiq
from dramatiq.middleware import Middleware

YOUNG_OBJECTS = 10_000


def tune() -> None:
    """Freeze what the process holds now and space young collections out (a higher
    threshold the interpreter already has is kept)."""
    gc.collect()
    gc.freeze()
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_OBJECTS), *older)


class TunedCollector(Middleware):
    """Calls :func:`tune` in a worker process once its actor modules are loaded. Added in
    ``crmsync worker`` processes only (``worker.dramatiq_main.boot``): a command that runs
    jobs in-process, or a test session, keeps the interpreter's defaults."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        tune()
