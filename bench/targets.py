"""The speed targets, each with its figure from this run: one table of (figure, now, target).

"now" is read from the run's own figures; a target whose figure this run did not measure
(a section left out with ``--only``, or one no section measures yet) says so. Figures are
printed, never asserted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.table import Table

from bench.report import Figure, number

NOT_MEASURED = "not measured in this run"


@dataclass(frozen=True)
class Target:
    figure: str
    target: str
    now: Callable[[list[Figure]], str | None]  # None: this run did not measure it


def _find(figures: list[Figure], section: str, name: str) -> Figure | None:
    return next((f for f in figures if f.section == section and f.name.startswith(name)), None)


def _cpu(figures: list[Figure]) -> str | None:
    figure = _find(figures, "full", "worker CPU per inbound record")
    if figure is None or figure.value is None:
        return None
    return f"{figure.value:,.0f} µs"


def _inbound(figures: list[Figure]) -> str | None:
    figure = _find(figures, "full", "inbound sync, end to end")
    if figure is None or figure.value is None:
        return None
    cpu = {pid: s for pid, s in (figure.details.get("worker_cpu_s") or {}).items()}
    total = sum(cpu.values())
    busiest = f", the busiest {max(cpu.values()) / total:.0%} of their CPU" if total else ""
    return f"{number(figure.value)} records/s; {len(cpu)} worker processes{busiest}"


def _peer_ratio(figures: list[Figure]) -> str | None:
    figure = _find(figures, "full", "inbound sync, end to end")
    value = figure.ratios.get("crmsync/peer") if figure else None
    return None if value is None else number(value, "x")


def _projection(figures: list[Figure]) -> str | None:
    figure = _find(figures, "full", "projected first sync of 1,000,000 HubSpot companies")
    if figure is None or figure.value is None:
        return None
    refs = {ref.name: ref.value for ref in figure.references}
    worker = refs.get("crmsync's worker at this run's HubSpot rate")
    text = f"{figure.details.get('api', '?')}: {figure.value:,.1f} min"
    if refs.get("search") is not None and figure.details.get("api") != "search":
        text += f" (search: {refs['search']:,.1f} min)"
    if worker is not None:
        text += f"; worker {worker:,.1f} min"
    return text


def _outbound(figures: list[Figure]) -> str | None:
    figure = _find(figures, "outbound", "push of")
    if figure is None or figure.value is None:
        return None
    return f"{number(figure.value)} records/s ({figure.name.removeprefix('push of ')})"


def _webhooks(figures: list[Figure]) -> str | None:
    figure = _find(figures, "webhooks", "edit-to-commit latency p99")
    if figure is None or figure.value is None:
        return None
    rate = figure.name.rsplit(" at ", 1)[-1]
    cpu = figure.details.get("worker_cpu_ms_per_edit")
    text = f"p99 {number(figure.value)} ms at {rate}"
    return text + (f"; worker CPU {cpu:,.1f} ms per edit" if cpu is not None else "")


def _memory(figures: list[Figure]) -> str | None:
    figure = _find(figures, "memory", "worker peak RSS")
    value = figure.ratios.get("large/small") if figure else None
    if figure is None or value is None:
        return None
    small = figure.references[0].name.removeprefix("the same after ") if figure.references else "?"
    large = figure.name.rsplit(" of ", 1)[-1]
    return f"{number(value, 'x')} ({small} to {large})"


def _rounds(figures: list[Figure]) -> str | None:
    figure = _find(figures, "rounds", "incremental round over")
    if figure is None or figure.value is None:
        return None
    size = figure.name.removeprefix("incremental round over ")
    return f"{figure.value:,.1f} s ({size})"


TARGETS = (
    Target("worker CPU per inbound record (customers and contacts, with validation, dedupe, "
           "links, outbox)", "≤ 150 µs", _cpu),
    Target("full inbound sync, end to end, defaults, 2 workers",
           "≥ 5,000 records/s, both workers busy", _inbound),
    Target("ratio to the well-written peer", "≥ 0.5x", _peer_ratio),
    Target("projected first sync of 1,000,000 HubSpot companies on real limits",
           "list: about 9 min, worker not the bound", _projection),
    Target("outbound push of 10,000 local edits", "≥ 5,000 records/s", _outbound),
    Target("webhook edit-to-commit", "p99 ≤ 1 s at 1,000 edits/s; CPU per edit printed", _webhooks),
    Target("worker peak RSS, 100,000 vs 10,000 records (`--large`)", "within 1.2x", _memory),
    Target("incremental round over 1,000 connections with 10 changes each, 2 workers", "≤ 60 s",
           _rounds),
)  # fmt: skip


def rows(figures: list[Figure]) -> list[dict[str, str]]:
    """Each target with this run's figure, or NOT_MEASURED."""
    return [
        {"figure": t.figure, "now": t.now(figures) or NOT_MEASURED, "target": t.target}
        for t in TARGETS
    ]


def table(figures: list[Figure]) -> Table:
    out = Table(title="Targets", title_justify="left", show_lines=True)
    for column in ("figure", "now", "target"):
        out.add_column(column)
    for row in rows(figures):
        out.add_row(row["figure"], row["now"], row["target"])
    return out
