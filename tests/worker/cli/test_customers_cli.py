"""The CLI as a user runs it: clear errors, non-zero exits, nothing written on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from customers import db
from tests.worker.cli.conftest import Cli, upgraded


def test_commands_refuse_to_run_before_the_schema_exists(cli: Cli) -> None:
    result = cli("customers", "list")
    assert result.exit_code == 1
    assert "run `crmsync db upgrade` first" in " ".join(result.stderr.split())


def test_db_upgrade_is_idempotent(cli: Cli) -> None:
    head = db.head_revision()
    assert f"schema upgraded empty -> {head}" in cli("db", "upgrade").stdout
    assert f"schema already at {head}" in cli("db", "upgrade").stdout


def test_add_show_update_and_json(cli: Cli) -> None:
    upgraded(cli)
    added = cli("customers", "add", "--name", "Acme Corp", "--email", "AP@Acme.com", "--country", "Germany",
                "--set", "billing_city=Köln", "--custom", "segment=smb", "--json")  # fmt: skip
    assert added.exit_code == 0, added.stderr
    customer = json.loads(added.stdout)
    assert (customer["email"], customer["billing_country"], customer["billing_city"]) == (
        "ap@acme.com",
        "DE",
        "Köln",
    )
    assert customer["custom_properties"] == {"segment": "smb"}
    updated = cli(
        "customers",
        "update",
        str(customer["id"]),
        "--credit-limit",
        "1500",
        "--expected-version",
        "1",
    )
    assert "version 2" in updated.stdout
    shown = json.loads(cli("customers", "show", str(customer["id"]), "--json").stdout)
    assert shown["credit_limit"] == "1500.00" and shown["version"] == 2


def test_bad_email_is_a_clear_error_and_writes_nothing(cli: Cli) -> None:
    upgraded(cli)
    result = cli("customers", "add", "--name", "Bad Co", "--email", "bad-at-example.com")
    assert result.exit_code == 2
    assert "invalid --email" in result.stderr and "nothing was written" in result.stderr
    listing = json.loads(cli("customers", "list", "--json").stdout)
    assert listing["total"] == 0


def test_errors_name_the_option_typed_and_set_lists_its_fields(cli: Cli) -> None:
    """Found by trying it: errors named internal fields (payment_terms_days) and --set's
    help listed no field names."""
    upgraded(cli)
    result = cli("customers", "add", "--name", "X", "--email", "x@x.de", "--payment-terms", "soon",
                 "--set", "billing_city=" + "x" * 121, "--set", "bogus=1", "--set", "category=bogus")  # fmt: skip
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "invalid --payment-terms: 'soon'" in text and "payment_terms_days" not in text
    assert "invalid --set billing_city: is 121 characters long; the limit is 120" in text
    assert "invalid --set bogus: is not a known field; --set takes: billing_city," in text
    assert "invalid --set category: 'bogus' is not a category" in text
    help_text = " ".join(cli("customers", "add", "--help").stdout.split())
    assert "shipping_country" in help_text and "registration_number" in help_text


def test_stale_version_and_unknown_customer(cli: Cli) -> None:
    upgraded(cli)
    cli("customers", "add", "--name", "Acme", "--email", "a@acme.com")
    cli("customers", "update", "1", "--notes", "first")
    stale = cli("customers", "update", "1", "--notes", "second", "--expected-version", "1")
    assert stale.exit_code == 1 and "changed by someone else" in " ".join(stale.stderr.split())
    missing = cli("customers", "show", "99")
    assert missing.exit_code == 1 and "customer 99 not found" in missing.stderr


def test_list_and_search_paginate(cli: Cli) -> None:
    upgraded(cli)
    for index in range(5):  # branches of one business: the same domain, added on purpose
        name, email = f"Acme Branch {index}", f"b{index}@acme.com"
        cli("customers", "add", "--name", name, "--email", email, "--allow-duplicate")
    page = json.loads(cli("customers", "list", "--per-page", "2", "--page", "3", "--json").stdout)
    assert page["total"] == 5 and [c["name"] for c in page["customers"]] == ["Acme Branch 4"]
    found = json.loads(
        cli("customers", "search", "acme branch", "--per-page", "3", "--json").stdout
    )
    assert found["total"] == 5 and len(found["matches"]) == 3


def test_archive_reactivate_block_and_delete(cli: Cli) -> None:
    upgraded(cli)
    cli("customers", "add", "--name", "Acme", "--email", "a@acme.com")
    cli("customers", "archive", "1")
    assert json.loads(cli("customers", "list", "--json").stdout)["total"] == 0
    assert json.loads(cli("customers", "list", "--archived", "--json").stdout)["total"] == 1
    cli("customers", "reactivate", "1")
    cli("customers", "block", "1")
    assert json.loads(cli("customers", "show", "1", "--json").stdout)["can_be_invoiced"] is False
    cli("customers", "reference", "1", "billing", "INV-7")
    again = cli("customers", "reference", "1", "billing", "INV-7")  # recorded once, no traceback
    assert again.exit_code == 0 and "Traceback" not in again.stdout + again.stderr
    refused = cli("customers", "delete", "1", "--purge")
    assert refused.exit_code == 1 and "billing:INV-7" in refused.stderr
    assert cli("customers", "delete", "1").exit_code == 0
    assert json.loads(cli("customers", "show", "1", "--json").stdout)["deleted_at"] is not None


def test_contacts_commands(cli: Cli) -> None:
    upgraded(cli)
    cli("customers", "add", "--name", "Acme", "--email", "a@acme.com", "--country", "US")
    cli("contacts", "add", "1", "--first-name", "Ann", "--roles", "primary,billing")
    cli("contacts", "add", "1", "--first-name", "Bob", "--phone", "(415) 555-0100")
    cli("contacts", "set-primary", "2")
    rows = json.loads(cli("contacts", "list", "1", "--json").stdout)
    assert [(r["first_name"], r["is_primary"], r["phone"]) for r in rows] == [
        ("Bob", True, "+14155550100"), ("Ann", False, None),
    ]  # fmt: skip
    missing_name = cli("contacts", "add", "1", "--first-name", " ")
    assert missing_name.exit_code == 2 and "first_name: is required" in missing_name.stderr


def test_the_installed_console_script_runs(tmp_path: Path) -> None:
    """The real entry point, as a user types it, including its exit code."""
    env = {**os.environ, "CRMSYNC_DATA_DIR": str(tmp_path / "data")}
    crmsync = Path(sys.executable).parent / "crmsync"
    upgrade = subprocess.run(
        [crmsync, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert upgrade.returncode == 0, upgrade.stderr
    bad = subprocess.run(
        [crmsync, "customers", "add", "--name", "X", "--email", "nope"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "invalid --email" in bad.stderr


def test_list_hides_inactive_customers_and_refuses_an_unknown_status(cli: Cli) -> None:
    upgraded(cli)
    cli("customers", "add", "--name", "Acme", "--email", "a@acme.com")
    cli(
        "customers",
        "add",
        "--name",
        "Dormant",
        "--email",
        "d@dormant.com",
        "--set",
        "status=inactive",
    )
    listed = json.loads(cli("customers", "list", "--json").stdout)
    assert [c["name"] for c in listed["customers"]] == ["Acme"]
    listed = json.loads(cli("customers", "list", "--inactive", "--json").stdout)
    assert [c["name"] for c in listed["customers"]] == ["Acme", "Dormant"]
    listed = json.loads(cli("customers", "list", "--status", "inactive", "--json").stdout)
    assert [c["name"] for c in listed["customers"]] == ["Dormant"]
    bogus = cli("customers", "list", "--status", "bogus")
    assert bogus.exit_code == 2 and "bogus" in bogus.stderr and "Traceback" not in bogus.stderr
