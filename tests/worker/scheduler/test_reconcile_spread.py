"""The nightly reconciles of many connections are spread over a window, each connection at
its own fixed offset, so they do not all start (and hit the CRMs and the database) together."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.worker.scheduler.test_scheduler import add_connections, scheduler_settings
from worker.scheduler import LocalCoordination, Scheduler, spread_offset_s

CONNECTIONS = 40


def reconcile_times(sessions: sessionmaker[Session], **settings: Any) -> dict[int, datetime]:
    """Connection id -> next reconcile, as a real scheduler plans it."""
    scheduler = Scheduler(scheduler_settings(**settings), sessions=lambda: sessions,
                          coordination=LocalCoordination(), send=lambda *_: None)  # fmt: skip
    scheduler.start()
    try:
        scheduler.refresh()
        planned = scheduler.planned()
    finally:
        scheduler.stop()
    times = {}
    for job_id, when in planned.items():
        if job_id.startswith("reconcile:"):
            assert when is not None
            times[int(job_id.split(":")[1])] = when.astimezone(UTC)
    return times


def seconds_after(when: datetime, at: str) -> int:
    hour, minute = (int(part) for part in at.split(":"))
    return (when.hour * 3600 + when.minute * 60 + when.second - hour * 3600 - minute * 60) % 86_400


def test_reconciles_start_at_fixed_offsets_spread_over_the_window(
    sessions: sessionmaker[Session],
) -> None:
    ids = add_connections(sessions, *({} for _ in range(CONNECTIONS)))
    spread = {"scheduler_reconcile_at": "02:30", "scheduler_reconcile_spread_s": 3600}
    times = reconcile_times(sessions, **spread)
    assert set(times) == set(ids)
    offsets = {connection: seconds_after(when, "02:30") for connection, when in times.items()}
    assert offsets == {connection: spread_offset_s(connection, 3600) for connection in ids}
    assert all(0 <= offset < 3600 for offset in offsets.values())
    # Spread out: hardly two start in the same second, and each quarter of the hour gets
    # some (at once, all forty would share 02:30:00).
    assert len(set(offsets.values())) >= CONNECTIONS - 2
    assert min(Counter(offset // 900 for offset in offsets.values()).values()) >= 4
    # Another scheduler (a standby taking over, a restart) plans the very same times.
    assert reconcile_times(sessions, **spread) == times


def test_the_window_wraps_past_midnight_and_zero_means_all_together(
    sessions: sessionmaker[Session],
) -> None:
    ids = add_connections(sessions, *({} for _ in range(CONNECTIONS)))
    late = reconcile_times(
        sessions, scheduler_reconcile_at="23:50", scheduler_reconcile_spread_s=3600
    )
    assert {seconds_after(when, "23:50") for when in late.values()} == {
        spread_offset_s(connection, 3600) for connection in ids
    }
    assert {when.hour for when in late.values()} == {23, 0}
    together = reconcile_times(sessions, scheduler_reconcile_spread_s=0)
    assert {(when.hour, when.minute, when.second) for when in together.values()} == {(2, 30, 0)}


def test_offsets_of_many_connections_fill_the_window_evenly() -> None:
    offsets = [spread_offset_s(connection, 3600) for connection in range(1, 10_001)]
    assert len({spread_offset_s(7, 3600) for _ in range(3)}) == 1
    per_quarter = Counter(offset * 4 // 3600 for offset in offsets)
    assert sorted(per_quarter) == [0, 1, 2, 3]
    assert all(2300 < count < 2700 for count in per_quarter.values()), per_quarter
    assert spread_offset_s(7, 0) == 0 and spread_offset_s(7, 0.5) == 0
