"""``crmsync customers template | import``: customers from a spreadsheet.

``template`` writes the CSV header with every importable column and one example row. A
file is written as UTF-8 with a byte-order mark, because that is what makes Excel open
"Köln" as "Köln" rather than "KÃ¶ln"; on standard output there is no mark. ``import``
accepts UTF-8 with or without the mark (``--encoding`` for anything else). The rules of an
import are in ``customers.importer``.

Exit codes of ``import``: 0 every row was imported or skipped as a duplicate; 1 some rows
had errors (the good rows were still imported); 2 the file could not be read (nothing was
written).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from customers.importer import (
    CUSTOM_PREFIX,
    REQUIRED_COLUMNS,
    TEMPLATE_COLUMNS,
    TEMPLATE_EXAMPLE,
    FileProblem,
    ImportReport,
    import_csv,
    write_template,
)
from worker.cli.common import (
    JsonFlag,
    UnknownTenant,
    console,
    current_tenant,
    errors,
    fail,
    print_json,
    require_schema,
)
from worker.cli.customers.options import app
from worker.database import sessions

SHOWN = 50  # rows of errors and skips printed; --json lists them all
PROGRESS_FROM_ROWS = 2_000  # smaller files finish before a bar is worth drawing


@app.command("template")
def template(
    file: Annotated[
        Path | None, typer.Argument(help="Where to write it (default: standard output).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the CSV import template: every importable column and one example row. With
    --json, the columns and the example as JSON (and the CSV still to FILE, if given)."""
    if file is not None:
        with file.open("w", encoding="utf-8-sig", newline="") as stream:
            write_template(stream)
    if as_json:
        print_json(
            {
                "columns": list(TEMPLATE_COLUMNS),
                "required": list(REQUIRED_COLUMNS),
                "custom_prefix": CUSTOM_PREFIX,
                "example": TEMPLATE_EXAMPLE,
                "file": str(file) if file is not None else None,
            }
        )
    elif file is None:
        write_template(sys.stdout)
    else:
        console.print(f"wrote the import template to {file}", highlight=False)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV file (see `customers template`).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row, write nothing.")
    ] = False,
    encoding: Annotated[
        str, typer.Option(help="Text encoding of the file, e.g. cp1252 for older Excel.")
    ] = "utf-8",
    allow_duplicate: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate",
            help="Import rows that are surely the same business as a customer or an earlier "
            "row (same tax id or company domain) instead of skipping them.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import customers and their primary contacts from a CSV file.

    Rows whose email is already in the directory (or earlier in the file) are skipped, never
    overwritten; so are sure duplicates (same tax id or company domain) unless
    --allow-duplicate is given; likely ones (similar names) are imported with a warning. A
    bad row is reported and the others are still imported."""
    require_schema()
    try:
        raw = file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}", code=2)
    try:
        with sessions()() as session, session.begin():
            tenant = current_tenant(session).slug  # a --tenant that does not exist is refused
    except UnknownTenant as error:
        fail(str(error))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    big = raw.count(b"\n") >= PROGRESS_FROM_ROWS
    with Progress(*columns, console=errors, transient=True, disable=not big) as progress:
        task = progress.add_task("reading", total=None)

        def show(phase: str, done: int, total: int) -> None:
            progress.update(task, description=phase, completed=done, total=total)

        try:
            report = import_csv(
                sessions(),
                tenant,
                raw,
                encoding=encoding,
                dry_run=dry_run,
                allow_duplicates=allow_duplicate,
                progress=show,
            )
        except FileProblem as error:
            progress.stop()
            fail(f"{file}: {error}; nothing was written", code=2)
    for warning in report.warnings[:SHOWN]:  # on standard error, --json or not
        errors.print(
            f"[yellow]warning:[/] row {warning.row}: {escape(warning.reason)}",
            markup=True,
            highlight=False,
        )
    if as_json:
        print_json(_as_dict(report))
    else:
        _print_report(report)
    if report.errors:
        raise typer.Exit(1)


def _as_dict(report: ImportReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "rows": report.rows,
        "created": report.created,
        "skipped": [vars(skip) for skip in report.skipped],
        "errors": [vars(error) for error in report.errors],
        "warnings": [vars(warning) for warning in report.warnings],
        "failed_rows": report.failed_rows,
    }


def _print_report(report: ImportReport) -> None:
    verb = "would create" if report.dry_run else "created"
    console.print(
        f"{report.rows} row(s): {verb} {report.created}, skipped {len(report.skipped)} "
        f"(already in the directory or the file), {report.failed_rows} with errors",
        highlight=False,
    )
    if report.errors:
        table = Table("row", "column", "reason", title="errors", title_justify="left")
        for error in report.errors[:SHOWN]:
            table.add_row(str(error.row), error.column, error.reason)
        console.print(table)
    if report.skipped:
        table = Table("row", "email", "skipped because", title="skipped", title_justify="left")
        for skip in report.skipped[:SHOWN]:
            table.add_row(str(skip.row), skip.email, skip.reason)
        console.print(table)
    hidden = sum(
        max(len(found) - SHOWN, 0) for found in (report.errors, report.skipped, report.warnings)
    )
    if hidden:
        console.print(f"... and {hidden} more; --json lists them all", style="dim")
    broken = {e.row for e in report.errors if e.reason.startswith("is not valid utf-8 text")}
    if broken:
        console.print(
            f"{len(broken)} row(s) are not UTF-8: a file saved by Excel as plain 'CSV' (not "
            "'CSV UTF-8') imports with --encoding cp1252",
            style="yellow",
        )
    if report.dry_run:
        console.print("dry run: nothing was written", style="dim")
    elif report.created:
        console.print(
            "categorize the new customers with `crmsync customers auto-categorize`", style="dim"
        )
