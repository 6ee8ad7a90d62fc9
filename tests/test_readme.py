"""The README's configuration table and commands stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from worker.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_configuration_table_lists_exactly_the_settings() -> None:
    documented = set(re.findall(r"^\| `(CRMSYNC_[A-Z0-9_]+)` \|", README, flags=re.MULTILINE))
    actual = {f"CRMSYNC_{name.upper()}" for name in Settings.model_fields}
    assert documented == actual


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    command = "uv run --frozen pytest -n auto"
    assert command in README and command in ci
