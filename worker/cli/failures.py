"""``crmsync failures``: list, inspect, replay and dismiss syncs that failed for good.

A replay sends the job the failure row describes (``worker.enqueue.replay``) and marks the
row ``replayed``; the sync closes it when the record goes through, and a new failure
reopens it. Nothing here calls a CRM. Payloads hold ids, but any key that looks like a
credential is shown as ``***`` anyway: this output ends up in tickets and chat.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from customers.errors import InvalidInput, NotFound
from customers.sync_state import SyncFailure
from customers.types import utcnow
from worker import enqueue
from worker.cli.common import console, fail, handles_errors, print_json, unit_of_work
from worker.failures import DISMISSED, OPEN, REPLAYED, RESOLVED, UNRESOLVED
from worker.settings import get_settings

app = typer.Typer(
    help="Inspect, replay and dismiss syncs that failed for good.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ConnectionOption = Annotated[
    int | None, typer.Option("--connection", help="Only this connection id.")
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        help="Only failures since: a duration (30m, 12h, 7d) or a date/time (2025-01-31)."
    ),
]
ErrorOption = Annotated[
    str | None,
    typer.Option(
        "--error", help="Only this error class (permanent, transient, auth, ...) or CRM code."
    ),
]

STATUSES = (OPEN, REPLAYED, RESOLVED, DISMISSED)
SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|credential", re.I)
REDACTED = "***"
DURATION = re.compile(r"(\d+)\s*([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """``30m`` / ``12h`` / ``7d`` ago, or an ISO date or date-time (UTC unless it says)."""
    text = value.strip().lower()
    match = DURATION.fullmatch(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or utcnow()) - timedelta(**{UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput.single(
            "--since", f"{value!r} is not a duration (12h, 7d) or a date"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def redact(value: Any) -> Any:
    """The value with every credential-like key's value replaced by ``***``."""
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and SECRET_KEY.search(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def failure_dict(row: SyncFailure, *, full: bool = False) -> dict[str, Any]:
    data = {
        column.key: _plain(getattr(row, column.key)) for column in SyncFailure.__table__.columns
    }
    data["payload"] = redact(row.payload)
    if not full:
        data.pop("payload")
        data["message"] = (row.message or "")[:200]
    return data


def _scoped(tenant_id: int) -> Select[SyncFailure]:
    """This tenant's failures only: of its connections, and of its customers' categorization.
    Another tenant's id is answered as an id that does not exist."""
    return select(SyncFailure).where(SyncFailure.tenant_id == tenant_id)


def _statuses(status: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if status is None:
        return default
    if status == "all":
        return STATUSES
    if status == "unresolved":
        return UNRESOLVED
    chosen = tuple(part.strip() for part in status.split(","))
    unknown = [part for part in chosen if part not in STATUSES]
    if unknown:
        raise InvalidInput.single(
            "--status", f"{', '.join(unknown)}: use {', '.join(STATUSES)}, unresolved or all"
        )
    return chosen


def _filtered(
    tenant_id: int,
    *,
    connection: int | None,
    since: str | None,
    error: str | None,
    statuses: tuple[str, ...],
) -> Select[SyncFailure]:
    query = _scoped(tenant_id).where(SyncFailure.status.in_(statuses))
    if connection is not None:
        query = query.where(SyncFailure.connection_id == connection)
    if since:
        query = query.where(SyncFailure.last_failed_at >= parse_since(since))
    if error:
        query = query.where(or_(SyncFailure.error_class == error, SyncFailure.crm_code == error))
    return query.order_by(SyncFailure.last_failed_at.desc(), SyncFailure.id.desc())


def _one(session: Session, tenant_id: int, failure_id: int) -> SyncFailure:
    row = session.scalar(_scoped(tenant_id).where(SyncFailure.id == failure_id))
    if row is None:
        raise NotFound("failure", failure_id)
    return row


@app.command("list")
@handles_errors
def list_(
    connection: ConnectionOption = None,
    since: SinceOption = None,
    error: ErrorOption = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="open, replayed, resolved, dismissed (comma-separated), unresolved or all. Default: unresolved."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Failures, newest first (unresolved ones unless --status says otherwise)."""
    with unit_of_work() as (session, tenant_id):
        query = _filtered(tenant_id, connection=connection, since=since, error=error,
                          statuses=_statuses(status, UNRESOLVED))  # fmt: skip
        rows = [failure_dict(row) for row in session.scalars(query.limit(limit))]
    if as_json:
        print_json({"failures": rows})
        return
    if not rows:
        console.print("no failures match")
        return
    table = Table(title=f"failures ({len(rows)})", title_justify="left")
    for column in (
        "id",
        "status",
        "connection",
        "direction",
        "object",
        "error",
        "attempts",
        "last failed",
        "message",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        record = row["external_id"] or row["local_id"] or ""
        table.add_row(
            str(row["id"]), row["status"], str(row["connection_id"] or "-"), row["direction"],
            f"{row['object_type'] or '-'} {record}".strip(), f"{row['error_class']} {row['crm_code'] or ''}".strip(),
            str(row["attempts"]), str(row["last_failed_at"])[:19], row["message"][:80],
        )  # fmt: skip
    console.print(table)


@app.command()
@handles_errors
def show(
    failure_id: Annotated[int, typer.Argument(help="Failure id.")], as_json: JsonFlag = False
) -> None:
    """Everything about one failure, with the job a replay would send."""
    with unit_of_work() as (session, tenant_id):
        data = failure_dict(_one(session, tenant_id, failure_id), full=True)
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)


def _replayable(row: SyncFailure) -> str | None:
    """Why the row cannot be replayed, or None."""
    if row.status == RESOLVED:
        return "already resolved"
    payload = row.payload or {}
    if payload.get("actor") not in enqueue.JOB_NAMES or not isinstance(
        payload.get("args", []), list
    ):
        return "its payload names no crmsync job"
    return None


@app.command()
@handles_errors
def replay(
    failure_ids: Annotated[
        list[int] | None, typer.Argument(help="Failure ids.", show_default=False)
    ] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Every failure the filters select.")
    ] = False,
    connection: ConnectionOption = None,
    since: SinceOption = None,
    error: ErrorOption = None,
    status: Annotated[
        str | None, typer.Option(help="With --all: which statuses (default: open).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send failed jobs again and mark them replayed."""
    if bool(failure_ids) == replay_all:
        raise InvalidInput.single("ids", "give failure ids or --all, not both and not neither")
    replayed, skipped = [], []
    run_here = not get_settings().has_broker  # the embedded mode: no worker would ever see them
    to_run: list[dict[str, Any]] = []
    with unit_of_work() as (session, tenant_id):
        if replay_all:
            query = _filtered(tenant_id, connection=connection, since=since, error=error,
                              statuses=_statuses(status, (OPEN,)))  # fmt: skip
            rows = list(session.scalars(query))
        else:
            rows = [
                _one(session, tenant_id, failure_id)
                for failure_id in dict.fromkeys(failure_ids or [])
            ]
        for row in rows:
            reason = _replayable(row)
            if reason:
                skipped.append({"id": row.id, "reason": reason})
                continue
            job = enqueue.job_payload(
                row.payload["actor"], *row.payload.get("args", []), **row.payload.get("kwargs", {})
            )
            if not dry_run:
                # Marked first: if sending fails, the unit of work rolls the mark back.
                row.status = REPLAYED
                row.resolution = f"replayed {utcnow().isoformat(timespec='seconds')}"
                session.flush()
                if run_here:
                    to_run.append(job)
                else:
                    try:
                        enqueue.replay(job)
                    except Exception as error:  # the broker is down or refused the message
                        fail(
                            f"could not send failure {row.id}'s job ({type(error).__name__}); "
                            "no failure was marked replayed"
                        )
            replayed.append({"id": row.id, "job": redact(job)})
    if to_run:
        # After the marks are committed: the jobs write to the same database.
        from worker.embedded import jobs_run_here

        with jobs_run_here():
            for job in to_run:
                enqueue.replay(job)
    if as_json:
        print_json({"dry_run": dry_run, "replayed": replayed, "skipped": skipped})
        return
    verb = "would replay" if dry_run else "replayed"
    for item in replayed:
        job = item["job"]
        console.print(f"{verb} {item['id']}: {job['actor']}{tuple(job['args'])}", highlight=False)
    for item in skipped:
        console.print(f"skipped {item['id']}: {item['reason']}", style="yellow", highlight=False)
    if not replayed and not skipped:
        console.print("no failures match")


@app.command()
@handles_errors
def dismiss(
    failure_id: Annotated[int, typer.Argument(help="Failure id.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it is fine to leave it (kept on the row).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Decide to leave a failure alone; it stays on record with the reason."""
    if not reason.strip():
        raise InvalidInput.single("--reason", "say why the failure is dismissed")
    with unit_of_work() as (session, tenant_id):
        row = _one(session, tenant_id, failure_id)
        if row.status == RESOLVED:
            raise InvalidInput.single("id", f"failure {failure_id} is already resolved")
        row.status, row.resolution = DISMISSED, reason.strip()
        data = failure_dict(row)
    if as_json:
        print_json(data)
        return
    console.print(f"dismissed {failure_id}: {reason.strip()}", highlight=False)
