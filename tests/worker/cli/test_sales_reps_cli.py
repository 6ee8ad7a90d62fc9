"""``crmsync sales-reps``: a customer's sales rep found, by email, as a HubSpot owner and
a Salesforce User, through the connectors and the unchanged SDKs over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hubspot import HubSpot

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import SALES_REPS
from tests.worker.cli.conftest import Cli

ADDRESS = ("--set", "billing_street=Hauptstr. 1", "--set", "billing_city=Berlin", "--country", "DE")


@pytest.fixture
def crms() -> Iterator[tuple[HubSpotSandbox, SalesforceSandbox]]:
    with HubSpotSandbox(limits=None) as hubspot, SalesforceSandbox() as salesforce:
        yield hubspot, salesforce


def run_json(cli: Cli, *args: str) -> Any:
    result: Any = cli(*args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def connect(
    cli: Cli, hubspot: HubSpotSandbox, salesforce: SalesforceSandbox, monkeypatch: Any
) -> None:
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
    result: Any = cli(
        "connect", "hubspot", "--portal-id", str(hubspot.portal_id), "--base-url", hubspot.url
    )
    assert result.exit_code == 0, result.stderr
    sf = salesforce.credentials
    monkeypatch.setenv("CRMSYNC_SALESFORCE_REFRESH_TOKEN", sf.refresh_token)
    monkeypatch.setenv("CRMSYNC_SALESFORCE_CLIENT_ID", sf.consumer_key)
    monkeypatch.setenv("CRMSYNC_SALESFORCE_CLIENT_SECRET", sf.consumer_secret)
    result = cli("connect", "salesforce", "--org-id", salesforce.org_id, "--instance-url",
                 salesforce.instance_url, "--ca-bundle", salesforce.cert_path)  # fmt: skip
    assert result.exit_code == 0, result.stderr


def test_sales_reps_are_matched_to_owners_and_users_by_email(
    cli: Cli, crms: tuple[HubSpotSandbox, SalesforceSandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot, salesforce = crms
    cli("db", "upgrade")
    rep = SALES_REPS[0]
    for n, sales_rep in enumerate((rep.email.upper(), rep.email, "nobody@crmsync.example")):
        result: Any = cli("customers", "add", "--name", f"Customer {n}", "--email",
                          f"ap@c{n}.example", *ADDRESS, "--sales-rep", sales_rep)  # fmt: skip
        assert result.exit_code == 0, result.stderr
    assert run_json(cli, "sales-reps", "list") == [
        {"email": "nobody@crmsync.example", "name": None, "customers": 1},
        {"email": rep.email, "name": None, "customers": 2},
    ]
    connect(cli, hubspot, salesforce, monkeypatch)
    sdk = HubSpot(access_token=hubspot.access_token, host=hubspot.url)
    owner = sdk.crm.owners.owners_api.get_page(email=rep.email).results[0].id
    user = salesforce.client().query(f"SELECT Id FROM User WHERE Email = '{rep.email}'")
    user_id = user["records"][0]["Id"]
    matched = run_json(cli, "sales-reps", "match")
    assert [(row["email"], [m["owner_id"] for m in row["matches"]]) for row in matched] == [
        ("nobody@crmsync.example", [None, None]),
        (rep.email, [owner, user_id]),
    ]
    assert [m["provider"] for m in matched[1]["matches"]] == ["hubspot", "salesforce"]
    one = run_json(cli, "sales-reps", "match", "--customer", "3")
    assert [row["email"] for row in one] == ["nobody@crmsync.example"]
    missing: Any = cli("sales-reps", "match", "--customer", "99")
    assert missing.exit_code == 1 and "customer 99 not found" in missing.stderr


def test_a_crm_that_does_not_answer_is_reported_for_that_connection(
    cli: Cli, crms: tuple[HubSpotSandbox, SalesforceSandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot, salesforce = crms
    cli("db", "upgrade")
    connect(cli, hubspot, salesforce, monkeypatch)
    cli("customers", "add", "--name", "C", "--email", "ap@c.example", *ADDRESS,
        "--sales-rep", SALES_REPS[1].email)  # fmt: skip
    hubspot.revoke_tokens()
    result: Any = cli("sales-reps", "match", "--json")
    assert result.exit_code == 1
    hubspot_match, salesforce_match = json.loads(result.stdout)[0]["matches"]
    assert hubspot_match["owner_id"] is None and hubspot_match["error"]
    assert salesforce_match["owner_id"] and salesforce_match["error"] is None
    assert hubspot.access_token not in result.output
