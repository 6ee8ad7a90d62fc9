"""Reading ahead: items in order, errors in their place, a background thread that stops
and is joined with its caller's block, and reads that really overlap the caller's work."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
import structlog

from connectors.errors import BudgetExhausted
from worker import logs
from worker.sync.prefetch import THREAD_NAME, read_ahead

WAIT_S = 10.0  # a bound for a handshake that fails the test, not a pace


def readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


class Source:
    """Numbers 0, 1, 2, ... without end, counting what was pulled; closing runs its
    ``finally`` as a scan's would."""

    def __init__(self) -> None:
        self.pulled: list[int] = []
        self.closed = threading.Event()
        self.pulled_enough = threading.Event()
        self.enough = 0

    def items(self) -> Iterator[int]:
        try:
            for number in itertools.count():
                self.pulled.append(number)
                if len(self.pulled) >= self.enough:
                    self.pulled_enough.set()
                yield number
        finally:
            self.closed.set()


@pytest.mark.parametrize("depth", [1, 3])
def test_items_come_out_in_order_and_the_thread_ends_with_them(depth: int) -> None:
    with read_ahead(iter(range(250)), depth=depth) as items:
        assert list(items) == list(range(250))
    assert readers() == []


def test_an_error_comes_out_after_the_items_read_before_it() -> None:
    exhausted = BudgetExhausted(
        "daily allowance spent", provider="hubspot", wait_s=60.0, policy="DAILY"
    )

    def pages() -> Iterator[str]:
        yield "page 1"
        yield "page 2"
        raise exhausted

    handed: list[str] = []
    with pytest.raises(BudgetExhausted) as caught, read_ahead(pages()) as items:
        for page in items:
            handed.append(page)
    assert handed == ["page 1", "page 2"]
    assert caught.value is exhausted
    assert readers() == []


@pytest.mark.parametrize("depth", [1, 2])
def test_a_caller_that_stops_early_stops_the_reads_and_closes_the_source(depth: int) -> None:
    source = Source()
    source.enough = 1 + depth  # the item handed out and those read ahead of it
    with read_ahead(source.items(), depth=depth) as items:
        assert next(items) == 0
        assert source.pulled_enough.wait(WAIT_S)
    assert readers() == []
    assert source.closed.is_set()
    assert source.pulled == list(range(1 + depth))  # no read beyond ``depth`` ahead


def test_an_error_in_the_callers_block_stops_the_reads() -> None:
    source = Source()
    with pytest.raises(ValueError, match="apply failed"), read_ahead(source.items()) as items:
        for number in items:
            if number == 3:
                raise ValueError("apply failed")
    assert readers() == []
    assert source.closed.is_set()
    assert len(source.pulled) <= 5  # four handed out, one read ahead at most


def test_the_reads_run_in_the_callers_context_in_a_named_thread() -> None:
    def pages() -> Iterator[tuple[dict[str, object], str]]:
        yield structlog.contextvars.get_contextvars(), threading.current_thread().name

    with logs.bound(connection_id=7, run_id=11), read_ahead(pages()) as items:
        [(bound, thread)] = list(items)
    assert bound == {"connection_id": 7, "run_id": 11}
    assert thread == THREAD_NAME


def test_the_next_page_is_read_while_the_current_one_is_applied() -> None:
    applying_first = threading.Event()
    second_read = threading.Event()

    def pages() -> Iterator[int]:
        yield 1
        # Read page 2 only once page 1 is being applied: if reads waited for the caller,
        # this would never be reached while the caller waits below.
        assert applying_first.wait(WAIT_S)
        second_read.set()
        yield 2

    applied: list[int] = []
    with read_ahead(pages()) as items:
        for page in items:
            if page == 1:
                applying_first.set()
                assert second_read.wait(WAIT_S), "page 2 was not read during page 1's apply"
            applied.append(page)
    assert applied == [1, 2]


def test_a_depth_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="depth"), read_ahead(iter(()), depth=0):
        pass
