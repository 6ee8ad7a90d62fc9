"""Where a full inbound pass spends its CPU: one pass in this process, under cProfile.

    uv run python -m bench profile [--records 3000] [--database-url URL | --postgres] [--out FILE]
                                   [--changed SHARE]

Seeds both sandboxes (the generator the other sections use), connects them to a new SQLite
file (or the database given, migrated here, or a scratch PostgreSQL database), and runs the
first pass of each connection here, HubSpot's then Salesforce's, as ``sync_changes`` runs it
in a worker. With ``--changed`` that first pass is not profiled: the share given of each
CRM's records is then edited as a person would (``bench.sync.change_records``) and the
incremental pass that applies the edits to linked records is, the update path that
webhooks and scheduled passes take. The jobs a pass queues (categorization of the new customers) run after it, in
the same thread, so a figure covers what the workers would spend. Prints the CPU per record
read and the top functions by cumulative and by own time; the raw statistics go to a pstats
file that snakeviz or ``python -m pstats`` read.

The CPU is this thread's own (``time.thread_time``): the sandboxes serve from threads of
this process and are left out, as they are of the workers' figure. The pass's CRM reads
are left out too: it reads its pages in a thread of its own (``worker.sync.prefetch``),
which neither this clock nor cProfile (this thread only) sees, while the workers' figure
counts them. cProfile makes Python code slower, calls most; ``--no-cprofile`` times the
same pass without it (and is the command to put under ``py-spy record``). Figures are
printed, never asserted.
"""

from __future__ import annotations

import cProfile
import importlib
import pstats
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from bench.harness import prepare_process
from bench.stack import Sandboxes, Sizes
from customers import db

TOP = 20
# SDK modules the connectors import on first use (HubSpot's discovery imports each API when
# it is first asked for): a worker has them loaded after its first job, so they are loaded
# here before the profile starts, not counted in the pass.
WARM_IMPORTS = ("hubspot.crm.companies", "hubspot.crm.contacts", "hubspot.crm.properties")


@dataclass(frozen=True)
class ProfileOptions:
    sizes: Sizes
    database_url: str | None = None  # None: a new SQLite file
    postgres: bool = False  # a scratch PostgreSQL database, made and dropped
    out: Path | None = None  # the pstats file
    cprofile: bool = True
    top: int = TOP
    # Profile the update path: this share of each CRM's records changed after a first pass
    # that is not profiled, then the incremental pass that applies them. None: the first pass.
    changed: float | None = None


@dataclass
class ProfileResult:
    records: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    jobs: int = 0
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: pstats.Stats | None = None
    out: Path | None = None

    @property
    def cpu_us_per_record(self) -> float:
        return self.cpu_s * 1e6 / self.records if self.records else 0.0


