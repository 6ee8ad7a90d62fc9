"""A clock moved by hand, for sandboxes that take one (``clock=``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Starts at ``start`` (default: now) and moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
