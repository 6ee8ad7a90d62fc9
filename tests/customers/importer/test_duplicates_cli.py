"""Duplicate review from the CLI: pairs in the directory, and a check before adding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.customers.importer.conftest import Cli


def add(cli: Cli, name: str, email: str, *more: str) -> int:
    result = cli("customers", "add", "--name", name, "--email", email, *more, "--json")
    assert result.exit_code == 0, result.stderr
    return int(json.loads(result.stdout)["id"])


def pairs(cli: Cli, *more: str) -> list[dict[str, Any]]:
    result = cli("customers", "duplicates", "--json", *more)
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout)["pairs"])


def test_the_directory_is_searched_for_likely_and_sure_pairs(cli: Cli) -> None:
    acme = add(cli, "ACME Corp.", "ap@acme.com")
    acme2 = add(cli, "Acme Corporation", "billing@acme-holdings.com")
    globex = add(cli, "Globex GmbH", "ap@globex.de", "--tax-id", "DE 123 456 789")
    # A sure duplicate is refused unless allowed: this directory is to have one.
    initech = add(
        cli, "Initech Software", "ap@initech.com", "--tax-id", "de123456789", "--allow-duplicate"
    )
    add(cli, "Umbrella Pharma", "ap@umbrella.com")
    add(cli, "Acme Bakery Berlin", "bake@acmebakery.de")
    found = pairs(cli)
    summary = {
        (p["customers"][0]["id"], p["customers"][1]["id"]): (p["kind"], p["score"], p["reasons"])
        for p in found
    }
    assert summary == {
        (acme, acme2): ("likely", 100.0, ["similar name (100)"]),
        (globex, initech): ("sure", 100.0, ["same tax id"]),
    }
    assert [p["customers"][0]["id"] for p in pairs(cli, "--customer", str(initech))] == [globex]
    assert pairs(cli, "--customer", str(add(cli, "Wayne Enterprises", "ap@wayne.com"))) == []
    table = " ".join(cli("customers", "duplicates").stdout.split())
    # The title counts each kind once (it said "2 pair(s) of likely duplicates").
    assert "2 pairs of duplicates: 1 sure, 1 likely" in table and "same tax id" in table


def test_check_before_adding(cli: Cli) -> None:
    acme = add(cli, "ACME Corp.", "ap@acme.com", "--tax-id", "FR 40 303 265 045")
    likely = cli("customers", "check", "--name", "Acme Corporation", "--json")
    assert likely.exit_code == 1
    report = json.loads(likely.stdout)
    assert report["sure"] is None and [c["id"] for c in report["likely"]] == [acme]
    sure = cli("customers", "check", "--name", "Totally Different", "--tax-id", "fr40303265045")
    assert sure.exit_code == 1
    assert f"sure duplicate: customer {acme} ACME Corp." in " ".join(sure.stdout.split())
    assert "same tax id" in sure.stdout
    email = cli("customers", "check", "--name", "X", "--email", "AP@ACME.COM", "--json")
    assert json.loads(email.stdout)["sure"]["reasons"] == ["same email", "same domain"]
    # Another mailbox of the same company: its email's domain is the business's.
    colleague = cli("customers", "check", "--name", "X", "--email", "billing@acme.com", "--json")
    assert colleague.exit_code == 1
    assert json.loads(colleague.stdout)["sure"]["reasons"] == ["same domain"]
    bad = cli("customers", "check", "--name", "X", "--email", "bad")
    assert bad.exit_code == 2 and "email" in bad.stderr and "Traceback" not in bad.stderr
    clean = cli("customers", "check", "--name", "Globex", "--email", "ap@globex.de",
                "--tax-id", "DE 999", "--domain", "globex.de")  # fmt: skip
    assert clean.exit_code == 0 and "no duplicate of 'Globex' found" in clean.stdout


def test_check_compares_the_registrable_domain(cli: Cli) -> None:
    globex = add(cli, "Globex GmbH", "ap@globex.com", "--set", "domain=globex.com")
    for domain in ("www.globex.com", "shop.globex.com"):
        found = cli("customers", "check", "--name", "Someone", "--domain", domain, "--json")
        assert found.exit_code == 1, found.stdout
        report = json.loads(found.stdout)
        assert report["sure"]["id"] == globex and report["sure"]["reasons"] == ["same domain"]
    other = cli("customers", "check", "--name", "Someone", "--domain", "globex.co.uk")
    assert other.exit_code == 0, other.stdout


def listed(cli: Cli) -> list[str]:
    customers = json.loads(cli("customers", "list", "--json").stdout)["customers"]
    return sorted(customer["name"] for customer in customers)


def test_add_refuses_a_sure_duplicate_naming_it(cli: Cli) -> None:
    globex = add(cli, "Globex GmbH", "ap@globex.com", "--website", "https://www.globex.com")
    refused = cli("customers", "add", "--name", "Globex Shop", "--email", "shop@globex.com",
                  "--website", "shop.globex.com")  # fmt: skip
    assert refused.exit_code == 1 and refused.stdout == ""
    message = " ".join(refused.stderr.split())
    assert f"customer {globex} 'Globex GmbH'" in message and "same domain" in message
    assert "--allow-duplicate" in message
    assert listed(cli) == ["Globex GmbH"]  # nothing was written
    as_json = cli("customers", "add", "--name", "Globex Shop", "--email", "shop@globex.com",
                  "--website", "shop.globex.com", "--json")  # fmt: skip
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout) == {
        "refused": "sure duplicate", "written": False,
        "duplicate_of": {"id": globex, "name": "Globex GmbH", "reasons": ["same domain"]},
    }  # fmt: skip
    assert listed(cli) == ["Globex GmbH"]


def test_add_with_allow_duplicate_writes_it_and_warns(cli: Cli) -> None:
    globex = add(cli, "Globex GmbH", "ap@globex.com", "--tax-id", "DE 123 456 789")
    allowed = cli("customers", "add", "--name", "Globex Shop", "--email", "shop@globex-shop.de",
                  "--tax-id", "de123456789", "--allow-duplicate", "--json")  # fmt: skip
    assert allowed.exit_code == 0, allowed.stderr
    assert json.loads(allowed.stdout)["name"] == "Globex Shop"
    assert f"sure duplicate of customer {globex}" in " ".join(allowed.stderr.split())
    assert listed(cli) == ["Globex GmbH", "Globex Shop"]


def test_add_warns_of_a_likely_duplicate_and_adds_it(cli: Cli) -> None:
    gazprom = add(cli, "Gazprom Neft PJSC", "ir@gazprom-neft.ru")
    added = cli("customers", "add", "--name", "ПАО «Газпром нефть»", "--email", "x@gpn.example",
                "--json")  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["email"] == "x@gpn.example"  # stdout is still one document
    warning = " ".join(added.stderr.split())
    assert f"likely duplicate of customer {gazprom} 'Gazprom Neft PJSC'" in warning
    assert len(listed(cli)) == 2


def test_free_mail_customers_are_not_duplicates_of_each_other(cli: Cli) -> None:
    add(cli, "Hans Meier", "hans@gmx.at")
    other = cli("customers", "add", "--name", "Anna Huber", "--email", "anna@gmx.at")
    assert other.exit_code == 0 and "duplicate" not in other.stderr


def test_update_refuses_a_change_that_makes_a_sure_duplicate(cli: Cli) -> None:
    acme = add(cli, "Acme Corporation", "ap@acme.com")
    other = add(cli, "Initech", "ap@initech.com")
    refused = cli("customers", "update", str(other), "--email", "billing@mail.acme.com", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["duplicate_of"]["id"] == acme
    shown = json.loads(cli("customers", "show", str(other), "--json").stdout)
    assert shown["email"] == "ap@initech.com" and shown["version"] == 1  # nothing was written
    allowed = cli("customers", "update", str(other), "--email", "billing@mail.acme.com",
                  "--allow-duplicate")  # fmt: skip
    assert allowed.exit_code == 0, allowed.stderr
    # A duplicate the customer already had is known: other changes are not refused for it.
    again = cli("customers", "update", str(other), "--phone", "+49 221 1234567")
    assert again.exit_code == 0 and "duplicate" not in again.stderr
    renamed = cli("customers", "update", str(other), "--name", "Initech Software")
    assert renamed.exit_code == 0 and "duplicate" not in renamed.stderr


DUPLICATES_CSV = b"""name,email,website,tax_id
Globex Shop,shop@globex.com,,
Initech,ap@initech.com,,DE 111 222 333
Initech Software,ap@initech-software.com,,de111222333
ACME Corp,ap@acme-corp.example,,
Hans Meier,hans@gmx.at,,
Anna Huber,anna@gmx.at,,
"""


def test_import_skips_sure_duplicates_and_warns_of_likely_ones(cli: Cli, tmp_path: Path) -> None:
    globex = add(cli, "Globex GmbH", "ap@globex.com")
    acme = add(cli, "Acme Corporation", "ap@acme.com")
    path = tmp_path / "customers.csv"
    path.write_bytes(DUPLICATES_CSV)
    dry = cli("customers", "import", str(path), "--dry-run", "--json")
    result = cli("customers", "import", str(path), "--json")
    for run in (dry, result):
        assert run.exit_code == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["created"] == 4
        assert report["skipped"] == [
            {"row": 2, "email": "shop@globex.com",
             "reason": f"customer {globex} 'Globex GmbH' is the same business (same domain)"},
            {"row": 4, "email": "ap@initech-software.com",
             "reason": "row 3 of this file is the same business (same tax id)"},
        ]  # fmt: skip
        assert report["warnings"] == [
            {"row": 5, "reason": f"likely duplicate of customer {acme} 'Acme Corporation' "
                                 "(similar name (100))"},
        ]  # fmt: skip
        assert "row 5: likely duplicate" in " ".join(run.stderr.split())
    assert "Globex Shop" not in listed(cli) and "Anna Huber" in listed(cli)


def test_import_with_allow_duplicate_imports_sure_duplicates(cli: Cli, tmp_path: Path) -> None:
    globex = add(cli, "Globex GmbH", "ap@globex.com")
    path = tmp_path / "customers.csv"
    path.write_bytes(DUPLICATES_CSV)
    result = cli("customers", "import", str(path), "--allow-duplicate", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["created"] == 6 and report["skipped"] == []
    reasons = {warning["row"]: warning["reason"] for warning in report["warnings"]}
    assert reasons[2] == f"sure duplicate of customer {globex} 'Globex GmbH' (same domain)"
    assert reasons[4].startswith("sure duplicate of row 3 of this file (same tax id")
    assert "Globex Shop" in listed(cli)
