"""Reading a scan's next page while the current one is applied.

A pass alternates two waits: reading a page from the CRM (100-500 ms against a real one)
and applying it in a transaction (CPU and the database). :func:`read_ahead` reads the pages
of an iterator in one background thread, at most ``depth`` pages ahead of the one the
caller holds, so the two overlap while memory stays bounded::

    with read_ahead(connector.scan(kind, cursor=cursor)) as pages:
        for page in pages:
            apply(page)

What it promises:

- pages come out in order; an exception the iterator raises (``BudgetExhausted``, a
  connector error, anything) comes out where the page it replaced would have, after every
  earlier page was handed out;
- once the caller leaves the ``with`` block (at the end, on an error of its own, at a
  worker's shutdown), the thread starts no further read: it finishes the read under way
  (an HTTP call is not abandoned halfway), closes the iterator and is joined before the
  block is left;
- the thread runs in a copy of the caller's context (contextvars), so the lines the
  connector logs carry the ids bound around the pass (``worker.logs.bound``) and its calls
  stay in the job's trace.

What the caller must not do: call the connector the iterator reads from inside the block.
A connector (its HTTP session, its call counter, a plain dict) serves one thread at a
time. The passes keep it so (``worker.sync.passes``): applying a page never calls the CRM,
and the writes to it (``worker.sync.outbound.Pusher``) start after the scan's block ends.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

log = logging.getLogger(__name__)

# One page ahead is enough for the two halves to overlap; more would only hold pages in
# memory, since the slower half sets the pace either way.
DEPTH = 1
THREAD_NAME = "crmsync-prefetch"  # what a py-spy dump shows

T = TypeVar("T")


class _End:
    """The iterator is exhausted."""


@dataclass(frozen=True, slots=True)
class _Raised:
    """The iterator raised ``error`` in place of its next item."""

    error: BaseException


@contextmanager
def read_ahead(items: Iterable[T], *, depth: int = DEPTH) -> Iterator[Iterator[T]]:
    """The items of ``items``, read in a background thread at most ``depth`` ahead of the
    one handed out; see the module's notes for what the caller may do meanwhile."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    reader = _Reader(iter(items), depth)
    reader.start()
    try:
        yield reader.handed_out()
    finally:
        reader.stop()


class _Reader(Generic[T]):
    def __init__(self, source: Iterator[T], depth: int) -> None:
        self._source = source
        self._ready: queue.Queue[T | _End | _Raised] = queue.Queue(maxsize=depth)
        # A read starts only once there is room for what it returns: the thread is never
        # more than ``depth`` items ahead, the one it is reading included, and its puts
        # never block.
        self._room = threading.Semaphore(depth)
        self._stop = threading.Event()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._read,), name=THREAD_NAME, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                self._room.acquire()
                if self._stop.is_set():
                    return
                try:
                    item = next(self._source)
                except StopIteration:
                    self._ready.put(_End())
                    return
                except BaseException as error:
                    self._ready.put(_Raised(error))
                    return
                self._ready.put(item)
        finally:
            self._close_source()

    def _close_source(self) -> None:
        close = getattr(self._source, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception:
            # Nobody waits on this thread for an error; what the caller came for is done.
            log.exception("closing a scan read ahead failed")

    def handed_out(self) -> Iterator[T]:
        while not self._stop.is_set():
            item = self._ready.get()
            self._room.release()
            if isinstance(item, _End):
                return
            if isinstance(item, _Raised):
                raise item.error
            yield cast(T, item)

    def stop(self) -> None:
        """Start no further read, and wait for the thread to end."""
        self._stop.set()
        self._room.release()  # a thread waiting for room wakes, sees the stop and ends
        self._thread.join()
