"""Printing a soak's result, and writing it as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.soak.outcome import MAX_SHOWN
from bench.soak.run import SoakResult


def lines(result: SoakResult) -> list[str]:
    figures = result.figures
    out = [
        f"soak: seed {result.options.seed}, {result.options.seconds:g} s of workload, "
        f"{result.options.records} businesses, {result.options.workers} workers",
        f"  set-up and first sync {figures.get('setup_s')} s; quiesce {figures.get('quiesce_s')} s",
        f"  operations: {_flat(figures.get('operations', {}))}",
        f"  chaos: {figures.get('workers_killed')} workers SIGKILLed, {figures.get('redis_restarts')} "
        f"Redis restarts; webhooks HubSpot {_flat(figures.get('webhooks', {}).get('hubspot', {}))}; "
        f"Salesforce {_flat(figures.get('webhooks', {}).get('salesforce', {}))}",
        f"  at rest: {_flat(figures.get('totals', {}))}",
    ]
    for error in figures.get("harness_errors", []):
        out.append(f"  harness error: {error}")
    out.append("checks:")
    for outcome in result.outcomes:
        mark = "ok  " if outcome.passed else "FAIL"
        out.append(f"  {mark} {outcome.name}: {outcome.count} (of {outcome.checked} checked)")
        for note in outcome.notes:
            out.append(f"       {note}")
        for explained in outcome.explained[:MAX_SHOWN]:
            out.append(f"       explained: {explained}")
        if len(outcome.explained) > MAX_SHOWN:
            out.append(f"       ... and {len(outcome.explained) - MAX_SHOWN} more explained")
        for problem in outcome.problems[:MAX_SHOWN]:
            out.append(f"     - {problem.record}, {problem.field}: {problem.detail}")
            out.extend(f"     {line}" for line in problem.history)
        if len(outcome.problems) > MAX_SHOWN:
            out.append(f"     ... and {len(outcome.problems) - MAX_SHOWN} more (all in --json)")
    out.append("PASSED: every check is 0" if result.passed else "FAILED: see the checks above")
    return out


def _flat(values: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in values.items()) or "-"


def as_json(result: SoakResult) -> dict[str, Any]:
    options = asdict(result.options)
    return {
        "passed": result.passed,
        "options": options,
        "figures": result.figures,
        "checks": [
            {
                "name": o.name,
                "count": o.count,
                "checked": o.checked,
                "passed": o.passed,
                "notes": o.notes,
                "explained": o.explained,
                "problems": [p.as_json() for p in o.problems],
            }
            for o in result.outcomes
        ],
        "history": [op.as_json(result.history.started) for op in result.history.operations],
    }


def write_json(result: SoakResult, path: Path) -> None:
    path.write_text(json.dumps(as_json(result), indent=2, default=str), encoding="utf-8")
