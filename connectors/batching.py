"""Batches for bulk calls: fixed-size chunks, and finding the bad records in a refused batch.

Knows the error taxonomy only, never an SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from connectors.errors import ConnectorError, Permanent

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def split_on_error(
    batch: list[int], send: Callable[[list[int]], None], failed: dict[int, ConnectorError]
) -> None:
    """Send a batch of item indices; when the CRM refuses the whole batch for bad data,
    halve it until the bad items are alone (recorded in ``failed``), so one bad record never
    fails the others. Rate limits, network and auth errors are not about the data: they go
    up to the caller unchanged."""
    try:
        send(batch)
    except Permanent as error:
        if len(batch) == 1:
            failed[batch[0]] = error
            return
        middle = len(batch) // 2
        split_on_error(batch[:middle], send, failed)
        split_on_error(batch[middle:], send, failed)
