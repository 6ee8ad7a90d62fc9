"""Runs the benchmark sections and turns what they measured into figures, each next to its
reference from the same run. ``python -m bench`` calls :func:`run`."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from rich.console import Console

from bench import projection, report, targets
from bench.report import Figure, Reference, ratio
from bench.stack import UNTHROTTLED, BenchError, Sandboxes, Sizes, Stack

SECTIONS = ("full", "incremental", "outbound", "webhooks", "memory", "embedded", "prune", "rounds")  # fmt: skip
NEEDS_FULL = {"full", "incremental", "outbound", "memory"}  # these run the full sync first


@dataclass
class Options:
    sizes: Sizes = field(default_factory=lambda: Sizes(10_000, 10_000, 10_000))
    memory_sizes: Sizes = field(default_factory=lambda: Sizes(2_000, 2_000, 2_000))
    workers: int = 2
    only: tuple[str, ...] = SECTIONS
    out: Path | None = None
    redis_url: str = "redis://127.0.0.1:6379/9"
    webhook_redis_url: str = "redis://127.0.0.1:6379/12"
    edits: int = 10_000
    change_share: float = 0.01
    naive_seconds: float = 30.0
    webhook_rate: float = 1_000.0
    webhook_seconds: float = 10.0
    webhook_requests: int = 300
    webhook_clients: int = 4
    prune_rows: int = 1_000_000
    round_connections: int = 1_000
    round_changes: int = 10
    profile: str = "default"


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None


def prepare_process(key: str, folder: Path, database_url: str | None = None) -> None:
    """This process connects the CRMs (encrypting their credentials with the run's key)
    and never uses a broker of its own; drop what the caller's environment configured.
    ``database_url``: the database this process's own jobs use (none run by default)."""
    for name in [
        n for n in os.environ if n.startswith("CRMSYNC_") and not n.startswith("CRMSYNC_TEST_")
    ]:
        del os.environ[name]
    os.environ.update(UNTHROTTLED, CRMSYNC_ENCRYPTION_KEY=key, CRMSYNC_DATA_DIR=str(folder),
                      CRMSYNC_DATABASE_URL=database_url or f"sqlite:///{(folder / 'unused.db').as_posix()}")  # fmt: skip
    from worker import database
    from worker.settings import get_settings
    from worker.sync import connections

    get_settings.cache_clear()
    database.reset()
    connections.cipher.cache_clear()
    connections._budgets.clear()


def run(options: Options, console: Console | None = None) -> Results:
    console = console or Console()
    if not console.is_terminal:  # a log or a pipe: room for the table's five columns
        console.width = max(console.width, 160)
    started = datetime.now()
    out = options.out or Path("bench-results") / started.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="crmsync-bench-"))
    key = Fernet.generate_key().decode()
    prepare_process(key, folder)
    results = Results(folder=out)
    only = set(options.only)
    say = lambda text: console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False)  # noqa: E731
    sizes_used = options.sizes
    try:
        if only & (NEEDS_FULL | {"embedded"}):
            say(f"seeding the sandboxes: {options.sizes.label()}")
            with Sandboxes(options.sizes) as sandboxes:
                sizes_used = sandboxes.sizes
                embedded = None
                if "embedded" in only:  # first: the main sections write to the CRMs
                    from bench.embedded import embedded_full

                    say("full inbound sync on the embedded defaults (SQLite, in-process broker)")
                    embedded = embedded_full(sandboxes, key, folder / "embedded")
                main: dict[str, Any] = {}
                if only & NEEDS_FULL:
                    main = _main_stack(options, sandboxes, key, folder, only, results, say)
                if "memory" in only:
                    _memory(options, key, folder, main, results, say)
                if embedded is not None:
                    results.figures.append(_embedded_figure(embedded, main.get("full")))
        if "webhooks" in only:
            _webhooks(options, results, say)
        if "prune" in only:
            _prune(options, results, say)
        if "rounds" in only:
            _rounds(options, key, folder, results, say)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    run_info = {
        "started_at": started.isoformat(timespec="seconds"), "finished_at": datetime.now().isoformat(timespec="seconds"),
        "profile": options.profile, "sizes": asdict(sizes_used),
        "sizes_label": sizes_used.label() if only & (NEEDS_FULL | {"embedded"})
        else f"{', '.join(s for s in SECTIONS if s in only)} only",
        "workers": options.workers, "sections": [s for s in SECTIONS if s in only], "cores": os.cpu_count(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        "notes": _notes(options, results), "targets": targets.rows(results.figures),
    }  # fmt: skip
    report.write_json(out / "results.json", results.figures, run_info, results.samples)
    report.latency_png(out / "webhook_latency.png", results.samples.get("webhook_latencies_ms") or [],
                       results.samples.get("webhook_latency"))  # fmt: skip
    report.throughput_png(out / "inbound_throughput.png", results.samples.get("inbound_applied") or [],
                          results.samples.get("inbound_phases") or [])  # fmt: skip
    report.print_report(console, results.figures, run_info)
    console.print(targets.table(results.figures))
    console.print(f"figures: {out / 'results.json'}; pictures: {out}/*.png", highlight=False)
    return results


def _main_stack(options: Options, sandboxes: Sandboxes, key: str, folder: Path, only: set[str],
                results: Results, say: Any) -> dict[str, Any]:  # fmt: skip
    from bench import limits, naive, peer, sync

    found: dict[str, Any] = {}
    sizes = sandboxes.sizes
    with Stack(
        redis_url=options.redis_url, workers=options.workers, key=key, folder=folder / "main"
    ) as stack:
        connections = sandboxes.connect(stack.sessions)
        references: dict[str, Any] = {}
        if "full" in only:
            say("reference 1: the sandboxes alone (connector scans, no database)")
            references["sandbox"] = limits.sandbox_alone(sandboxes)
            say("reference 1: PostgreSQL alone (COPY of as many customer and link rows)")
            references["postgres"] = limits.postgres_alone(stack.engine, sandboxes, sizes)
            say(f"reference 2: the naive peer (SDK get_all + ORM merge and commit per record, "
                f"at most {options.naive_seconds:g} s of merging)")  # fmt: skip
            references["naive"] = naive.measure({
                "hubspot_url": sandboxes.hubspot.url, "hubspot_token": sandboxes.hubspot.access_token,
                "salesforce_url": sandboxes.salesforce.instance_url, "salesforce_cert": sandboxes.salesforce.cert_path,
                "salesforce_session": sandboxes.salesforce.access_token(), "database_url": stack.database_url,
                "seconds": options.naive_seconds,
            })  # fmt: skip
            say("reference 3: the well-written peer (SDK pages, one multi-row upsert per page)")
            references["peer"] = peer.measure({
                "hubspot_url": sandboxes.hubspot.url, "hubspot_token": sandboxes.hubspot.access_token,
                "salesforce_url": sandboxes.salesforce.instance_url, "salesforce_cert": sandboxes.salesforce.cert_path,
                "salesforce_session": sandboxes.salesforce.access_token(), "database_url": stack.database_url,
            })  # fmt: skip
        say(f"starting {options.workers} worker process(es)")
        stack.start_workers()
        say(f"full inbound sync of {sizes.total:,} records through the workers")
        full = found["full"] = sync.full_inbound(stack, connections, sizes)
        results.samples["inbound_applied"] = full.samples
        results.samples["inbound_phases"] = full.phases
        results.figures += _full_figures(full, references, sizes)
        if "incremental" in only:
            say(f"incremental sync after {options.change_share:.0%} of the records changed")
            results.figures += _incremental_figures(
                sync.incremental(stack, connections, sandboxes, options.change_share)
            )
        if "outbound" in only:
            say(f"outbound push of {options.edits:,} local edits")
            results.figures += _outbound_figures(
                sync.outbound(stack, connections, sandboxes, options.edits)
            )
    return found


def _memory(
    options: Options, key: str, folder: Path, main: dict[str, Any], results: Results, say: Any
) -> None:
    from bench import sync

    small = options.memory_sizes
    say(f"worker memory: a second full sync, on fresh workers, at {small.total:,} records")
    with Sandboxes(small, seed=3) as sandboxes, Stack(redis_url=options.redis_url, workers=options.workers,
                                                       key=key, folder=folder / "memory") as stack:  # fmt: skip
        connections = sandboxes.connect(stack.sessions)
        stack.start_workers()
        little = sync.full_inbound(stack, connections, sandboxes.sizes)
    big = main["full"]
    small_mb, big_mb = (
        max(little.peak_rss_mb.values(), default=0),
        max(big.peak_rss_mb.values(), default=0),
    )
    grown = ratio(big_mb, small_mb)
    results.figures.append(Figure(
        "memory", f"worker peak RSS after a full sync of {big.records:,} records", big_mb, "MB",
        [Reference(f"the same after {little.records:,} records", small_mb, "MB")],
        "flat: within 20% between the two sizes", None if grown is None else grown <= 1.2,
        {"large/small": grown}, "VmHWM of the busiest of the worker processes (each fresh before its sync)",
        {"large": big.peak_rss_mb, "small": little.peak_rss_mb},
    ))  # fmt: skip


def _webhooks(options: Options, results: Results, say: Any) -> None:
    from bench import external

    say(
        f"webhooks: edit-to-commit latency at {options.webhook_rate:g} edits/s for {options.webhook_seconds:g} s"
    )
    latency = external.measure("bench.webhook_latency", options.webhook_seconds + 900, rate=options.webhook_rate,
                               seconds=options.webhook_seconds, workers=options.workers,
                               redis_url=options.webhook_redis_url)  # fmt: skip
    p99 = latency.get("p99_ms")
    results.samples["webhook_latencies_ms"] = latency.pop("latencies_ms", [])
    results.samples["webhook_latency"] = {**latency, "rate": options.webhook_rate}
    results.figures.append(Figure(
        "webhooks", f"edit-to-commit latency p99 at {options.webhook_rate:g} edits/s", p99, "ms",
        [Reference(name, latency.get(f"{name}_ms"), "ms") for name in ("p50", "p95", "max")],
        "p99 <= 1,000 ms at 1,000 events/s", None if p99 is None else p99 <= 1000 and options.webhook_rate >= 1000, {},
        latency.get("error", f"{latency.get('events', 0):,} edits, {options.workers} worker process(es)"),
        latency,
    ))  # fmt: skip
    say(
        f"webhooks: intake of {options.webhook_requests} signed requests of 100 events, {options.webhook_clients} clients"
    )
    intake = external.measure("bench.webhooks", 900, requests=options.webhook_requests,
                              clients=options.webhook_clients, redis_url=options.webhook_redis_url)  # fmt: skip
    results.figures.append(Figure(
        "webhooks", "intake with v3 signature checks", intake.get("events_per_s"), "events/s", [], "", None, {},
        intake.get("error", f"{options.webhook_clients} concurrent clients, batches of 100 events"), intake,
    ))  # fmt: skip


def _prune(options: Options, results: Results, say: Any) -> None:
    from bench import external

    say(f"prune: {options.prune_rows:,} webhook events past their retention in PostgreSQL")
    pruned = external.measure("bench.prune", 1800, rows=options.prune_rows)
    longest = pruned.get("longest_transaction_ms")
    results.figures.append(Figure(
        "prune", "retention prune of old webhook events", pruned.get("rows_per_s"), "rows/s",
        [Reference("longest transaction", longest, "ms"),
         Reference("transactions", pruned.get("transactions"), "")],
        "", None, {},
        pruned.get("error", f"{pruned.get('deleted', 0):,} rows in {pruned.get('transactions')} transactions of "
                            f"{pruned.get('batch_rows', 0):,} rows; {pruned.get('left', 0):,} young rows kept"),
        pruned,
    ))  # fmt: skip


def _rounds(options: Options, key: str, folder: Path, results: Results, say: Any) -> None:
    from bench import rounds

    count, each = options.round_connections, options.round_changes
    say(f"rounds: seeding {count:,} HubSpot portals, one tenant and connection each")
    with (
        rounds.PortalFarm(count, companies_each=max(each, 10)) as farm,
        Stack(
            redis_url=options.redis_url, workers=options.workers, key=key, folder=folder / "rounds"
        ) as stack,
    ):
        say(f"rounds: connecting {count:,} portals, a first sync of each, {each} changes in each")
        measured = rounds.measure(stack, farm, each)
    cpu_s = sum(measured.worker_cpu_s.values())
    results.figures.append(Figure(
        "rounds", f"incremental round over {count:,} connections, {each} changes each", measured.seconds, "s",
        [Reference("connections per second", measured.connections_per_s, "connections/s"),
         Reference("first sync of every connection", measured.first_sync_s, "s"),
         Reference("worker CPU per connection", 1e3 * cpu_s / max(count, 1), "ms")],
        "<= 60 s with 2 workers", measured.seconds <= 60 if options.workers <= 2 else None, {},
        f"{measured.changes:,} records changed, {measured.records_read:,} read, {measured.api_calls:,} API calls; "
        f"{options.workers} worker process(es); connecting took {measured.connect_s:.0f} s",
        {"worker_cpu_s": measured.worker_cpu_s, "api_calls": measured.api_calls,
         "records_read": measured.records_read, "changes": measured.changes},
    ))  # fmt: skip


# -- figures ------------------------------------------------------------------------------------


def _per_crm(result: Any, key: str = "records_per_s", unit: str = "records/s") -> str:
    return "; ".join(
        f"{crm} {report.number(data.get(key), unit)}" for crm, data in result.per_crm.items()
    )


def _full_figures(full: Any, refs: dict[str, Any], sizes: Sizes) -> list[Figure]:
    references, ratios = [], {}
    limit = None
    peer = refs.get("peer")
    if refs:
        scans = refs["sandbox"]
        sandbox_rate = sum(s["records"] for s in scans.values()) / max(
            sum(s["seconds"] for s in scans.values()), 1e-9
        )
        postgres = refs["postgres"]
        postgres_rate = postgres["records"] / max(postgres["seconds"], 1e-9)
        limit = min(sandbox_rate, postgres_rate)
        naive = refs["naive"]
        references = [
            Reference("limit: sandbox alone", sandbox_rate, "records/s",
                      "; ".join(f"{crm} {s['records'] / max(s['seconds'], 1e-9):,.0f}/s, {s['calls']} calls" for crm, s in scans.items())),
            Reference("limit: PostgreSQL alone", postgres_rate, "records/s", f"COPY of {postgres['rows']:,} rows"),
            Reference("naive peer", naive["records_per_s"], "records/s",
                      f"extrapolated from {naive['merged']:,} of {naive['records']:,} records" if naive["extrapolated"]
                      else f"{naive['records']:,} records"),
            Reference("well-written peer", peer["records_per_s"], "records/s",
                      f"{peer['records']:,} records in {peer['pages']:,} pages; "
                      f"{report.number(peer['cpu_us_per_record'], 'µs')} CPU per record"),
        ]  # fmt: skip
        ratios = {
            "crmsync/limit": ratio(full.per_s, limit),
            "crmsync/naive": ratio(full.per_s, naive["records_per_s"]),
            "crmsync/peer": ratio(full.per_s, peer["records_per_s"]),
        }
    per_s = full.per_s
    met = None
    if per_s is not None:
        met = per_s >= 5000 and (not refs or (ratios["crmsync/naive"] or 0) >= 10)
    calls_ratio = ratio(full.api_calls, full.minimum)
    extra = [_cpu_figure(full, peer)]
    if refs:
        extra.append(_projection_figure(full, refs["sandbox"]["hubspot"]))
    return [
        Figure("full", "inbound sync, end to end", per_s, "records/s", references,
               ">= 5,000 records/s; >= 10x the naive peer", met, ratios,
               f"{full.records:,} records in {full.seconds:.1f} s ({_per_crm(full)})",
               {"per_crm": full.per_crm, "limit_records_per_s": limit, "references": refs,
                "peak_rss_mb": full.peak_rss_mb, "worker_cpu_s": full.worker_cpu_s, **full.extra}),
        Figure("full", "inbound sync, API calls", full.api_calls, "calls",
               [Reference("the API's minimum", full.minimum, "calls",
                          "HubSpot list 100/page + 1 recycle-bin page per object; Salesforce 2,000 rows/query batch")],
               "within 5% of the minimum", None if calls_ratio is None else calls_ratio <= 1.05,
               {"calls/minimum": calls_ratio}, _per_crm(full, "api_calls", "calls"), {"per_crm": full.per_crm}),
        *extra,
    ]  # fmt: skip


def _cpu_figure(full: Any, peer: dict[str, Any] | None) -> Figure:
    """Worker CPU per inbound record (every worker process, the whole pass), beside the
    well-written peer's own process CPU per record."""
    cpu_s = sum(full.worker_cpu_s.values())
    per_record = 1e6 * cpu_s / full.records if full.records else None
    peer_us = peer["cpu_us_per_record"] if peer else None
    references = []
    if peer:
        references.append(Reference("well-written peer", peer_us, "µs/record",
                                    f"{peer['cpu_s']:.2f} s CPU for {peer['records']:,} records, "
                                    f"{peer['write_cpu_s']:.2f} s of it writing"))  # fmt: skip
    return Figure("full", "worker CPU per inbound record", per_record, "µs/record", references,
                  "<= 150 µs/record", None if per_record is None else per_record <= 150,
                  {"crmsync CPU/peer CPU": ratio(per_record, peer_us)} if peer else {},
                  f"{cpu_s:.1f} s CPU in {len(full.worker_cpu_s)} worker process(es) for {full.records:,} records",
                  {"worker_cpu_s": full.worker_cpu_s})  # fmt: skip


def _projection_figure(full: Any, scan: dict[str, Any]) -> Figure:
    """A first sync of 1,000,000 HubSpot companies at HubSpot's published limits, with the
    API the sync's first pass used (from the calls counted in the same scan), beside search
    and beside crmsync's own time for as many records at this run's HubSpot rate."""
    companies = scan["by_object"]["company"]
    api = projection.api_used(companies["by_endpoint"])
    used = projection.first_sync(api)
    listed, searched = projection.first_sync("list"), projection.first_sync("search")
    rate = (full.per_crm.get("hubspot") or {}).get("records_per_s")
    worker_min = projection.MILLION / rate / 60 if rate else None
    search_scan = scan.get("companies_by_search") or {}
    counted = (f"calls counted for {companies['records']:,} companies: "
               + ", ".join(f"{name} {n:,}" for name, n in sorted(companies["by_endpoint"].items()))
               + "; by search from the start: "
               + ", ".join(f"{name} {n:,}" for name, n in sorted((search_scan.get("by_endpoint") or {}).items())))  # fmt: skip
    return Figure(
        "full", "projected first sync of 1,000,000 HubSpot companies", used.minutes, "min",
        [Reference("list", listed.minutes, "min", f"{listed.calls:,} calls"),
         Reference("search", searched.minutes, "min", f"{searched.calls:,} calls"),
         Reference("crmsync's worker at this run's HubSpot rate", worker_min, "min",
                   f"{report.number(rate, 'records/s')}")],
        "list: about 9 min, worker not the bound",
        None if worker_min is None else api == "list" and worker_min <= used.minutes,
        {"worker/API": ratio(worker_min, used.minutes)},
        f"first sync by {api}; {projection.LIMITS_TEXT}; {counted}",
        {"api": api, "companies": companies, "companies_by_search": search_scan},
    )  # fmt: skip


def _incremental_figures(result: Any) -> list[Figure]:
    changed = result.extra["changed"]
    count = sum(sum(kinds.values()) for kinds in changed.values())
    calls_ratio = ratio(result.api_calls, result.minimum)
    return [
        Figure("incremental", f"sync of {count:,} changed records (1%)", result.seconds, "s",
               [Reference("records read", result.records, "records", "changed records plus any at the cursor's instant")],
               "", None, {}, _per_crm(result, "seconds", "s"), {"per_crm": result.per_crm, "changed": changed}),
        Figure("incremental", "API calls", result.api_calls, "calls",
               [Reference("the API's minimum", result.minimum, "calls", "Salesforce adds one getDeleted call per object")],
               "", None, {"calls/minimum": calls_ratio}, _per_crm(result, "api_calls", "calls"), {"per_crm": result.per_crm}),
    ]  # fmt: skip


def _outbound_figures(result: Any) -> list[Figure]:
    edits = sum(data.get("edits", 0) for data in result.per_crm.values())
    calls_ratio = ratio(result.api_calls, result.minimum)
    return [
        Figure("outbound", f"push of {edits:,} local edits", result.per_s, "records/s",
               [Reference("records written", result.records, "records")], "", None, {},
               f"{result.seconds:.1f} s; {_per_crm(result)}", {"per_crm": result.per_crm}),
        Figure("outbound", "push calls (writes and their guards)", result.api_calls, "calls",
               [Reference("the API's minimum for guarded updates", result.minimum, "calls",
                          "HubSpot batch update 100/call + property history read 50/call; "
                          "Salesforce If-Unmodified-Since updates 25/Composite call")],
               "within 10% of the minimum", None if calls_ratio is None else calls_ratio <= 1.10,
               {"calls/minimum": calls_ratio},
               f"{_per_crm(result, 'push_calls', 'calls')}; per 1,000 records: {_per_crm(result, 'push_calls_per_1000', 'calls')}; "
               f"unguarded minimum: {_per_crm(result, 'unguarded_minimum', 'calls')}",
               {"per_crm": result.per_crm}),
    ]  # fmt: skip


def _embedded_figure(result: Any, full: Any) -> Figure:
    references = (
        [Reference("PostgreSQL + worker processes", full.per_s, "records/s")] if full else []
    )
    return Figure("embedded", "inbound sync on SQLite, in-process broker", result.per_s, "records/s", references,
                  "", None, {"embedded/workers": ratio(result.per_s, full.per_s)} if full else {},
                  f"{result.records:,} records in {result.seconds:.1f} s ({_per_crm(result)})", {"per_crm": result.per_crm})  # fmt: skip


def _notes(options: Options, results: Results) -> list[str]:
    if not set(options.only) & (NEEDS_FULL | {"embedded"}):
        return []
    notes = [
        "The sandboxes serve from the bench process (an interpreter of their own, not the workers'), "
        "on the same 2 cores as the workers and PostgreSQL: end-to-end figures pay for the sandbox's CPU.",
        "crmsync's request budget is raised so it does not throttle the sandbox. Real HubSpot caps a portal "
        "at 190 requests per 10 s (~1,900 records/s of 100-record pages) and 5 searches/s (~1,000 records/s "
        "of 200-record searches): against real HubSpot the API limit, not the worker, bounds a sync.",
        "The full inbound pass is sync_changes on a new connection (no cursor: every record, by HubSpot's "
        "list endpoint and Salesforce SOQL); one job per connection (a chain of them past "
        "CRMSYNC_PASS_SLICE_S, timed to the last), HubSpot's then Salesforce's.",
        "Incremental passes use an overlap of 0 s (production: 300 s, which would re-read all of this "
        "minutes-old data).",
    ]
    full = next(
        (f for f in results.figures if f.section == "full" and "per_crm" in f.details), None
    )
    if full and "categorization_backlog_s" in full.details:
        notes.append(f"Categorizing the new customers (jobs the sync queued) finished "
                     f"{full.details['categorization_backlog_s']:.1f} s after the sync; not in the figure.")  # fmt: skip
    return notes


def sizes_for(records: int | None, companies: int | None, contacts: int | None, accounts: int | None,
              large: bool) -> tuple[Sizes, Sizes]:  # fmt: skip
    """The main sizes and the smaller ones the memory figure compares with."""
    base = 100_000 if large else 10_000
    if records is not None:
        base = records
    main = Sizes(companies if companies is not None else base, contacts if contacts is not None else base,
                 accounts if accounts is not None else base)  # fmt: skip
    small = Sizes(
        *(
            max(1, n // 10 if large else n // 5)
            for n in (main.companies, main.contacts, main.accounts)
        )
    )
    return main, small


__all__ = ["SECTIONS", "BenchError", "Options", "Results", "run", "sizes_for"]
