"""``customers alias``, ``copy``, ``link`` and ``unlink``, and what ``show`` and ``search``
tell of a customer's identity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from sandbox.hubspot import HubSpotSandbox
from tests.customers.helpers import row_counts
from tests.worker.cli.conftest import Cli, upgraded
from worker import database
from worker.settings import get_settings


def run_json(cli: Cli, *args: str) -> Any:
    result: Any = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None) as sandbox:
        yield sandbox


def test_aliases_from_the_command_line(cli: Cli) -> None:
    upgraded(cli)
    run_json(cli, "customers", "add", "--name", "Acme GmbH", "--email", "ap@acme.de")
    run_json(cli, "customers", "add", "--name", "Globex", "--email", "ap@globex.example")
    added = run_json(cli, "customers", "alias", "add", "1", "ERP", "C-1001")
    assert added == {"customer_id": 1, "system": "erp", "reference": "C-1001"}
    run_json(cli, "customers", "alias", "add", "1", "shop", "77")
    listed = run_json(cli, "customers", "alias", "list", "1")["aliases"]
    assert listed == [
        {"system": "erp", "reference": "C-1001"},
        {"system": "shop", "reference": "77"},
    ]
    shown = run_json(cli, "customers", "show", "1")
    assert shown["aliases"] == listed and shown["links"] == []
    table: Any = cli("customers", "show", "1")
    assert "alias: erp:C-1001" in table.stdout and "links: none" in table.stdout

    found = run_json(cli, "customers", "search", "erp:c-1001")["matches"]
    assert [(m["id"], m["matched_on"]) for m in found] == [(1, "alias")]

    taken: Any = cli("customers", "alias", "add", "2", "erp", "C-1001")
    assert taken.exit_code == 1 and "already names customer 1" in taken.stderr
    bad: Any = cli("customers", "alias", "add", "2", "erp/x", "C-1")
    assert (
        bad.exit_code == 2 and "alias.system" in bad.stderr and "nothing was written" in bad.stderr
    )
    assert run_json(cli, "customers", "alias", "list", "2")["aliases"] == []

    removed = run_json(cli, "customers", "alias", "remove", "1", "shop", "77")
    assert removed["removed"] is True
    missing: Any = cli("customers", "alias", "remove", "1", "shop", "77")
    assert missing.exit_code == 1 and "not found" in missing.stderr
    unknown: Any = cli("customers", "alias", "list", "99")
    assert unknown.exit_code == 1 and "customer 99 not found" in unknown.stderr


def test_copy_from_the_command_line(cli: Cli) -> None:
    upgraded(cli)
    run_json(
        cli,
        "customers",
        "add",
        "--name",
        "Acme GmbH",
        "--email",
        "ap@acme.de",
        "--currency",
        "EUR",
        "--payment-terms",
        "net 14",
        "--country",
        "DE",
        "--tax-id",
        "DE123456789",
        "--custom",
        "tier=gold",
    )
    copied = run_json(
        cli, "customers", "copy", "1", "--name", "Initech AG", "--set", "billing_city=Bonn"
    )
    assert copied["copied_from"] == 1 and copied["id"] == 2
    assert (copied["currency"], copied["payment_terms_days"], copied["billing_country"]) == (
        "EUR",
        14,
        "DE",
    )
    assert copied["billing_city"] == "Bonn" and copied["custom_properties"] == {"tier": "gold"}
    assert (copied["email"], copied["tax_id"], copied["can_be_invoiced"]) == (None, None, False)

    taken: Any = cli("customers", "copy", "1", "--name", "Other", "--email", "AP@acme.de")
    assert taken.exit_code == 2 and "--email" in taken.stderr
    bad: Any = cli("customers", "copy", "1", "--name", "Other", "--set", "currency=XXX1")
    assert bad.exit_code == 2 and "--set currency" in bad.stderr
    # The duplicate check of `customers add`: a sure duplicate is refused.
    dup: Any = cli("customers", "copy", "1", "--name", "Acme GmbH", "--email", "x@acme.de")
    assert dup.exit_code == 1 and "same business" in dup.stderr
    total = run_json(cli, "customers", "list")["total"]
    assert total == 2


def test_link_show_and_unlink_from_the_command_line(
    cli: Cli, hubspot: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgraded(cli)
    run_json(
        cli,
        "customers",
        "add",
        "--name",
        "Acme GmbH",
        "--email",
        "ap@acme.de",
        "--notes",
        "Invoices by email",
    )
    run_json(cli, "customers", "add", "--name", "Globex", "--email", "ap@globex.example")
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
    connected: Any = cli(
        "connect",
        "hubspot",
        "--portal-id",
        str(hubspot.portal_id),
        "--base-url",
        hubspot.url,
        "--no-auto-create",
    )
    assert connected.exit_code == 0, connected.output
    company = hubspot.create("companies", {"name": "Acme GmbH", "city": "Köln"})

    missing: Any = cli("customers", "link", "1", "--connection", "1", "--external-id", "123456")
    assert missing.exit_code == 1 and "hubspot company 123456 not found" in missing.stderr
    linked = run_json(
        cli, "customers", "link", "1", "--connection", "1", "--external-id", company["id"]
    )
    assert linked["filled_locally"]["billing_city"] == "Köln"
    assert "description" in linked["to_push"]
    # Pushed at once: the CRM has our id and the notes.
    record = hubspot.get("companies", company["id"])
    assert record is not None
    assert record["properties"]["crmsync_id"] == "1"
    assert record["properties"]["description"] == "Invoices by email"

    shown = run_json(cli, "customers", "show", "1")
    [link] = shown["links"]
    assert (link["connection_id"], link["crm"], link["external_id"]) == (
        1,
        "hubspot",
        company["id"],
    )
    assert link["last_synced_at"] is not None
    table: Any = cli("customers", "show", "1")
    assert f"company {company['id']}" in table.stdout

    again: Any = cli("customers", "link", "2", "--connection", "1", "--external-id", company["id"])
    assert again.exit_code == 1 and "already linked to customer 1" in again.stderr
    other_tenant: Any = cli(
        "--tenant",
        "other",
        "customers",
        "link",
        "1",
        "--connection",
        "1",
        "--external-id",
        company["id"],
    )
    assert other_tenant.exit_code == 1

    unlinked = run_json(cli, "customers", "unlink", "1", "--connection", "1")
    assert unlinked["unlinked"] is True and unlinked["id_released"] is True
    assert run_json(cli, "customers", "show", "1")["links"] == []
    record = hubspot.get("companies", company["id"])
    assert record is not None and not record["properties"].get("crmsync_id")
    twice: Any = cli("customers", "unlink", "1", "--connection", "1")
    assert twice.exit_code == 1 and "not found" in twice.stderr


@pytest.fixture
def db_cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """``crmsync`` on the test's database: SQLite and PostgreSQL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CRMSYNC_TENANT", raising=False)
    get_settings.cache_clear()
    database.reset()
    cli = Cli(CliRunner())
    upgraded(cli)  # (the engine is migrated: this lets its customers go without an address)
    yield cli
    database.reset()
    get_settings.cache_clear()


