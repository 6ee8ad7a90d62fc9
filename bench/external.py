"""The webhook figures come from ``bench.webhook_latency.measure`` and
``bench.webhooks.measure``; each runs in a child process here, since they set up their own
settings, services and processes. Where a module has no ``measure`` yet, the figure is
reported as not available rather than failing the run.

    python -m bench.external MODULE < kwargs.json     # prints one JSON line
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Any

from bench.stack import ROOT

MARK = "BENCH-RESULT "


def measure(module: str, timeout_s: float, **kwargs: Any) -> dict[str, Any]:
    """``module.measure(**kwargs)`` in a child process; ``{"error": ...}`` when it has
    none or it fails."""
    try:
        done = subprocess.run([sys.executable, "-m", "bench.external", module], input=json.dumps(kwargs),
                              text=True, capture_output=True, cwd=ROOT, timeout=timeout_s, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"{module}.measure did not finish in {timeout_s:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"error": f"{module}.measure failed (exit {done.returncode}): {' / '.join(tail)}"}


def _child(module: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    function = getattr(importlib.import_module(module), "measure", None)
    if function is None:
        return {"error": f"not available: {module} has no measure() in this checkout"}
    return dict(function(**kwargs))


if __name__ == "__main__":
    result = _child(sys.argv[1], json.loads(sys.stdin.read()))
    print(MARK + json.dumps(result, default=float), flush=True)
