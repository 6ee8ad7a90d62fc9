"""``customers update --custom / --unset-custom`` and how ``customers show`` prints them."""

from __future__ import annotations

import json
from typing import Any

from tests.worker.cli.conftest import Cli, upgraded


def shown(cli: Cli) -> dict[str, Any]:
    result: Any = cli("customers", "show", "1", "--json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def added(cli: Cli, *custom: str) -> None:
    upgraded(cli)
    result: Any = cli("customers", "add", "--name", "Acme", "--email", "a@acme.com", *custom)
    assert result.exit_code == 0, result.stderr


def test_custom_merges_one_key_and_keeps_the_others(cli: Cli) -> None:
    """The reported bug: `update 1 --custom b=2` erased the a=1 set before."""
    added(cli)
    cli("customers", "update", "1", "--custom", "a=1")
    result: Any = cli("customers", "update", "1", "--custom", "b=2", "--custom", "c=")
    assert result.exit_code == 0 and "version 3" in result.stdout
    customer = shown(cli)
    assert customer["custom_properties"] == {"a": "1", "b": "2", "c": ""}
    assert customer["version"] == 3


def test_unset_custom_removes_one_key(cli: Cli) -> None:
    added(cli, "--custom", "a=1", "--custom", "b=2")
    result: Any = cli("customers", "update", "1", "--unset-custom", "a", "--custom", "z=9")
    assert result.exit_code == 0, result.stderr
    assert shown(cli)["custom_properties"] == {"b": "2", "z": "9"}


def test_unset_of_an_unknown_key_names_it_and_writes_nothing(cli: Cli) -> None:
    added(cli, "--custom", "a=1")
    result: Any = cli(
        "customers", "update", "1", "--notes", "x", "--custom", "b=2", "--unset-custom", "fax"
    )
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "invalid --unset-custom fax: the customer has no custom property 'fax'" in text
    assert "nothing was written" in text
    customer = shown(cli)
    assert (customer["custom_properties"], customer["notes"], customer["version"]) == (
        {"a": "1"},
        None,
        1,
    )


def test_the_same_key_set_and_unset_is_an_error_naming_it(cli: Cli) -> None:
    added(cli, "--custom", "a=1")
    result: Any = cli("customers", "update", "1", "--custom", "a=2", "--unset-custom", "a")
    assert result.exit_code == 2
    assert "--custom/--unset-custom a: is both set and unset" in " ".join(result.stderr.split())
    assert shown(cli)["custom_properties"] == {"a": "1"}


def test_a_bad_key_names_the_option(cli: Cli) -> None:
    added(cli)
    result: Any = cli("customers", "update", "1", "--custom", "1st=x")
    assert result.exit_code == 2
    assert "invalid --custom 1st: '1st' is not a key" in " ".join(result.stderr.split())


def test_show_sorts_custom_properties_by_key(cli: Cli) -> None:
    added(cli, "--custom", "zone=eu", "--custom", "account=7", "--custom", "mid=x")
    customer = shown(cli)
    assert list(customer["custom_properties"].items()) == [
        ("account", "7"), ("mid", "x"), ("zone", "eu"),
    ]  # fmt: skip
    text: Any = cli("customers", "show", "1")
    lines = [line for line in text.stdout.splitlines() if "custom " in line]
    assert [line.split()[2] for line in lines] == ["account", "mid", "zone"]