@pytest.mark.parametrize("number", [str(2**31), str(2**63), str(2**64)])
def test_an_id_no_database_can_hold_is_not_found(db_cli: Cli, engine: Engine, number: str) -> None:
    # Each reached SQL: PostgreSQL's integer out of range, SQLite's OverflowError (tracebacks).
    run_json(db_cli, "customers", "add", "--name", "Acme GmbH", "--email", "ap@acme.de")
    before = row_counts(engine)
    for args, what in (
        (["customers", "alias", "add", number, "erp", "C-1"], "customer"),
        (["customers", "alias", "list", number], "customer"),
        (["customers", "copy", number, "--name", "X"], "customer"),
        (["customers", "link", "1", "--connection", number, "--external-id", "5"], "connection"),
        (["customers", "unlink", "1", "--connection", number], "connection"),
        (["customers", "update", number, "--set", "invoice_cc=a@b.io"], "customer"),
        (["contacts", "update", number, "--department", "AP"], "contact"),
    ):
        result: Any = db_cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert f"{what} {number} not found" in result.stderr, args
    stale: Any = db_cli("customers", "update", "1", "--name", "B", "--expected-version", number)
    assert stale.exit_code == 2 and "--expected-version" in stale.stderr
    assert row_counts(engine) == before


def test_arguments_that_are_not_utf8_are_refused_naming_the_option(
    db_cli: Cli, engine: Engine
) -> None:
    # A shell argument of bytes that are not UTF-8 reaches Python as lone surrogates; each
    # of these ended in a UnicodeEncodeError traceback when the database was asked.
    run_json(db_cli, "customers", "add", "--name", "Acme GmbH", "--email", "ap@acme.de")
    before = row_counts(engine)
    for args, option in (
        (["customers", "add", "--name", "Acme\udcff", "--email", "b@acme.de"], "--name"),
        (["customers", "search", "acme\udcff"], "QUERY"),
        (["customers", "update", "1", "--set", "billing_city=K\udcffln"], "--set"),
        (["customers", "alias", "add", "1", "erp", "C-\udcff"], "REFERENCE"),
        (["customers", "copy", "1", "--name", "\udcff"], "--name"),
        (["contacts", "add", "1", "--first-name", "A", "--receives", "\udcff"], "--receives"),
    ):
        result: Any = db_cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert f"invalid {option}: is not valid UTF-8 text" in result.stderr, args
    tenant: Any = db_cli("--tenant", "acme\udcff", "customers", "list")
    assert tenant.exit_code == 1 and "no tenant 'acme\\udcff'" in tenant.stderr
    assert row_counts(engine) == before


def test_text_that_looks_like_markup_is_printed_as_typed(cli: Cli) -> None:
    # Names, aliases and reasons were printed as Rich markup: a "[/]" in one stopped the
    # command with a MarkupError traceback, after its write (alias add, copy) was committed.
    upgraded(cli)
    run_json(cli, "customers", "add", "--name", "Acme [/]", "--email", "ap@acme.de")
    for args, shown in (
        (["customers", "alias", "add", "1", "erp", "[/]C-1"], "alias erp:[/]C-1"),
        (["customers", "alias", "list", "1"], "[/]C-1"),
        (["customers", "show", "1"], "alias: erp:[/]C-1"),
        (["customers", "list"], "Acme [/]"),
        (["customers", "copy", "1", "--name", "[bold]Copy[/]"], "added customer 2: [bold]Copy[/]"),
        (
            ["contacts", "add", "1", "--first-name", "[/]Ann", "--department", "[red]AP"],
            "contact 1",
        ),
        (["contacts", "list", "1"], "[/]Ann"),
    ):
        result: Any = cli(*args)
        assert result.exit_code == 0 and shown in result.stdout, (args, result.output)
    taken: Any = cli("customers", "alias", "add", "2", "erp", "[/]C-1")
    assert taken.exit_code == 1 and "alias erp:[/]C-1 already names customer 1" in taken.stderr
    bad: Any = cli("customers", "update", "1", "--email", "[/]")
    assert bad.exit_code == 2 and "'[/]' is not a valid email" in bad.stderr
