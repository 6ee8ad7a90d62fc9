"""``crmsync prune``: delete sync history older than the retention settings, now.

The scheduler runs the same prune daily (the ``prune`` job). It acts on every tenant, by
age alone (``worker.retention`` says what it never takes), so ``--tenant`` does not apply.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from worker import retention
from worker.cli.common import JsonFlag, console, print_json, require_schema
from worker.database import sessions
from worker.settings import get_settings


def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete webhook events, pushed outbox rows, finished runs and closed failures older
    than the CRMSYNC_RETENTION_* settings, for every tenant, in short batches."""
    require_schema()
    settings = get_settings()
    report = retention.prune(
        sessions(),
        retention.Retention.from_settings(settings),
        batch_rows=settings.prune_batch_rows,
        dry_run=dry_run,
    )
    if as_json:
        print_json(report.as_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    table = Table(title=f"prune ({verb} {report.rows:,} rows)", title_justify="left")
    for column in ("table", "older than", verb, "transactions", "longest ms"):
        table.add_column(column, justify="left" if column in ("table", "older than") else "right")
    for name, result in report.tables.items():
        older_than = result.older_than.isoformat(timespec="seconds") if result.older_than else None
        table.add_row(
            name,
            older_than or "kept forever",
            f"{result.rows:,}",
            str(result.transactions),
            f"{result.longest_transaction_ms:.0f}",
        )
    console.print(table)
