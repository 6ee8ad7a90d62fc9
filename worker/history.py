"""Reading sync history as the operator sees it: runs and conflicts, one tenant's only,
as plain dicts. ``crmsync runs``, ``crmsync conflicts`` and the console show these.

A run or a conflict belongs to the tenant of its connection: another tenant's rows are
never selected, and their ids read as missing. Read-only: the sync writes these rows.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from customers.sync_state import Connection, SyncConflict, SyncRun

RULE = re.compile(r"(?P<rule>.+) \((?P<winner>\w+) won\)")


def _tenant_connections(tenant_id: int) -> Select[int]:
    return select(Connection.id).where(Connection.tenant_id == tenant_id)


def runs_of(tenant_id: int) -> Select[SyncRun]:
    return select(SyncRun).where(SyncRun.connection_id.in_(_tenant_connections(tenant_id)))


def conflicts_of(tenant_id: int) -> Select[SyncConflict]:
    return select(SyncConflict).where(
        SyncConflict.connection_id.in_(_tenant_connections(tenant_id))
    )


def run_dict(run: SyncRun) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column in SyncRun.__table__.columns:
        value = getattr(run, column.key)
        data[column.key] = value.isoformat() if isinstance(value, datetime) else value
    finished = run.finished_at
    data["duration_s"] = round((finished - run.started_at).total_seconds(), 3) if finished else None
    return data


def conflict_dict(conflict: SyncConflict) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column in SyncConflict.__table__.columns:
        value = getattr(conflict, column.key)
        data[column.key] = value.isoformat() if isinstance(value, datetime) else value
    data["local_type"] = "contact" if conflict.object_type == "contact" else "customer"
    # Stored as "<rule> (<side> won)": split, so scripts need not parse it.
    matched = RULE.fullmatch(conflict.rule)
    data["decision"] = {
        "rule": matched["rule"] if matched else conflict.rule,
        "winner": matched["winner"] if matched else None,
        "value": conflict.resolved_value,
    }
    return data
