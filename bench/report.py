"""Figures, each with its references, target and ratios: one table, one JSON file, two PNGs."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RATE_WINDOW_S = 2.0


@dataclass
class Reference:
    name: str
    value: float | None
    unit: str
    note: str = ""


@dataclass
class Figure:
    section: str
    name: str
    value: float | None
    unit: str
    references: list[Reference] = field(default_factory=list)
    target: str = ""
    met: bool | None = None  # against the target; None when there is none or no value
    ratios: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference


def minimum_calls(records: int, per_call: int) -> int:
    """Calls a pass needs at the least: one per full page, and one to learn it is empty."""
    return max(1, math.ceil(records / per_call))


def bulk_minimum_calls(records: int, per_results_call: int) -> int:
    """Calls a Bulk API 2.0 query job needs at the least: its creation, one status poll
    that finds it complete, and one results call per set of ``per_results_call`` rows."""
    return 2 + minimum_calls(records, per_results_call)


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "x":
        return f"{value:,.2f}x" if abs(value) < 100 else f"{value:,.0f}x"
    digits = 2 if abs(value) < 10 and value != int(value) else 0
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if unit else text


def _met(figure: Figure) -> str:
    if figure.met is None:
        return ""
    return "[green]met[/]" if figure.met else "[red]not met[/]"


def table(figures: list[Figure], title: str) -> Table:
    out = Table(title=title, title_justify="left", show_lines=True)
    for column, justify in (("figure", "left"), ("crmsync", "right"), ("reference (same run)", "left"),
                            ("target", "left"), ("ratios", "left")):  # fmt: skip
        out.add_column(column, justify=justify)  # type: ignore[arg-type]
    for figure in figures:
        references = "\n".join(
            f"{ref.name}: {number(ref.value, ref.unit)}" + (f" ({ref.note})" if ref.note else "")
            for ref in figure.references
        )
        ratios = "\n".join(f"{name} {number(value, 'x')}" for name, value in figure.ratios.items())
        label = f"[bold]{figure.section}[/] {figure.name}" + (
            f"\n[dim]{figure.note}[/]" if figure.note else ""
        )
        target = figure.target + (f"\n{_met(figure)}" if figure.met is not None else "")
        out.add_row(
            label,
            number(figure.value, figure.unit),
            references or "-",
            target or "-",
            ratios or "-",
        )
    return out


def print_report(console: Console, figures: list[Figure], run: dict[str, Any]) -> None:
    console.print(
        table(figures, f"crmsync bench, {run['sizes_label']}, {run['workers']} worker process(es)")
    )
    for note in run["notes"]:
        console.print(f"- {note}", style="dim", highlight=False)


def write_json(
    path: Path, figures: list[Figure], run: dict[str, Any], samples: dict[str, Any]
) -> None:
    body = {"run": run, "figures": [asdict(figure) for figure in figures], "samples": samples}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")


# -- pictures ---------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _placeholder(plt: Any, path: Path, title: str, message: str) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def latency_png(path: Path, latencies_ms: list[float], summary: dict[str, Any] | None) -> bool:
    """A histogram of webhook edit-to-commit latencies, with p50/p95/p99 marked."""
    plt = _pyplot()
    if plt is None:
        return False
    title = "webhook edit-to-commit latency"
    if not latencies_ms:
        _placeholder(plt, path, title, "not measured in this run")
        return True
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist(latencies_ms, bins=min(60, max(10, len(latencies_ms) // 20)), color="#4C72B0")
    for key, style in (("p50_ms", ":"), ("p95_ms", "--"), ("p99_ms", "-")):
        value = (summary or {}).get(key)
        if value is not None:
            ax.axvline(value, color="#C44E52", linestyle=style, label=f"{key[:3]} {value:,.0f} ms")
    ax.axvline(1000, color="#55A868", linewidth=1, label="target p99 1,000 ms")
    rate = (summary or {}).get("rate")
    ax.set_title(f"{title}, {len(latencies_ms):,} edits" + (f" at {rate:g}/s" if rate else ""))
    ax.set_xlabel("ms from the edit in HubSpot to the commit in PostgreSQL")
    ax.set_ylabel("edits")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def throughput_png(path: Path, samples: list[list[float]], phases: list[dict[str, Any]]) -> bool:
    """Records applied (links made) over time during the full inbound sync, and the rate."""
    plt = _pyplot()
    if plt is None:
        return False
    title = "full inbound sync: records applied over time"
    if len(samples) < 2:
        _placeholder(plt, path, title, "not measured in this run")
        return True
    times = [s[0] for s in samples]
    applied = [s[1] for s in samples]
    window = max(RATE_WINDOW_S, (times[-1] - times[0]) / 30)
    rates, first = [], 0
    for i, now in enumerate(times):  # over a window: pages commit whole, so rates come in steps
        while now - times[first] > window:
            first += 1
        j = min(first, max(i - 1, 0))
        rates.append((applied[i] - applied[j]) / max(now - times[j], 1e-9) if i else 0.0)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(times, applied, color="#4C72B0", drawstyle="steps-post")
    top.set_ylabel("records applied")
    top.set_title(title)
    bottom.plot(times, rates, color="#DD8452")
    bottom.set_ylabel(f"records/s (last {window:.0f} s)")
    bottom.set_xlabel("seconds since the first sync job was queued")
    for phase in phases:
        for ax in (top, bottom):
            ax.axvspan(phase["start_s"], phase["end_s"], alpha=0.08, color="#55A868")
        top.text(phase["start_s"], max(applied) * 0.95, f" {phase['name']}", fontsize=8, va="top")
        if phase.get("records_per_s"):
            bottom.hlines(phase["records_per_s"], phase["start_s"], phase["end_s"], colors="#55A868",
                          linestyles="--", label=f"{phase['name']} average {phase['records_per_s']:,.0f}/s")  # fmt: skip
    if any(phase.get("records_per_s") for phase in phases):
        bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
