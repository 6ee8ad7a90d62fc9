"""``crmsync properties`` and the tag options of ``customers``, as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.worker.cli.conftest import Cli, upgraded


def run(cli: Cli, *args: str) -> Any:
    return cli(*args)


def shown(cli: Cli, customer_id: str = "1") -> dict[str, Any]:
    result = run(cli, "customers", "show", customer_id, "--json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def added(cli: Cli, *extra: str) -> None:
    upgraded(cli)
    result = run(cli, "customers", "add", "--name", "Acme", "--email", "a@acme.com", *extra)
    assert result.exit_code == 0, result.stderr


def test_define_list_and_remove_properties(cli: Cli) -> None:
    upgraded(cli)
    result = run(
        cli, "properties", "add", "tier", "--type", "enum", "--option", "Gold",
        "--option", "Silver", "--label", "Tier", "--group", "Sales", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    tier = {"key": "tier", "label": "Tier", "group": "Sales", "type": "enum",
            "options": ["Gold", "Silver"]}  # fmt: skip
    assert json.loads(result.stdout) == tier
    assert run(cli, "properties", "add", "seats", "--type", "number").exit_code == 0
    listed = json.loads(run(cli, "properties", "list", "--json").stdout)
    assert [row["key"] for row in listed] == ["seats", "tier"]
    again = run(cli, "properties", "add", "tier")
    assert again.exit_code == 1 and "defined already" in again.stderr
    removed = run(cli, "properties", "remove", "seats", "--json")
    assert json.loads(removed.stdout) == {
        "key": "seats",
        "removed": True,
        "customers_with_values": 0,
    }
    missing = run(cli, "properties", "remove", "seats")
    assert missing.exit_code == 1 and "not found" in missing.stderr


def test_a_bad_definition_names_the_part_and_writes_nothing(cli: Cli) -> None:
    upgraded(cli)
    result = run(cli, "properties", "add", "tier", "--type", "enum")
    assert result.exit_code == 2
    assert "invalid options: an enum property needs at least one option" in result.stderr
    assert json.loads(run(cli, "properties", "list", "--json").stdout) == []


def test_custom_values_of_defined_keys_are_typed(cli: Cli) -> None:
    upgraded(cli)
    run(cli, "properties", "add", "seats", "--type", "number")
    run(cli, "properties", "add", "renewal", "--type", "date")
    bad = run(
        cli, "customers", "add", "--name", "Acme", "--email", "a@acme.com",
        "--custom", "seats=lots",
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "invalid --custom seats: 'lots' is not a number" in " ".join(bad.stderr.split())
    added(cli, "--custom", "seats=12", "--custom", "fax=none")
    result = run(cli, "customers", "update", "1", "--custom", "renewal=2027-13-01")
    assert result.exit_code == 2
    assert "invalid --custom renewal: '2027-13-01' is not a date" in " ".join(result.stderr.split())
    assert run(cli, "customers", "update", "1", "--custom", "renewal=2027-01-31").exit_code == 0
    customer = shown(cli)
    assert customer["custom_properties"] == {"fax": "none", "renewal": "2027-01-31", "seats": 12}
    assert customer["version"] == 2


def test_tags_are_added_removed_listed_and_shown(cli: Cli) -> None:
    added(cli, "--tag", "VIP")
    run(cli, "customers", "add", "--name", "Beta", "--email", "b@beta.com", "--tag", "eu")
    result = run(cli, "customers", "update", "1", "--tag", "EU", "--tag", "wholesale")
    assert result.exit_code == 0, result.stderr
    assert shown(cli)["tags"] == ["eu", "vip", "wholesale"]
    result = run(cli, "customers", "update", "1", "--untag", "wholesale", "--json")
    assert json.loads(result.stdout)["tags"] == ["eu", "vip"]
    listed = json.loads(run(cli, "customers", "list", "--tag", "eu", "--json").stdout)
    assert [row["name"] for row in listed["customers"]] == ["Acme", "Beta"]
    listed = json.loads(
        run(cli, "customers", "list", "--tag", "eu", "--tag", "vip", "--json").stdout
    )
    assert [row["name"] for row in listed["customers"]] == ["Acme"]
    text = run(cli, "customers", "show", "1").stdout
    assert "eu, vip" in text


def test_untag_of_a_missing_tag_names_it_and_writes_nothing(cli: Cli) -> None:
    added(cli, "--tag", "vip")
    result = run(cli, "customers", "update", "1", "--notes", "x", "--untag", "gold")
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "invalid --tag/--untag: the customer has no tag 'gold'" in text
    customer = shown(cli)
    assert (customer["tags"], customer["notes"], customer["version"]) == (["vip"], None, 1)


def test_import_reads_tags_and_checks_typed_custom_columns(cli: Cli, tmp_path: Path) -> None:
    upgraded(cli)
    run(cli, "properties", "add", "seats", "--type", "number")
    path = tmp_path / "in.csv"
    path.write_text(
        "name,email,tags,custom.seats\n"
        "Acme,a@acme.com,VIP; eu,3\n"
        "Beta,b@beta.com,,three\n"
        "Gamma,g@gamma.com,ok;x;,\n",
        encoding="utf-8",
    )
    result = run(cli, "customers", "import", str(path), "--json")
    report = json.loads(result.stdout)
    assert report["created"] == 2
    assert report["errors"] == [
        {"row": 3, "column": "custom.seats", "reason": "'three' is not a number"}
    ]
    acme = shown(cli, "1")
    assert (acme["tags"], acme["custom_properties"]) == (["eu", "vip"], {"seats": 3})
    assert shown(cli, "2")["tags"] == ["ok", "x"]
    template = run(cli, "customers", "template").stdout
    assert "tags" in template.splitlines()[0].split(",")
