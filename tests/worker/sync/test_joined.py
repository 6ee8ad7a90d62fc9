"""A scan's small pages joined into a transaction's worth: records in order, the last
page's cursor and ``done``, and what was read handed out before a scan's error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.base import Page, RemoteRecord
from connectors.errors import BudgetExhausted
from worker.sync.joined import joined

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


def _page(start: int, size: int, *, done: bool = False) -> Page:
    records = [RemoteRecord("company", str(n), {}, MOMENT) for n in range(start, start + size)]
    return Page(records, cursor={"after": str(start + size)}, done=done)


def _scan(sizes: list[int], *, then: Exception | None = None) -> Iterator[Page]:
    start = 0
    for n, size in enumerate(sizes):
        yield _page(start, size, done=then is None and n == len(sizes) - 1)
        start += size
    if then is not None:
        raise then


def _ids(page: Page) -> list[int]:
    return [int(record.external_id) for record in page.records]


def test_pages_are_joined_until_they_hold_enough_records() -> None:
    got = list(joined(_scan([100] * 25), records=1_000))
    assert [len(page.records) for page in got] == [1_000, 1_000, 500]
    assert [page.cursor for page in got] == [
        {"after": "1000"},
        {"after": "2000"},
        {"after": "2500"},
    ]
    assert [page.done for page in got] == [False, False, True]
    assert [n for page in got for n in _ids(page)] == list(range(2_500))


def test_a_page_as_large_as_a_transactions_worth_is_handed_out_as_it_is() -> None:
    pages = list(_scan([2_000, 2_000, 7]))
    got = list(joined(iter(pages), records=1_000))
    assert got == pages and all(a is b for a, b in zip(got, pages, strict=True))


def test_what_was_read_before_a_scan_fails_is_handed_out_then_the_error() -> None:
    got: list[Page] = []
    with pytest.raises(BudgetExhausted):
        for page in joined(
            _scan([100] * 13, then=BudgetExhausted("spent", provider="hubspot", wait_s=60)),
            records=1_000,
        ):
            got.append(page)
    assert [len(page.records) for page in got] == [1_000, 300]
    assert got[-1].cursor == {"after": "1300"} and not got[-1].done


def test_an_empty_scan_hands_out_nothing_and_a_size_below_one_is_refused() -> None:
    assert list(joined(iter([]), records=10)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(joined(_scan([1]), records=0))
