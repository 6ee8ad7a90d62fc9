"""Held-back CRM records: listed with their candidates, then linked or created by a person."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sandbox.hubspot import HubSpotSandbox
from tests.worker.cli.conftest import Cli, upgraded


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None) as sandbox:
        yield sandbox


def test_link_and_create_held_records(
    cli: Cli, hubspot: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgraded(cli)
    cli("customers", "add", "--name", "Acme Corporation", "--email", "ap@acme.io")
    cli("customers", "add", "--name", "Globex", "--email", "ap@globex.example")
    acme = hubspot.create(
        "companies", {"name": "ACME Corp.", "domain": "acme-corp.de", "city": "Köln"}
    )
    globex = hubspot.create("companies", {"name": "Globex GmbH", "domain": "globex.de"})
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
    assert (
        cli(
            "connect", "hubspot", "--portal-id", str(hubspot.portal_id), "--base-url", hubspot.url
        ).exit_code
        == 0
    )
    # Tags and a tax rate typed in HubSpot travel with the held record.
    hubspot.update(
        "companies", globex["id"], {"crmsync_tags": "Retail; EU", "crmsync_tax_rate": "7.5"}
    )
    synced = json.loads(cli("sync", "1", "--json").stdout)
    assert synced["counts"]["held"] == 2 and synced["counts"].get("created", 0) == 0

    held = json.loads(cli("reviews", "list", "--json").stdout)["held"]
    listed = json.loads(cli("customers", "duplicates", "--customer", "1", "--json").stdout)[
        "held_back"
    ]
    assert [row["crm_record"] for row in listed] == [f"company {acme['id']}"]
    by_record = {row["external_id"]: row for row in held}
    assert by_record[acme["id"]]["candidates"][0]["customer_id"] == 1
    assert by_record[globex["id"]]["candidates"][0]["customer_id"] == 2

    # Acme in HubSpot is our Acme: link it; its city arrives.
    linked = json.loads(
        cli("reviews", "link", str(by_record[acme["id"]]["id"]), "1", "--json").stdout
    )
    assert (linked["status"], linked["customer_id"], linked["external_id"]) == (
        "linked",
        1,
        acme["id"],
    )
    assert json.loads(cli("customers", "show", "1", "--json").stdout)["billing_city"] == "Köln"
    # Globex GmbH is another business than our Globex: create it.
    created = cli("reviews", "create", str(by_record[globex["id"]]["id"]))
    assert created.exit_code == 0 and "created customer 3" in created.stdout
    shown = json.loads(cli("customers", "show", "3", "--json").stdout)
    assert shown["domain"] == "globex.de"
    assert (shown["tags"], shown["tax_rate"]) == (["eu", "retail"], "7.50")
    assert json.loads(cli("reviews", "list", "--json").stdout)["held"] == []

    again = cli("reviews", "link", str(by_record[acme["id"]]["id"]), "2")
    assert again.exit_code == 1 and "already decided" in again.stderr
    # The links hold: a full sync creates and holds nothing more.
    rerun = json.loads(cli("sync", "1", "--full", "--json").stdout)["counts"]
    assert rerun.get("created", 0) == 0 and rerun.get("held", 0) == 0
