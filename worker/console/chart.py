"""The activity chart: records synced and failures per hour over the last 7 days, as SVG
built here (no chart library, no JavaScript).

Records synced are the record outcomes of the tenant's sync runs (created, updated,
linked, merged, archived, deleted, and records written to a CRM), counted in the hour each
run finished (or started, while it runs). Failures are failure rows, in the hour they last
failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.sync_state import Connection, SyncFailure, SyncRun
from customers.types import utcnow

HOURS = 7 * 24
SYNCED_OUTCOMES = frozenset(
    {"created", "updated", "linked", "merged", "archived", "deleted", "crm_created", "crm_updated"}
)
WIDTH, HEIGHT, LEFT, TOP, BAR_AREA = 860, 120, 48, 18, 80


@dataclass(frozen=True)
class Activity:
    start: datetime  # the first hour shown
    synced: list[int]
    failures: list[int]


def synced_in(counts: dict[str, object]) -> int:
    total = 0
    for key, value in (counts or {}).items():
        outcome = key.removeprefix("contacts_")
        if outcome in SYNCED_OUTCOMES and isinstance(value, int):
            total += value
    return total


def activity(session: Session, tenant_id: int, *, now: datetime | None = None) -> Activity:
    end = (now or utcnow()).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=HOURS)
    synced, failures = [0] * HOURS, [0] * HOURS

    def slot(moment: datetime) -> int | None:
        index = int((moment - start).total_seconds() // 3600)
        return index if 0 <= index < HOURS else None

    runs = session.execute(
        select(SyncRun.started_at, SyncRun.finished_at, SyncRun.counts).where(
            SyncRun.connection_id.in_(
                select(Connection.id).where(Connection.tenant_id == tenant_id)
            ),
            (SyncRun.finished_at >= start) | (SyncRun.started_at >= start),
        )
    )
    for started, finished, counts in runs:
        index = slot(finished or started)
        if index is not None:
            synced[index] += synced_in(counts)
    failed = session.scalars(
        select(SyncFailure.last_failed_at).where(
            SyncFailure.tenant_id == tenant_id, SyncFailure.last_failed_at >= start
        )
    )
    for moment in failed:
        index = slot(moment)
        if index is not None:
            failures[index] += 1
    return Activity(start, synced, failures)


def _bars(values: Iterable[int], top: float, colour: str, label: str, start: datetime) -> str:
    values = list(values)
    peak = max(values) or 1
    step = (WIDTH - LEFT - 8) / HOURS
    parts = []
    for index, value in enumerate(values):
        if not value:
            continue
        height = max(BAR_AREA * value / peak, 1.5)
        hour = start + timedelta(hours=index)
        parts.append(
            f'<rect x="{LEFT + index * step:.1f}" y="{top + BAR_AREA - height:.1f}" '
            f'width="{max(step - 1, 1):.1f}" height="{height:.1f}" fill="{colour}">'
            f"<title>{hour:%a %d %b %H}:00 UTC: {value} {escape(label)}</title></rect>"
        )
    axis = (
        f'<line x1="{LEFT}" y1="{top + BAR_AREA}" x2="{WIDTH - 8}" y2="{top + BAR_AREA}" '
        f'stroke="#888" stroke-width="1"/>'
        f'<text x="{LEFT - 6}" y="{top + 8}" text-anchor="end">{peak if max(values) else 0}</text>'
        f'<text x="{LEFT - 6}" y="{top + BAR_AREA}" text-anchor="end">0</text>'
        f'<text x="{LEFT}" y="{top - 4}" font-weight="bold">{escape(label)} per hour '
        f"({sum(values)} in 7 days)</text>"
    )
    return axis + "".join(parts)


def svg(data: Activity) -> str:
    """Two bar rows (records synced, failures) over 168 hours, with day marks."""
    height = 2 * (BAR_AREA + TOP + 12) + 20
    step = (WIDTH - LEFT - 8) / HOURS
    days = []
    for index in range(HOURS):
        hour = data.start + timedelta(hours=index)
        if hour.hour == 0:
            x = LEFT + index * step
            days.append(
                f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - 18}" stroke="#ddd"/>'
            )
            if index < HOURS - 14:  # a label nearer the end would run off the chart
                days.append(f'<text x="{x + 2:.1f}" y="{height - 4}">{hour:%a %d %b}</text>')
    second_top = TOP + BAR_AREA + TOP + 12
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" font-family="sans-serif" font-size="11" '
        f'aria-label="Records synced and failures per hour, last 7 days (UTC)">'
        + "".join(days)
        + _bars(data.synced, TOP, "#2f6fb3", "records synced", data.start)
        + _bars(data.failures, second_top, "#c0392b", "failures", data.start)
        + "</svg>"
    )
