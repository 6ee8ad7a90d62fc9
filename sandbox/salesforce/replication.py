"""The replication resources: ``sobjects/{Object}/updated/`` and ``.../deleted/``.

Salesforce ignores the seconds of ``start`` and ``end``, reaches back 30 days for updates
and only 15 days for deletes, caps answers at 600,000 ids, and reports in
``latestDateCovered`` where the next window should start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .errors import ApiError
from .ids import format_datetime, parse_datetime
from .store import OrgStore

UPDATED_REACH = timedelta(days=30)
DELETED_REACH = timedelta(days=15)
MAX_IDS = 600_000


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _window(
    store: OrgStore, start_text: str | None, end_text: str | None, reach: timedelta
) -> tuple[datetime, datetime, datetime]:
    start = parse_datetime(start_text or "")
    end = parse_datetime(end_text or "")
    if start is None or end is None:
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "start and end must be date-times in ISO 8601 format with a time zone "
            "(e.g. 2024-01-01T00:00:00+00:00), URL-encoded",
        )
    start, end = _minute(start), _minute(end)
    now = store.now()
    if start >= end:
        raise ApiError(
            400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate"
        )
    if start < now - reach:
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            f"startDate cannot be more than {reach.days} days ago",
        )
    return start, end, now


def _check_count(count: int) -> None:
    if count > MAX_IDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"The number of ids returned exceeds {MAX_IDS}; use a shorter time span",
        )


def updated(
    store: OrgStore, object_name: str, start_text: str | None, end_text: str | None
) -> dict[str, Any]:
    start, end, now = _window(store, start_text, end_text, UPDATED_REACH)
    ids = [
        record["Id"]
        for record in store.snapshot(object_name)
        if not record["IsDeleted"] and start <= record["SystemModstamp"] < end
    ]
    _check_count(len(ids))
    return {"ids": ids, "latestDateCovered": format_datetime(min(end, _minute(now)))}


def deleted(
    store: OrgStore, object_name: str, start_text: str | None, end_text: str | None
) -> dict[str, Any]:
    start, end, now = _window(store, start_text, end_text, DELETED_REACH)
    store.purge_recycle_bin()
    with store.lock:
        log = list(store.delete_log[object_name].items())
    records = [
        {"id": record_id, "deletedDate": format_datetime(when)}
        for record_id, when in sorted(log, key=lambda item: item[1])
        if start <= when < end
    ]
    _check_count(len(records))
    earliest = max(_minute(store.created_at), _minute(now - DELETED_REACH))
    return {
        "deletedRecords": records,
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(min(end, _minute(now))),
    }
