"""``python -m bench profile``: one inbound pass under cProfile, in a process of its own,
prints its CPU per record and the top functions and writes a pstats file. Nothing here
asserts on timing."""

from __future__ import annotations

import os
import pstats
import subprocess
import sys
from pathlib import Path

import pytest

from bench.profile import profile_sizes

ROOT = Path(__file__).resolve().parents[2]


def test_the_records_are_split_in_thirds_unless_a_kind_is_given() -> None:
    sizes = profile_sizes(3_000, None, None, None)
    assert (sizes.companies, sizes.contacts, sizes.accounts) == (1_000, 1_000, 1_000)
    assert profile_sizes(10, None, 0, None).total == 3 + 0 + 4
    assert profile_sizes(300, 50, None, 7).total == 50 + 100 + 7


@pytest.mark.timeout(180)
def test_a_tiny_profile_prints_the_cpu_per_record_and_both_tables(tmp_path: Path) -> None:
    out = tmp_path / "pass.pstats"
    command = ["profile", "--records", "12", "--top", "5", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "µs of CPU per record read under cProfile (12 records" in done.stdout
    assert "top 5 by cumulative time" in done.stdout and "top 5 by own time" in done.stdout
    assert "worker/sync/passes.py" in done.stdout  # the pass itself is in the profile
    stats = pstats.Stats(str(out))
    assert any(name == "incremental" for _, _, name in stats.stats)  # type: ignore[attr-defined]


def test_database_url_and_postgres_are_one_or_the_other() -> None:
    from typer.testing import CliRunner

    from bench.cli import app

    result = CliRunner().invoke(app, ["profile", "--postgres", "--database-url", "sqlite://"])
    assert result.exit_code == 2 and "not both" in result.output


def with_postgres_url(url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Python run with these arguments, ``CRMSYNC_TEST_POSTGRES_URL`` set to ``url``."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
        env={**os.environ, "CRMSYNC_TEST_POSTGRES_URL": url},
    )


@pytest.mark.timeout(60)
def test_a_postgres_url_that_is_not_one_is_named_not_a_traceback() -> None:
    done = with_postgres_url("not a url", "-m", "bench", "profile", "--postgres", "--records", "3")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "CRMSYNC_TEST_POSTGRES_URL is not a database URL" in output
    assert "Traceback" not in output


def test_an_empty_postgres_url_means_this_machine_s_server() -> None:
    done = with_postgres_url(
        "", "-c", "from bench.csv_import import POSTGRES_URL; print(POSTGRES_URL)"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