def profile_sizes(
    records: int, companies: int | None, contacts: int | None, accounts: int | None
) -> Sizes:
    """``records`` read in all, a third each of companies, contacts and accounts, unless
    a kind is given its own number."""
    third = max(1, records // 3)
    return Sizes(
        companies if companies is not None else third,
        contacts if contacts is not None else third,
        accounts if accounts is not None else max(1, records - 2 * third),
    )


@contextmanager
def _database(options: ProfileOptions, folder: Path) -> Iterator[str]:
    if options.database_url:
        yield options.database_url
        return
    if not options.postgres:
        yield f"sqlite:///{(folder / 'crmsync.db').as_posix()}"
        return
    from bench.csv_import import drop, postgres_scratch
    from bench.stack import BenchError

    scratch = postgres_scratch()
    if scratch is None:
        raise BenchError("--postgres needs PostgreSQL (CRMSYNC_TEST_POSTGRES_URL)")
    try:
        yield scratch[1]
    finally:
        drop(scratch[0])


def _run_queued_jobs() -> int:
    """Run here, one after another, the jobs queued on the in-process broker (and any they
    queue in turn); how many ran."""
    from dramatiq import Message
    from dramatiq.brokers.stub import StubBroker

    from worker.embedded import load_actors
    from worker.jobs.broker import broker

    if not isinstance(broker, StubBroker):
        return 0
    load_actors()
    ran = 0
    while True:
        waiting = [queue for queue in broker.queues.values() if not queue.empty()]
        if not waiting:
            return ran
        for queue in waiting:
            while not queue.empty():
                message = Message.decode(queue.get_nowait())
                queue.task_done()
                broker.get_actor(message.actor_name).fn(*message.args, **message.kwargs)
                ran += 1


def profile_pass(options: ProfileOptions, say: Any) -> ProfileResult:
    """Seed, connect and run the first pass of both connections (or, with ``changed``, the
    incremental pass after those changes); the figures."""
    from worker.embedded import load_actors
    from worker.jobs import collector
    from worker.sync.passes import Sync

    folder = Path(tempfile.mkdtemp(prefix="crmsync-profile-"))
    key = Fernet.generate_key().decode()
    result = ProfileResult()
    # cProfile's own clock (wall time): a CPU clock is a system call per event here, which
    # made the pass seven times slower; the figure per record is CPU time all the same.
    profiler = cProfile.Profile() if options.cprofile else None
    try:
        say(f"seeding the sandboxes: {options.sizes.label()}")
        with Sandboxes(options.sizes) as sandboxes, _database(options, folder) as url:
            prepare_process(key, folder, url)  # the queued jobs open this database too
            engine = db.make_engine(url)
            try:
                db.upgrade(engine)
                sessions = db.session_factory(engine)
                connections = sandboxes.connect(sessions)
                load_actors()  # as a worker process does before its first job
                for module in WARM_IMPORTS:
                    importlib.import_module(module)
                collector.tune()  # as a worker process does then (``worker.jobs.collector``)
                which = "first pass"
                if options.changed is not None:
                    from bench.sync import change_records

                    for provider in ("hubspot", "salesforce"):
                        say(f"{provider}: first pass (not profiled)")
                        Sync(connections[provider], sessions=sessions).incremental()
                    _run_queued_jobs()
                    change_records(sandboxes, options.changed)
                    which = f"incremental pass after {options.changed:.0%} changed"
                for provider in ("hubspot", "salesforce"):
                    say(f"{provider}: {which}{' under cProfile' if profiler else ''}")
                    runner = Sync(connections[provider], sessions=sessions)  # imports its SDK
                    wall, cpu = time.perf_counter(), time.thread_time()
                    if profiler:
                        profiler.enable()
                    try:
                        run = runner.incremental()
                        result.jobs += _run_queued_jobs()
                    finally:
                        if profiler:
                            profiler.disable()
                    result.cpu_s += time.thread_time() - cpu
                    result.wall_s += time.perf_counter() - wall
                    counts = dict(run.counts)
                    result.counts[provider] = counts
                    result.records += int(counts.get("read", 0)) + int(
                        counts.get("contacts_read", 0)
                    )
            finally:
                engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if profiler:
        out = options.out or Path("bench-results") / time.strftime("profile-%Y%m%d-%H%M%S.pstats")
        out.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(out)
        result.stats, result.out = pstats.Stats(profiler), out
    return result


def _where(function: tuple[str, int, str]) -> str:
    filename, line, name = function
    if filename == "~":  # a built-in
        return name
    path = Path(filename)
    for root in (Path.cwd(), *(Path(p) for p in _site_roots())):
        try:
            filename = str(path.relative_to(root))
            break
        except ValueError:
            continue
    return f"{filename}:{line}({name})"


def _site_roots() -> list[str]:
    import site
    import sysconfig

    return [*site.getsitepackages(), site.getusersitepackages(), sysconfig.get_paths()["stdlib"]]


def top_table(result: ProfileResult, key: str, rows: int = TOP) -> Table:
    """The ``rows`` functions first by ``key`` ("cumulative" or "tottime")."""
    assert result.stats is not None
    title = "cumulative" if key == "cumulative" else "own"
    table = Table(
        title=f"top {rows} by {title} time (cProfile's clock: wall time, waits included)",
        title_justify="left",
    )
    for column in ("function", "calls", "own s", "cumulative s", "cumulative µs/record"):
        table.add_column(column, justify="left" if column == "function" else "right")
    raw: dict[Any, Any] = result.stats.stats  # type: ignore[attr-defined]
    index = 3 if key == "cumulative" else 2
    ordered = sorted(raw.items(), key=lambda item: item[1][index], reverse=True)
    for function, (_, calls, own, cumulative, _) in ordered[:rows]:
        per = cumulative * 1e6 / result.records if result.records else 0.0
        table.add_row(
            _where(function), f"{calls:,}", f"{own:.2f}", f"{cumulative:.2f}", f"{per:,.0f}"
        )
    return table


def print_result(console: Console, result: ProfileResult, top: int = TOP) -> None:
    if not console.is_terminal:  # a log or a pipe: room for the functions' names
        console.width = max(console.width, 150)
    for provider, counts in result.counts.items():
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
        console.print(f"{provider}: {shown}", highlight=False)
    under = " under cProfile" if result.stats is not None else ""
    console.print(
        f"[bold]{result.cpu_us_per_record:,.0f} µs of CPU per record read{under}[/] "
        f"({result.records:,} records, {result.cpu_s:.2f} s CPU, {result.wall_s:.2f} s wall, "
        f"{result.jobs} queued jobs run)",
        highlight=False,
    )
    if result.stats is None:
        return
    console.print(top_table(result, "cumulative", top))
    console.print(top_table(result, "tottime", top))
    console.print(f"statistics: {result.out} (snakeviz, python -m pstats)", highlight=False)
