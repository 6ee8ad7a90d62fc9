"""``.env.example`` lists every setting, as generated from ``worker/settings.py``."""

from __future__ import annotations

import re
from pathlib import Path

from worker.dotenv_example import EXAMPLE_PATH, render
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _assigned(text: str, *, commented: bool) -> set[str]:
    prefix = r"(?:# )?" if commented else ""
    return set(re.findall(rf"^{prefix}([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_the_example_lists_exactly_the_settings() -> None:
    listed = _assigned(EXAMPLE_PATH.read_text(), commented=True)
    actual = {f"CRMSYNC_{name.upper()}" for name in Settings.model_fields}
    assert {name for name in listed if name.startswith("CRMSYNC_")} == actual


def test_the_example_is_what_the_generator_writes() -> None:
    assert EXAMPLE_PATH == ROOT / ".env.example"
    assert EXAMPLE_PATH.read_text() == render(), "run: uv run python -m worker.dotenv_example"


def test_the_example_sets_what_compose_refuses_to_start_without() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", compose))
    assert required >= {"POSTGRES_PASSWORD", "CRMSYNC_ENCRYPTION_KEY"}
    assert required <= _assigned(EXAMPLE_PATH.read_text(), commented=False)
