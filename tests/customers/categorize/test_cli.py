"""The categorization commands as an operator runs them, on SQLite and PostgreSQL.

Without a broker URL the commands run their jobs on worker threads in the CLI process and
wait; with one they only schedule. The scheduling-only case is exercised by telling the
command a broker exists: its messages then stay in the in-process queue, unrun, exactly as
they would sit in Redis until a worker takes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from sandbox.llm import LLMSandbox
from worker import database
from worker.cli import app, background
from worker.jobs.broker import broker
from worker.settings import get_settings

# The default tenant requires a billing address.
ADDRESS = ("--set", "billing_street=Hauptstr. 1", "--set", "billing_city=Berlin", "--country", "DE")


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("CRMSYNC_BROKER_URL", raising=False)
    get_settings.cache_clear()
    database.reset()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    broker.flush_all()
    database.reset()
    get_settings.cache_clear()


def add_customers(cli: Any, names: list[str]) -> list[int]:
    ids = []
    for name in names:
        email = "".join(ch for ch in name.lower() if ch.isalnum()) + "@example.com"
        result = cli("customers", "add", "--name", name, "--email", email, *ADDRESS, "--json")
        assert result.exit_code == 0, result.stderr
        ids.append(json.loads(result.stdout)["id"])
    return ids


def auto(cli: Any, limit: int) -> dict[str, Any]:
    result = cli("customers", "auto-categorize", "--limit", str(limit), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def shown(cli: Any, customer_id: int) -> dict[str, Any]:
    return json.loads(cli("customers", "show", str(customer_id), "--json").stdout)


def test_auto_categorize_runs_here_in_chunks_and_skips_categorized(cli: Any) -> None:
    ids = add_customers(cli, ["Acme Software", "Hotel Adler", "Meyer Logistics", "Big River Bank",
                              "Kim's Bakery", "Springfield Council"])  # fmt: skip
    assert cli("customers", "set-category", str(ids[0]), "retail", "stores").exit_code == 0
    assert cli("customers", "categorize", str(ids[1])).exit_code == 0
    before = shown(cli, ids[1])["categorized_at"]

    first = auto(cli, 2)
    assert (first["customer_ids"], first["succeeded"], first["failed"]) == (ids[2:4], ids[2:4], [])
    assert (first["uncategorized"], first["unscheduled"]) == (2, 2)
    second, third = auto(cli, 2), auto(cli, 2)
    assert second["customer_ids"] == ids[4:6] and third["scheduled"] == 0
    assert third["uncategorized"] == 0
    assert shown(cli, ids[0])["category"] == "retail"  # manual: untouched
    assert shown(cli, ids[1])["categorized_at"] == before  # categorized: not scheduled again
    assert (shown(cli, ids[3])["category"], shown(cli, ids[3])["subcategory"]) == (
        "finance",
        "banking",
    )


def test_rerunning_before_the_jobs_ran_does_not_schedule_twice(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_customers(cli, [f"Customer {n}" for n in range(5)])
    monkeypatch.setattr(background, "embedded", lambda: False)  # a worker elsewhere will run them
    first, second, third = auto(cli, 3), auto(cli, 3), auto(cli, 3)
    assert (first["customer_ids"], second["customer_ids"], third["customer_ids"]) == (
        ids[:3],
        ids[3:],
        [],
    )
    queued = list(broker.queues["categorize"].queue)  # looked at, left for the teardown flush
    assert sorted(json.loads(m)["args"][0] for m in queued) == ids
    text = cli("customers", "auto-categorize").stdout
    assert "5 customer(s) waiting for their categorization job" in text


def test_limit_is_at_most_500(cli: Any) -> None:
    result = cli("customers", "auto-categorize", "--limit", "501")
    assert result.exit_code == 2
    assert "less than or equal to 500" in " ".join(result.stderr.replace("│", " ").split())


def test_set_category_is_manual_and_refuses_unknown_slugs(cli: Any) -> None:
    [customer_id] = add_customers(cli, ["Acme Software"])
    bad = cli("customers", "set-category", str(customer_id), "finance", "software")
    assert bad.exit_code == 2 and "not a subcategory of finance" in bad.stderr
    ok = cli("customers", "set-category", str(customer_id), "finance/banking", "--json")
    assert (json.loads(ok.stdout)["subcategory"], json.loads(ok.stdout)["source"]) == (
        "banking",
        "manual",
    )
    refused = cli("customers", "categorize", str(customer_id))
    assert refused.exit_code == 1 and "by hand" in " ".join(refused.stderr.split())
    assert "finance/banking" in cli("customers", "categories").stdout


def test_categorize_one_reports_a_permanent_failure(
    cli: Any, llm: LLMSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    [customer_id] = add_customers(cli, ["Acme Software"])
    monkeypatch.setenv("CRMSYNC_CATEGORIZER", "llm")
    monkeypatch.setenv("CRMSYNC_LLM_BASE_URL", llm.base_url)
    monkeypatch.setenv("CRMSYNC_LLM_MODEL", "m")
    monkeypatch.setenv("CRMSYNC_LLM_API_KEY", "sk-test-categorize-0123456789")
    get_settings.cache_clear()
    llm.malformed()
    result = cli("customers", "categorize", str(customer_id))
    assert result.exit_code == 1
    assert "categorization failed" in result.stderr and "spaceships" in result.stderr
    good = cli("customers", "categorize", str(customer_id), "--json")
    assert json.loads(good.stdout)["source"] == "llm:m"


def test_all_goes_chunk_by_chunk_until_none_is_left(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_customers(cli, [f"Acme Software {n}" for n in range(5)])
    result = cli("customers", "auto-categorize", "--limit", "2", "--all", "--json")
    report = json.loads(result.stdout)
    assert (report["chunks"], report["customer_ids"], report["succeeded"]) == (3, ids, ids)
    assert report["uncategorized"] == 0
    more = add_customers(cli, ["Later One", "Later Two", "Later Three"])
    monkeypatch.setattr(background, "embedded", lambda: False)
    report = json.loads(
        cli("customers", "auto-categorize", "--limit", "2", "--all", "--json").stdout
    )
    assert (report["chunks"], report["customer_ids"]) == (2, more)
    assert broker.queues["categorize"].qsize() == 3


def test_a_categorizer_that_is_down_is_one_line_not_worker_tracebacks(tmp_path: Path) -> None:
    """Found by trying it: with the LLM endpoint down, `customers categorize 1` printed the
    in-process worker's traceback for every attempt before its one-line error."""
    crmsync = str(Path(sys.executable).parent / "crmsync")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMSYNC_")}
    env.update(CRMSYNC_DATA_DIR=str(tmp_path), CRMSYNC_CATEGORIZER="llm", CRMSYNC_LLM_MODEL="m",
               CRMSYNC_LLM_BASE_URL="http://127.0.0.1:9/v1", CRMSYNC_RETRY_MIN_BACKOFF_S="0.05",
               CRMSYNC_RETRY_MAX_BACKOFF_S="0.1")  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [crmsync, *args], env=env, capture_output=True, text=True, timeout=120
        )

    assert run("db", "upgrade").returncode == 0
    assert (
        run("customers", "add", "--name", "Acme GmbH", "--email", "a@acme.de", *ADDRESS).returncode
        == 0
    )
    result = run("customers", "categorize", "1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "dramatiq" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "customer 1: categorization failed: llm connection: network: Connection error."
    ]
    env["CRMSYNC_LOG_LEVEL"] = "DEBUG"  # the tracebacks are there for debugging
    assert "Traceback" in run("customers", "categorize", "1").stderr
