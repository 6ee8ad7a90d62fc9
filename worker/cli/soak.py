"""``crmsync soak``: the convergence soak (the harness lives in ``bench/soak``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from worker.cli.common import console, fail


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
    try:
        from bench.soak.chaos import ChaosPlan
        from bench.soak.report import lines, write_json
        from bench.soak.run import SoakOptions, run_soak
        from bench.soak.services import SoakError
    except ImportError as error:
        fail(f"crmsync soak runs from a source checkout (it needs the bench package): {error}")
    try:
        options = SoakOptions(seed=seed, seconds=seconds, records=records, workers=workers,
                              ops_per_s=ops_per_s, keep=keep,
                              chaos=ChaosPlan(redis_restarts=redis_restarts))  # fmt: skip
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
