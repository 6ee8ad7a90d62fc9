"""``crmsync bench``: every benchmark on this machine (the harness in ``bench/``).

The harness ships with the source checkout, not with production images; it is imported
only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worker.cli.common import console, fail

SECTIONS = "full, incremental, outbound, webhooks, memory, embedded, prune"


def bench(
    records: Annotated[
        int | None,
        typer.Option(min=1, help="Companies, contacts and accounts alike (default 10,000)."),
    ] = None,
    companies: Annotated[int | None, typer.Option(min=1, help="HubSpot companies.")] = None,
    contacts: Annotated[int | None, typer.Option(min=0, help="HubSpot contacts.")] = None,
    accounts: Annotated[int | None, typer.Option(min=1, help="Salesforce accounts.")] = None,
    large: Annotated[
        bool,
        typer.Option(
            "--large",
            help="100,000 companies + 100,000 contacts (HubSpot), 100,000 accounts (Salesforce).",
        ),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(help=f"Run these sections only (repeat or comma-separate): {SECTIONS}."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="crmsync worker processes.")] = 2,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for results.json and the PNGs (default bench-results/<timestamp>)."
        ),
    ] = None,
    edits: Annotated[
        int, typer.Option(min=1, help="Local edits the outbound push carries.")
    ] = 10_000,
    naive_seconds: Annotated[
        float,
        typer.Option(
            min=1, help="Longest the naive peer merges before its figure is extrapolated."
        ),
    ] = 30.0,
    webhook_rate: Annotated[float, typer.Option(min=1, help="HubSpot edits per second.")] = 200.0,
    webhook_seconds: Annotated[
        float | None, typer.Option(min=1, help="How long to edit (default 10, --large 30).")
    ] = None,
    prune_rows: Annotated[
        int, typer.Option(min=1, help="Old webhook events the prune section deletes.")
    ] = 1_000_000,
    redis_url: Annotated[
        str, typer.Option(help="Redis database for the workers (flushed).")
    ] = "redis://127.0.0.1:6379/9",
    webhook_redis_url: Annotated[
        str, typer.Option(help="Redis database for the webhook benchmarks (flushed).")
    ] = "redis://127.0.0.1:6379/12",
) -> None:
    """Run every benchmark with real PostgreSQL, Redis, worker processes and the sandboxes;
    print one table and write the figures as JSON, with two PNGs (needs a source checkout)."""
    try:
        from bench.__main__ import build_options
        from bench.harness import run
        from bench.stack import BenchError
    except ImportError as error:
        fail(
            f"the benchmark harness is not installed here ({error}); run it from a source checkout"
        )
    try:
        options = build_options(
            records=records, companies=companies, contacts=contacts, accounts=accounts, large=large, only=only,
            workers=workers, out=out, edits=edits, naive_seconds=naive_seconds, webhook_rate=webhook_rate,
            webhook_seconds=webhook_seconds, prune_rows=prune_rows, redis_url=redis_url,
            webhook_redis_url=webhook_redis_url,
        )  # fmt: skip
    except ValueError as error:
        fail(str(error))
    try:
        run(options, console)
    except BenchError as error:
        fail(str(error))
