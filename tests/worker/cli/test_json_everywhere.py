"""Every command a script drives takes ``--json`` and prints what it did as JSON (found by
trying every command: 13 had no ``--json``, and ``contacts add`` gave the new id in prose
only). Long-running services print logs, not results."""

from __future__ import annotations

import json
from typing import Any

import click
import typer.main

from tests.worker.cli.conftest import Cli
from worker.cli import app

SERVICES = {"webhooks", "scheduler", "worker", "sandbox serve", "console"}  # run until stopped
OWN_FILES = {"demo"}  # writes its figures to files of its own


def commands(command: click.Command, path: tuple[str, ...] = ()) -> dict[str, click.Command]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return {" ".join(path): command}
    found: dict[str, click.Command] = {}
    for name, sub in subcommands.items():
        found.update(commands(sub, (*path, name)))
    return found


def test_every_command_but_the_services_takes_json() -> None:
    every = commands(typer.main.get_command(app))
    assert len(every) > 40
    without = {
        name for name, command in every.items()
        if "--json" not in {opt for param in command.params for opt in getattr(param, "opts", [])}
    }  # fmt: skip
    assert without == SERVICES | OWN_FILES


# A new tenant requires a billing address (street, city, country).
ADDRESS = ("--set", "billing_street=Hauptstr. 1", "--set", "billing_city=Berlin", "--country", "DE")


def run_json(cli: Cli, *args: str) -> Any:
    result: Any = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_commands_that_lacked_it_print_what_they_did(cli: Cli) -> None:
    assert run_json(cli, "db", "upgrade")["after"] == run_json(cli, "db", "current")["newest"]
    customer = run_json(
        cli, "customers", "add", "--name", "Acme GmbH", "--email", "ap@acme.de", *ADDRESS
    )
    added = run_json(
        cli, "contacts", "add", str(customer["id"]), "--first-name", "Ann", "--email", "ann@acme.de"
    )
    assert (added["customer_id"], added["first_name"]) == (customer["id"], "Ann") and added["id"]
    contact = str(added["id"])
    assert run_json(cli, "contacts", "update", contact, "--job-title", "CFO")["job_title"] == "CFO"
    assert run_json(cli, "contacts", "set-primary", contact)["is_primary"] is True
    assert run_json(cli, "contacts", "remove", contact)["deleted_at"] is not None
    number = str(customer["id"])
    assert run_json(cli, "customers", "archive", number)["archived_at"] is not None
    assert run_json(cli, "customers", "reactivate", number)["archived_at"] is None
    assert run_json(cli, "customers", "block", number)["status"] == "blocked"
    assert run_json(cli, "customers", "reference", number, "billing", "INV-1") == {
        "customer_id": customer["id"],
        "system": "billing",
        "reference": "INV-1",
    }
    template = run_json(cli, "customers", "template")
    assert template["columns"][:2] == ["name", "email"] and template["file"] is None
    other = run_json(
        cli, "customers", "add", "--name", "Gone Ltd", "--email", "a@gone.co.uk", *ADDRESS
    )
    assert run_json(cli, "customers", "delete", str(other["id"])) == {
        "id": other["id"],
        "deleted": True,
        "purged": False,
    }
    assert run_json(cli, "db", "current")["database"] == run_json(cli, "db", "current")["newest"]


def test_connect_takes_no_secret_on_the_command_line(cli: Cli) -> None:
    """The README says secrets are read from the environment only; --access-token on the
    command line stays in shell history and the process list."""
    run_json(cli, "db", "upgrade")
    result: Any = cli(
        "connect", "hubspot", "--portal-id", "123", "--access-token", "pat-na1-secret"
    )
    assert result.exit_code == 2, result.output
    assert "set CRMSYNC_HUBSPOT_ACCESS_TOKEN instead" in result.output
    assert "pat-na1-secret" not in result.output
    listed = run_json(cli, "connections", "list")
    assert listed == []


def test_a_mistyped_tenant_is_refused_not_made(cli: Cli) -> None:
    """Found by trying it: a mistyped --tenant silently made an empty tenant, and the
    command then showed an empty directory."""
    run_json(cli, "db", "upgrade")
    run_json(
        cli, "customers", "add", "--name", "Acme GmbH", "--email", "ap@acme.de", *ADDRESS
    )  # default
    typo: Any = cli("--tenant", "acme-bokks", "customers", "list")
    assert typo.exit_code == 1
    assert "no tenant 'acme-bokks' (the tenants: default)" in " ".join(typo.stderr.split())
    assert "crmsync tenants add acme-bokks" in " ".join(typo.stderr.split())
    assert [row["slug"] for row in run_json(cli, "tenants", "list")] == ["default"]
    imported: Any = cli("--tenant", "acme-bokks", "customers", "import", "missing.csv")
    assert imported.exit_code in (1, 2) and "Traceback" not in imported.output
    added = run_json(cli, "tenants", "add", "acme-books", "--name", "Acme Books")
    assert added["slug"] == "acme-books"
    assert run_json(cli, "--tenant", "acme-books", "customers", "list")["total"] == 0
    assert {row["slug"]: row["customers"] for row in run_json(cli, "tenants", "list")} == {
        "acme-books": 0,
        "default": 1,
    }
    again: Any = cli("tenants", "add", "acme-books")
    assert again.exit_code == 1 and "exists already" in again.stderr
    bad: Any = cli("tenants", "add", "Acme Books!")
    assert bad.exit_code == 2 and "lower-case" in bad.stderr
