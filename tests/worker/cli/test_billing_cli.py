"""Tax and billing options of ``customers``, ``legal-entities`` and ``tenants set``, as a
person runs them."""

from __future__ import annotations

import json
from typing import Any

from tests.worker.cli.conftest import Cli

ADDRESS = ("--set", "billing_street=Hauptstr. 1", "--set", "billing_city=Berlin", "--country", "DE")


def run(cli: Cli, *args: str) -> Any:
    return cli(*args)


def run_json(cli: Cli, *args: str) -> Any:
    result = run(cli, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_customer_added_by_hand_needs_a_billing_address_by_default(cli: Cli) -> None:
    run(cli, "db", "upgrade")
    result = run(
        cli, "customers", "add", "--name", "Acme", "--email", "a@acme.de", "--country", "DE"
    )
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert (
        "invalid --set billing_street: is required (the tenant requires a billing address" in text
    )
    assert "invalid --set billing_city: is required" in text and "nothing was written" in text
    assert run_json(cli, "customers", "list")["total"] == 0
    off = run_json(cli, "tenants", "set", "default", "--no-require-billing-address")
    assert off["require_billing_address"] is False
    added = run_json(cli, "customers", "add", "--name", "Acme", "--email", "a@acme.de")
    assert added["incomplete"] is True
    assert added["missing_fields"] == ["billing_street", "billing_city", "billing_country"]
    listed = run_json(cli, "customers", "list", "--incomplete")
    assert [row["name"] for row in listed["customers"]] == ["Acme"]
    assert run_json(cli, "tenants", "list")[0]["require_billing_address"] is False


def test_tax_and_billing_options_and_their_errors(cli: Cli) -> None:
    run(cli, "db", "upgrade")
    bad = run(
        cli, "customers", "add", "--name", "Acme", "--email", "a@acme.de", *ADDRESS,
        "--tax-rate", "101", "--invoicing-flow", "weekly",
    )  # fmt: skip
    assert bad.exit_code == 2
    text = " ".join(bad.stderr.split())
    assert "invalid --tax-rate: must be between 0 and 100" in text
    assert "invalid --invoicing-flow: 'weekly' is not one of automatic, draft, manual" in text
    added = run_json(
        cli, "customers", "add", "--name", "Acme", "--email", "a@acme.de", *ADDRESS,
        "--tax-rate", "19", "--tax-country", "Germany", "--tax-exemption", "reverse_charge",
        "--invoicing-flow", "draft", "--auto-pay", "--sales-rep", "Sam@Example.com",
        "--set", "portal_enabled=yes",
    )  # fmt: skip
    assert (added["tax_rate"], added["tax_country"], added["tax_exemption"]) == (
        "19.00",
        "DE",
        "reverse_charge",
    )
    assert (added["invoicing_flow"], added["auto_pay"], added["portal_enabled"]) == (
        "draft",
        True,
        True,
    )
    assert added["sales_rep_email"] == "sam@example.com" and added["incomplete"] is False
    updated = run_json(cli, "customers", "update", "1", "--no-auto-pay", "--tax-rate", "7.5")
    assert (updated["auto_pay"], updated["tax_rate"], updated["version"]) == (False, "7.50", 2)
    shown = run(cli, "customers", "show", "1").stdout
    assert "reverse_charge" in shown and "sam@example.com" in shown


def test_legal_entities_commands(cli: Cli) -> None:
    run(cli, "db", "upgrade")
    entity = run_json(
        cli, "legal-entities", "add", "acme-de", "--name", "Acme GmbH", "--country", "DE",
        "--tax-id", "DE 123 456 789",
    )  # fmt: skip
    assert entity == {
        "code": "ACME-DE",
        "name": "Acme GmbH",
        "country": "DE",
        "tax_id": "DE123456789",
    }
    bad = run(cli, "legal-entities", "add", "x y", "--name", "", "--country", "Atlantis")
    assert bad.exit_code == 2
    assert {"code", "name", "country"} <= {
        line.split()[1].rstrip(":") for line in bad.stderr.splitlines() if "invalid" in line
    }
    added = run_json(
        cli, "customers", "add", "--name", "Acme", "--email", "a@acme.de", *ADDRESS,
        "--legal-entity", "ACME-DE",
    )  # fmt: skip
    assert added["legal_entity"] == "ACME-DE" and added["legal_entity_id"] == 1
    unknown = run(cli, "customers", "update", "1", "--legal-entity", "NOPE")
    assert unknown.exit_code == 2 and "invalid --legal-entity: no legal entity NOPE" in " ".join(
        unknown.stderr.split()
    )
    assert run_json(cli, "legal-entities", "list") == [{**entity, "customers": 1}]
    refused = run(cli, "legal-entities", "remove", "acme-de")
    assert refused.exit_code == 1 and "used by 1 customer(s)" in refused.stderr
    assert run_json(cli, "customers", "update", "1", "--legal-entity", "")["legal_entity"] is None
    assert run_json(cli, "legal-entities", "remove", "acme-de") == {
        "code": "ACME-DE",
        "removed": True,
    }
    assert run_json(cli, "legal-entities", "list") == []
