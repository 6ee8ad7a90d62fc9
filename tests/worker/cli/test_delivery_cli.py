"""Invoice delivery from the command line: settings with --set, communications with
--receives / --no-receives, and where ``customers show`` says an invoice goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.worker.cli.conftest import Cli, upgraded


def run_json(cli: Cli, *args: str) -> Any:
    result: Any = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_invoice_delivery_from_the_command_line(cli: Cli) -> None:
    upgraded(cli)
    run_json(cli, "customers", "add", "--name", "Acme GmbH", "--email", "ap@acme.de")
    shown = run_json(cli, "customers", "show", "1")
    assert (shown["invoice_to"], shown["invoice_to_source"]) == (["ap@acme.de"], "customer_email")

    contact = run_json(
        cli,
        "contacts",
        "add",
        "1",
        "--first-name",
        "Bea",
        "--email",
        "bea@acme.de",
        "--roles",
        "billing",
        "--receives",
        "billing",
        "--receives",
        "Updates",
        "--department",
        "Accounts payable",
    )
    assert contact["communications"] == ["billing", "updates"]
    assert contact["department"] == "Accounts payable"
    shown = run_json(cli, "customers", "show", "1")
    assert (shown["invoice_to"], shown["invoice_to_source"]) == (["bea@acme.de"], "billing_contact")

    updated = run_json(
        cli,
        "contacts",
        "update",
        str(contact["id"]),
        "--receives",
        "legal",
        "--no-receives",
        "updates",
        "--notes",
        "Back on Mondays",
    )
    assert updated["communications"] == ["billing", "legal"]
    assert updated["notes"] == "Back on Mondays"
    missing: Any = cli("contacts", "update", str(contact["id"]), "--no-receives", "updates")
    assert missing.exit_code == 2 and "--no-receives updates" in missing.stderr
    bad: Any = cli("contacts", "update", str(contact["id"]), "--receives", "News Letter")
    assert bad.exit_code == 2 and "--receives News Letter" in bad.stderr
    assert run_json(cli, "contacts", "list", "1")[0]["communications"] == ["billing", "legal"]

    set_ = run_json(
        cli,
        "customers",
        "update",
        "1",
        "--set",
        "invoice_recipients=Inv@acme.de; ap@acme.de; inv@acme.de",
        "--set",
        "invoice_cc=cfo@acme.de",
        "--set",
        "invoice_sender_email=billing@us.example",
        "--set",
        "invoice_reply_to=accounts@us.example",
    )
    assert set_["invoice_recipients"] == ["inv@acme.de", "ap@acme.de"]
    shown = run_json(cli, "customers", "show", "1")
    assert (shown["invoice_to"], shown["invoice_to_source"]) == (
        ["inv@acme.de", "ap@acme.de"],
        "recipients",
    )
    assert (shown["invoice_cc"], shown["invoice_reply_to"]) == (
        ["cfo@acme.de"],
        "accounts@us.example",
    )
    table: Any = cli("customers", "show", "1")
    assert "invoice to: inv@acme.de, ap@acme.de (from recipients)" in table.stdout
    assert "receives billing, legal" in table.stdout

    wrong: Any = cli("customers", "update", "1", "--set", "invoice_recipients=ok@x.de, nope")
    assert wrong.exit_code == 2 and "invoice_recipients[2]" in wrong.stderr
    assert "nothing was written" in wrong.stderr
    assert run_json(cli, "customers", "show", "1")["invoice_recipients"] == [
        "inv@acme.de",
        "ap@acme.de",
    ]

    cleared = run_json(cli, "customers", "update", "1", "--set", "invoice_recipients=")
    assert cleared["invoice_recipients"] == []
    assert run_json(cli, "customers", "show", "1")["invoice_to_source"] == "billing_contact"


def test_import_and_template_take_the_delivery_columns(cli: Cli, tmp_path: Path) -> None:
    upgraded(cli)
    template = run_json(cli, "customers", "template")["columns"]
    for column in (
        "invoice_sender_email",
        "invoice_reply_to",
        "invoice_recipients",
        "invoice_cc",
        "contact_department",
        "contact_notes",
        "contact_receives",
    ):
        assert column in template
    path = tmp_path / "customers.csv"
    path.write_text(
        "name,email,invoice_recipients,invoice_cc,contact_first_name,contact_receives\n"
        'Acme,ap@acme.de,"inv@acme.de; ap2@acme.de",cfo@acme.de,Ann,"billing, legal"\n'
        "Bad,bad@bad.de,inv@bad.de; not-an-email,,Bo,billing\n"
        "Worse,worse@w.de,,,Cy,Legal Stuff\n",
        encoding="utf-8",
    )
    result: Any = cli("customers", "import", str(path), "--json")
    report = json.loads(result.stdout)
    assert report["created"] == 1
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "invoice_recipients[2]"),
        (4, "contact_receives[1]"),
    ]
    shown = run_json(cli, "customers", "show", "1")
    assert shown["invoice_to"] == ["inv@acme.de", "ap2@acme.de"]
    assert shown["contacts"][0]["communications"] == ["billing", "legal"]
