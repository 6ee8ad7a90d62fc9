"""The benchmark harness runs end to end on tiny sizes and writes every figure with its
reference, and both pictures. Nothing here asserts on timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import projection, targets
from bench.options import build_options, sections
from bench.report import Figure, Reference
from tests.services import require_postgres, require_redis

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def test_sections_are_checked_and_kept_in_order() -> None:
    assert sections(["incremental,full", "memory"]) == ("full", "incremental", "memory")
    assert sections(None)[0] == "full"
    with pytest.raises(ValueError, match="unknown section"):
        sections(["fast"])


def test_the_large_profile_and_explicit_sizes() -> None:
    large = build_options(large=True)
    assert (large.sizes.companies, large.sizes.contacts, large.sizes.accounts) == (100_000,) * 3
    assert large.memory_sizes.companies == 10_000 and large.webhook_seconds == 30
    default = build_options()
    assert default.sizes.total == 30_000 and default.memory_sizes.companies == 2_000
    custom = build_options(records=500, accounts=50)
    assert (custom.sizes.companies, custom.sizes.contacts, custom.sizes.accounts) == (500, 500, 50)


def test_python_m_bench_checks_its_options_and_the_product_cli_offers_no_harness() -> None:
    from typer.testing import CliRunner

    from bench.cli import app as bench_app
    from worker.cli import app

    result = CliRunner().invoke(bench_app, ["--only", "fast"])
    assert result.exit_code == 1
    assert "unknown section(s) fast" in result.output
    soak = CliRunner().invoke(bench_app, ["soak", "--records", "3"])
    assert soak.exit_code == 2 and "--records" in soak.output
    # The installed product CLI offers neither: its image does not ship bench/.
    for command in ("bench", "soak"):
        refused = CliRunner().invoke(app, [command, "--help"])
        assert refused.exit_code == 2 and "No such command" in refused.output
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, worker.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'bench'))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert imported.stdout.strip() == "[]"


def test_a_first_sync_of_a_million_projected_from_hubspots_published_limits() -> None:
    listed, searched = projection.first_sync("list"), projection.first_sync("search")
    assert (listed.calls, round(listed.minutes, 1)) == (10_001, 8.8)  # 100 a page, 19/s
    assert (searched.calls, round(searched.minutes, 1)) == (5_002, 16.7)  # 200 a call, 5/s
    assert projection.first_sync("list", 250).calls == 4  # three pages and the recycle bin
    assert projection.api_used({"companies.list": 3}) == "list"
    assert projection.api_used({"companies.list": 1, "companies.search": 2}) == "search"
    with pytest.raises(ValueError, match="unknown HubSpot API"):
        projection.first_sync("bulk")


def test_targets_take_now_from_the_runs_figures_or_say_not_measured() -> None:
    assert {row["now"] for row in targets.rows([])} == {targets.NOT_MEASURED}
    figures = [
        Figure("full", "inbound sync, end to end", 1234.0, "records/s", ratios={"crmsync/peer": 0.25},
               details={"worker_cpu_s": {1: 3.0, 2: 1.0}}),
        Figure("full", "worker CPU per inbound record", 635.4, "µs/record"),
        Figure("memory", "worker peak RSS after a full sync of 30,000 records", 280.0, "MB",
               [Reference("the same after 6,000 records", 190.0, "MB")], ratios={"large/small": 1.47}),
    ]  # fmt: skip
    now = {row["figure"]: row["now"] for row in targets.rows(figures)}
    assert now[targets.TARGETS[0].figure] == "635 µs"
    assert now[targets.TARGETS[1].figure] == (
        "1,234 records/s; 2 worker processes, the busiest 75% of their CPU"
    )
    assert now[targets.TARGETS[2].figure] == "0.25x"
    assert now[targets.TARGETS[6].figure] == "1.47x (6,000 records to 30,000 records)"
    assert now[targets.TARGETS[4].figure] == targets.NOT_MEASURED


def test_no_product_module_imports_the_harness() -> None:
    products = ("customers", "connectors", "mappings", "worker", "sandbox")
    offenders = [
        str(path.relative_to(ROOT))
        for package in products
        for path in (ROOT / package).rglob("*.py")
        if any(
            line.lstrip().startswith(("import bench", "from bench"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(180)
def test_a_tiny_run_writes_every_figure_with_its_reference_and_both_pngs(tmp_path: Path) -> None:
    require_postgres()
    redis_url = require_redis()
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--records", "100", "--only", "full,incremental", "--naive-seconds", "2",
         "--redis-url", redis_url, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    body = json.loads((out / "results.json").read_text())
    assert body["run"]["sections"] == ["full", "incremental"]
    assert body["run"]["sizes"]["accounts"] == 100
    figures = {(f["section"], f["name"]): f for f in body["figures"]}
    assert {section for section, _ in figures} == {"full", "incremental"}
    for (section, name), figure in figures.items():
        assert figure["value"] is not None, (section, name)
        assert figure["unit"], (section, name)
        assert figure["references"], (section, name)
        assert all(ref["value"] is not None for ref in figure["references"]), (section, name)
    sync = figures[("full", "inbound sync, end to end")]
    assert {ref["name"] for ref in sync["references"]} == {
        "limit: sandbox alone",
        "limit: PostgreSQL alone",
        "naive peer",
        "well-written peer",
    }
    assert sync["ratios"]["crmsync/limit"] and sync["ratios"]["crmsync/naive"]
    assert sync["ratios"]["crmsync/peer"]
    peer = sync["details"]["references"]["peer"]
    assert peer["records"] == peer["stored"] == 300 and peer["cpu_us_per_record"] > 0
    cpu = figures[("full", "worker CPU per inbound record")]
    assert cpu["unit"] == "µs/record" and cpu["ratios"]["crmsync CPU/peer CPU"]
    projected = figures[("full", "projected first sync of 1,000,000 HubSpot companies")]
    assert projected["details"]["api"] == "list"  # a first sync lists
    assert projected["details"]["companies"]["by_endpoint"] == {"companies.list": 2}
    assert "companies.search" in projected["details"]["companies_by_search"]["by_endpoint"]
    assert sync["target"] and sync["met"] in (True, False)
    calls = figures[("full", "inbound sync, API calls")]
    assert calls["ratios"]["calls/minimum"] and calls["met"] in (True, False)
    assert len(body["samples"]["inbound_applied"]) >= 2
    for picture in ("webhook_latency.png", "inbound_throughput.png"):
        assert (out / picture).read_bytes()[:8] == PNG
    assert "inbound sync, end to end" in done.stdout  # the table
    # The targets, each with this run's figure where it measured one.
    rows = {row["figure"].split(" (")[0].split(",")[0]: row for row in body["run"]["targets"]}
    assert len(rows) == len(targets.TARGETS)
    measured = ("worker CPU per inbound record", "full inbound sync", "ratio to the well-written peer",
                "projected first sync of 1")  # fmt: skip
    for name, row in rows.items():
        assert (row["now"] != targets.NOT_MEASURED) == name.startswith(measured), row
    assert rows["projected first sync of 1"]["now"].startswith("list: 8.8 min (search: 16.7 min)")
    assert "Targets" in done.stdout and targets.NOT_MEASURED in done.stdout
    assert "[dim]" not in done.stdout and "[bold]" not in done.stdout  # styled, not printed


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_the_prune_section_measures_rows_per_second_transactions_and_the_longest(
    tmp_path: Path,
) -> None:
    require_postgres()
    assert build_options(only=["prune"], prune_rows=5).prune_rows == 5
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "prune", "--prune-rows", "12000", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    body = json.loads((out / "results.json").read_text())
    assert body["run"]["sections"] == ["prune"] and body["run"]["sizes_label"] == "prune only"
    [figure] = body["figures"]
    assert figure["section"] == "prune" and figure["value"] > 0 and figure["unit"] == "rows/s"
    details = figure["details"]
    assert (details["deleted"], details["left"]) == (12_000, details["young_rows"])
    assert details["transactions"] == 3  # 5,000 + 5,000 + 2,000
    assert 0 < details["longest_transaction_ms"] == figure["references"][0]["value"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(180)
def test_the_rounds_section_syncs_each_connection_from_its_own_portal(tmp_path: Path) -> None:
    require_postgres()
    redis_url = require_redis()
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "rounds", "--round-connections", "3", "--round-changes", "4",
         "--redis-url", redis_url, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    body = json.loads((out / "results.json").read_text())
    [figure] = body["figures"]
    assert figure["name"] == "incremental round over 3 connections, 4 changes each"
    assert figure["value"] > 0 and figure["unit"] == "s"
    # Every run ended ok (the section fails otherwise) and read the changes, no more.
    assert figure["details"]["changes"] == 12 == figure["details"]["records_read"]
    assert figure["details"]["api_calls"] > 0
    rows = {row["figure"]: row["now"] for row in body["run"]["targets"]}
    assert (
        rows[targets.TARGETS[7].figure]
        == f"{figure['value']:,.1f} s (3 connections, 4 changes each)"
    )


def test_the_portal_farm_serves_each_portal_under_its_own_prefix() -> None:
    import httpx

    from bench.rounds import PortalFarm

    with PortalFarm(2, companies_each=3) as farm:
        farm.portals[1].create("companies", {"name": "Only In Portal One"})

        def names(number: int) -> list[str]:
            listed = httpx.get(
                f"{farm.url(number)}/crm/v3/objects/companies",
                params={"properties": "name"},
                headers={"Authorization": f"Bearer {farm.portals[number].access_token}"},
            )
            assert listed.status_code == 200, listed.text
            return [row["properties"]["name"] for row in listed.json()["results"]]

        assert len(names(0)) == 3 and "Only In Portal One" not in names(0)
        assert len(names(1)) == 4 and "Only In Portal One" in names(1)
        assert httpx.get(farm.url(0).replace("/portal/0", "/portal/7") + "/x").status_code == 404
        assert httpx.get(farm.url(0).replace("/portal/0", "/portal/x") + "/x").status_code == 404
