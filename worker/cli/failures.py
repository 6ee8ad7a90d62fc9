"""``crmsync failures``: list, inspect, replay and dismiss syncs that failed for good.

A replay sends the job the failure row describes (``worker.jobs.enqueue.replay``) and marks the
row ``replayed``; the sync closes it when the record goes through, and a new failure
reopens it. Nothing here calls a CRM. Payloads hold ids, but any key that looks like a
credential is shown as ``***`` anyway: this output ends up in tickets and chat.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from customers.errors import InvalidInput
from worker import failure_triage as triage
from worker.cli.common import console, handles_errors, print_json, unit_of_work
from worker.failures import OPEN, UNRESOLVED
from worker.jobs.payload import JobCall
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

# The CLI's names for what lives in ``worker.failure_triage`` (``conflicts`` parses --since).
parse_since = triage.parse_since
redact = triage.redact
failure_dict = triage.failure_dict


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
        chosen = triage.FailureFilter(
            statuses=triage.statuses(status, UNRESOLVED),
            connection=connection,
            since=since,
            error=error,
        )
        query = triage.filtered(tenant_id, chosen)
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
            str(row["id"]),
            row["status"],
            str(row["connection_id"] or "-"),
            row["direction"],
            f"{row['object_type'] or '-'} {record}".strip(),
            f"{row['error_class']} {row['crm_code'] or ''}".strip(),
            str(row["attempts"]),
            str(row["last_failed_at"])[:19],
            row["message"][:80],
        )
    console.print(table)


@app.command()
@handles_errors
def show(
    failure_id: Annotated[int, typer.Argument(help="Failure id.")], as_json: JsonFlag = False
) -> None:
    """Everything about one failure, with the job a replay would send."""
    with unit_of_work() as (session, tenant_id):
        data = failure_dict(triage.one(session, tenant_id, failure_id), full=True)
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {escape(str(value))}", markup=True, highlight=False)


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
    run_here = not get_settings().has_broker  # the embedded mode: no worker would ever see them
    with unit_of_work() as (session, tenant_id):
        if replay_all:
            chosen = triage.FailureFilter(
                statuses=triage.statuses(status, (OPEN,)),
                connection=connection,
                since=since,
                error=error,
            )
            rows = list(session.scalars(triage.filtered(tenant_id, chosen)))
        else:
            rows = [
                triage.one(session, tenant_id, failure_id)
                for failure_id in dict.fromkeys(failure_ids or [])
            ]
        done = triage.replay(session, rows, run_here=run_here, dry_run=dry_run)
    # After the marks are committed: the jobs write to the same database.
    triage.run_replayed(done.to_run)
    replayed, skipped = done.replayed, done.skipped
    if as_json:
        print_json({"dry_run": dry_run, "replayed": replayed, "skipped": skipped})
        return
    verb = "would replay" if dry_run else "replayed"
    for item in replayed:
        call = JobCall.from_payload(item["job"])
        console.print(f"{verb} {item['id']}: {call.actor}{call.args}", highlight=False)
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
    with unit_of_work() as (session, tenant_id):
        data = failure_dict(triage.dismiss(session, tenant_id, failure_id, reason))
    if as_json:
        print_json(data)
        return
    console.print(f"dismissed {failure_id}: {reason.strip()}", highlight=False)
