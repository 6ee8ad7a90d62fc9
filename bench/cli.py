"""``python -m bench``: the benchmarks (the group itself) and ``soak``, one option parser."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench.options import DEFAULT_REDIS, DEFAULT_WEBHOOK_REDIS, build_options
from worker.cli.common import fail

# The benches' own console: their lines carry Rich markup (times dim, section names bold),
# which the product CLI's console prints as typed.
console = Console()

SECTIONS = "full, incremental, outbound, webhooks, memory, embedded, prune, rounds"

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode=None,
    help="Benchmarks (run with no command), the convergence soak (`soak`) and a profile of "
    "one inbound pass (`profile`).",
)


@app.callback()
def bench(
    ctx: typer.Context,
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
    webhook_rate: Annotated[float, typer.Option(min=1, help="HubSpot edits per second.")] = 1_000.0,
    webhook_seconds: Annotated[
        float | None, typer.Option(min=1, help="How long to edit (default 10, --large 30).")
    ] = None,
    prune_rows: Annotated[
        int, typer.Option(min=1, help="Old webhook events the prune section deletes.")
    ] = 1_000_000,
    round_connections: Annotated[
        int,
        typer.Option(min=1, help="Connections (each a HubSpot portal) the rounds section syncs."),
    ] = 1_000,
    round_changes: Annotated[
        int, typer.Option(min=1, help="Records changed in each portal before the round.")
    ] = 10,
    redis_url: Annotated[
        str, typer.Option(help="Redis database for the workers (flushed).")
    ] = DEFAULT_REDIS,
    webhook_redis_url: Annotated[
        str, typer.Option(help="Redis database for the webhook benchmarks (flushed).")
    ] = DEFAULT_WEBHOOK_REDIS,
) -> None:
    """Run every benchmark with real PostgreSQL, Redis, worker processes and the sandboxes;
    print one table and write the figures as JSON, with two PNGs. `soak` runs the
    convergence soak instead, `profile` one inbound pass under cProfile."""
    if ctx.invoked_subcommand is not None:
        return
    from bench.harness import run
    from bench.stack import BenchError

    try:
        options = build_options(
            records=records,
            companies=companies,
            contacts=contacts,
            accounts=accounts,
            large=large,
            only=only,
            workers=workers,
            out=out,
            edits=edits,
            naive_seconds=naive_seconds,
            webhook_rate=webhook_rate,
            webhook_seconds=webhook_seconds,
            prune_rows=prune_rows,
            round_connections=round_connections,
            round_changes=round_changes,
            redis_url=redis_url,
            webhook_redis_url=webhook_redis_url,
        )
    except ValueError as error:
        fail(str(error))
    try:
        run(options, console)
    except BenchError as error:
        fail(str(error))


@app.command()
def soak(
    seed: Annotated[int, typer.Option(help="Seeds the workload, the data and the chaos.")] = 1,
    seconds: Annotated[
        float, typer.Option(min=1, help="How long the workload and the chaos run.")
    ] = 180.0,
    records: Annotated[
        int, typer.Option(min=10, help="Businesses seeded before the run (both CRMs, some local).")
    ] = 200,
    workers: Annotated[int, typer.Option(min=1, help="crmsync worker processes.")] = 3,
    ops_per_s: Annotated[
        float, typer.Option(min=0.1, help="Workload operations per second on each side.")
    ] = 2.0,
    redis_restarts: Annotated[
        int, typer.Option(min=0, help="Times Redis is killed and restarted mid-run.")
    ] = 2,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the result and history here.")
    ] = None,
    keep: Annotated[
        bool, typer.Option(help="Keep the soak's folder (logs) when it passes, and its database.")
    ] = False,
) -> None:
    """Soak the sync: random creates, edits, deletes and merges on both CRMs and locally,
    with faults, dropped and duplicated webhooks, killed workers and Redis restarts; then
    check that everything converged. Needs PostgreSQL and a redis-server binary (it starts
    its own). Exit status 0 when every check is 0, 1 otherwise."""
    from bench.soak.chaos import ChaosPlan
    from bench.soak.report import lines, write_json
    from bench.soak.run import SoakOptions, run_soak
    from bench.soak.services import SoakError

    try:
        options = SoakOptions(
            seed=seed,
            seconds=seconds,
            records=records,
            workers=workers,
            ops_per_s=ops_per_s,
            keep=keep,
            chaos=ChaosPlan(redis_restarts=redis_restarts),
        )
    except ValueError as error:
        fail(str(error), code=2)
    # The soak's own HTTP calls (readiness polls) are not news; its report is.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result = run_soak(options, say=lambda text: console.print(text, highlight=False))
    except SoakError as error:
        fail(str(error))
    for line in lines(result):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if json_path is not None:
        write_json(result, json_path)
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def profile(
    records: Annotated[
        int,
        typer.Option(
            min=3, help="Records read in all: a third each of companies, contacts, accounts."
        ),
    ] = 3_000,
    companies: Annotated[int | None, typer.Option(min=1, help="HubSpot companies.")] = None,
    contacts: Annotated[int | None, typer.Option(min=0, help="HubSpot contacts.")] = None,
    accounts: Annotated[int | None, typer.Option(min=1, help="Salesforce accounts.")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="An empty database to use, migrated here (default: a new SQLite file)."),
    ] = None,
    postgres: Annotated[
        bool,
        typer.Option(
            "--postgres",
            help="A scratch PostgreSQL database (CRMSYNC_TEST_POSTGRES_URL), dropped after.",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="The pstats file (default bench-results/profile-<timestamp>.pstats)."),
    ] = None,
    cprofile: Annotated[
        bool,
        typer.Option(help="Profile the pass (--no-cprofile: time it only, e.g. under py-spy)."),
    ] = True,
    top: Annotated[int, typer.Option(min=1, help="Functions in each table.")] = 20,
    changed: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            max=1.0,
            help="Profile the update path instead: after a first pass (not profiled), change "
            "this share of the records in each CRM (e.g. 0.5) and profile the incremental pass "
            "that applies the changes to linked records.",
        ),
    ] = None,
) -> None:
    """Run one full inbound pass of both sandboxes in this process under cProfile (embedded:
    no broker, queued jobs run here after each pass); print the CPU per record read and the
    top functions by cumulative and by own time, and write the statistics as a pstats file.
    With --changed, the pass profiled is the incremental one after that share of records
    changed."""
    from bench.profile import ProfileOptions, print_result, profile_pass, profile_sizes
    from bench.stack import BenchError

    if database_url and postgres:
        fail("give --database-url or --postgres, not both", code=2)
    options = ProfileOptions(
        sizes=profile_sizes(records, companies, contacts, accounts),
        database_url=database_url,
        postgres=postgres,
        out=out,
        cprofile=cprofile,
        top=top,
        changed=changed,
    )
    say = lambda text: console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False)  # noqa: E731
    try:
        result = profile_pass(options, say)
    except BenchError as error:
        fail(str(error))
    print_result(console, result, top)
