"""``crmsync runs``: the history of sync runs (what ran, how it ended, how far it got).

Read-only: runs are written by the sync itself.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from customers.errors import NotFound
from customers.sync_state import SyncRun
from worker.cli.common import console, handles_errors, print_json, unit_of_work
from worker.history import run_dict, runs_of

app = typer.Typer(
    help="Sync runs: kind, start and end, outcome, counts, cursors.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("list")
@handles_errors
def list_(
    connection: Annotated[
        int | None, typer.Option("--connection", help="Only this connection id.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: records, incremental, reconcile, push.")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option(help="Only this outcome, e.g. running, ok, failed.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Runs, newest first."""
    with unit_of_work() as (session, tenant_id):
        query = runs_of(tenant_id)
        if connection is not None:
            query = query.where(SyncRun.connection_id == connection)
        if kind:
            query = query.where(SyncRun.kind == kind)
        if outcome:
            query = query.where(SyncRun.outcome == outcome)
        query = query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
        rows = [run_dict(run) for run in session.scalars(query)]
    if as_json:
        print_json({"runs": rows})
        return
    if not rows:
        console.print("no runs match")
        return
    table = Table(title=f"runs ({len(rows)})", title_justify="left")
    for column in ("id", "connection", "kind", "started", "finished", "outcome", "counts"):
        table.add_column(column, overflow="fold")
    for row in rows:
        counts = ", ".join(f"{key} {value}" for key, value in (row["counts"] or {}).items())
        table.add_row(
            str(row["id"]),
            str(row["connection_id"]),
            row["kind"],
            str(row["started_at"])[:19],
            str(row["finished_at"] or "")[:19],
            row["outcome"],
            counts,
        )
    console.print(table)


@app.command()
@handles_errors
def show(run_id: Annotated[int, typer.Argument(help="Run id.")], as_json: JsonFlag = False) -> None:
    """One run, with its counts, error and the cursor before and after."""
    with unit_of_work() as (session, tenant_id):
        run = session.scalar(runs_of(tenant_id).where(SyncRun.id == run_id))
        if run is None:
            raise NotFound("run", run_id)
        data = run_dict(run)
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {escape(str(value))}", markup=True, highlight=False)
