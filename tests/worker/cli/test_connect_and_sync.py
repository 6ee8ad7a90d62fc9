"""The operator's path through the CLI: connect both sandbox CRMs, sync, see the results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies
from tests.worker.cli.conftest import Cli


@pytest.fixture
def crms() -> Iterator[tuple[HubSpotSandbox, SalesforceSandbox]]:
    companies = list(generate_companies(40, contacts_per_company=1, seed=21))
    with HubSpotSandbox(limits=None) as hubspot, SalesforceSandbox() as salesforce:
        hubspot.seed(companies[:25])
        salesforce.seed(companies[20:])
        yield hubspot, salesforce


def test_connect_sync_and_look(
    cli: Cli, crms: tuple[HubSpotSandbox, SalesforceSandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot, salesforce = crms
    cli("db", "upgrade")
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
    connected = cli(
        "connect", "hubspot", "--portal-id", str(hubspot.portal_id), "--base-url", hubspot.url
    )
    assert connected.exit_code == 0, connected.stderr
    created = requests.get(
        f"{hubspot.url}/crm/v3/properties/companies/crmsync_id",
        headers={"Authorization": f"Bearer {hubspot.access_token}"},
        timeout=10,
    )
    assert (
        created.status_code == 200 and created.json()["hasUniqueValue"] is True
    )  # set up by connect
    again = cli(
        "connect", "hubspot", "--portal-id", str(hubspot.portal_id), "--base-url", hubspot.url
    )
    assert again.exit_code == 1 and "already connected" in again.stderr
    assert cli("tenants", "add", "other").exit_code == 0
    elsewhere = cli("--tenant", "other", "connect", "hubspot", "--portal-id", str(hubspot.portal_id),
                    "--base-url", hubspot.url)  # fmt: skip
    assert elsewhere.exit_code == 1 and "another tenant" in elsewhere.stderr
    assert "connection 1" not in elsewhere.stderr  # another tenant's id is never named

    # Salesforce with only a refresh token: the first call refreshes the session.
    sf = salesforce.credentials
    monkeypatch.setenv("CRMSYNC_SALESFORCE_REFRESH_TOKEN", sf.refresh_token)
    monkeypatch.setenv("CRMSYNC_SALESFORCE_CLIENT_ID", sf.consumer_key)
    monkeypatch.setenv("CRMSYNC_SALESFORCE_CLIENT_SECRET", sf.consumer_secret)
    connected = cli("connect", "salesforce", "--org-id", salesforce.org_id, "--instance-url", salesforce.instance_url,
                    "--ca-bundle", salesforce.cert_path)  # fmt: skip
    assert connected.exit_code == 0, connected.stderr

    listed = json.loads(cli("connections", "list", "--json").stdout)
    assert [(c["id"], c["provider"]) for c in listed] == [(1, "hubspot"), (2, "salesforce")]

    first = json.loads(cli("sync", "1", "--full", "--json").stdout)
    assert (
        first["outcome"] == "ok"
        and first["counts"]["read"] == 25
        and first["counts"]["api_calls"] > 0
    )
    second = json.loads(cli("sync", "2", "--full", "--json").stdout)
    assert second["outcome"] == "ok" and second["counts"]["read"] == 20
    customers = json.loads(cli("customers", "list", "--json", "--per-page", "1000").stdout)
    # 40 businesses, 5 in both CRMs; planted near-duplicates may be held for review.
    assert 30 <= customers["total"] <= 40
    assert len({c["name"] for c in customers["customers"]}) == customers["total"]

    # Another tenant cannot run this tenant's sync: its id is answered like a missing one.
    runs = cli("runs", "list", "--json").stdout
    for flags in (["--tenant", "other"], []):
        for args in (["sync", "1"], ["sync", "1", "--full"], ["sync", "1", "--push"]):
            refused = cli(*flags, *args) if flags else cli("sync", "99")
            assert refused.exit_code == 1 and "Traceback" not in refused.stderr
            assert (
                "connection 1 not found" if flags else "connection 99 not found"
            ) in refused.stderr
    assert cli("runs", "list", "--json").stdout == runs  # nothing ran
    assert json.loads(cli("customers", "list", "--json").stdout)["total"] == customers["total"]


def test_connect_with_a_bad_token_saves_nothing(
    cli: Cli, crms: tuple[HubSpotSandbox, SalesforceSandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot, _ = crms
    cli("db", "upgrade")
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", "pat-na1-wrong")
    result = cli(
        "connect", "hubspot", "--portal-id", str(hubspot.portal_id), "--base-url", hubspot.url
    )
    assert result.exit_code == 1 and "setup failed, nothing was saved" in " ".join(
        result.stderr.split()
    )
    assert json.loads(cli("connections", "list", "--json").stdout) == []


def test_connect_stores_a_map_given_by_a_relative_path_by_its_absolute_one(
    cli: Cli,
    crms: tuple[HubSpotSandbox, SalesforceSandbox],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Workers run in folders of their own: a map stored as typed (``ours.yaml``) could not
    be found by them."""
    hubspot, _ = crms
    cli("db", "upgrade")
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
    (tmp_path / "ours.yaml").write_text(
        "object: company\nfields:\n  - {local: billing_city, remote: city, on_blank: keep}\n"
    )
    monkeypatch.chdir(tmp_path)
    result = cli("connect", "hubspot", "--portal-id", str(hubspot.portal_id),
                 "--base-url", hubspot.url, "--mapping", "ours.yaml")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [connection] = json.loads(cli("connections", "list", "--json").stdout)
    assert connection["mapping"] == str((tmp_path / "ours.yaml").resolve())


def test_connect_refuses_a_map_that_cannot_be_used_and_saves_nothing(
    cli: Cli,
    crms: tuple[HubSpotSandbox, SalesforceSandbox],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hubspot, _ = crms
    cli("db", "upgrade")
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
    unknown = tmp_path / "unknown-field.yaml"
    unknown.write_text(
        "provider: hubspot\nobject: company\nfields:\n  - {local: no_such_field, remote: x}\n"
    )
    for mapping, said in (
        (str(tmp_path / "missing.yaml"), "cannot be read"),
        (str(unknown), "no_such_field"),
    ):
        result = cli("connect", "hubspot", "--portal-id", str(hubspot.portal_id),
                     "--base-url", hubspot.url, "--mapping", mapping)  # fmt: skip
        assert result.exit_code == 2 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert json.loads(cli("connections", "list", "--json").stdout) == []


def test_connect_says_which_fields_it_made_and_which_an_admin_must_add(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sandbox.salesforce.schema import CRMSYNC_FIELDS

    present = [field for field in CRMSYNC_FIELDS if field.name != "Credit_Limit__c"]
    with (
        HubSpotSandbox(limits=None) as hubspot,
        SalesforceSandbox(with_crmsync_fields=False, custom_fields=present) as salesforce,
    ):
        cli("db", "upgrade")
        monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
        made = cli(
            "connect", "hubspot", "--portal-id", str(hubspot.portal_id), "--base-url", hubspot.url
        )
        assert made.exit_code == 0, made.stderr
        assert "created hubspot property companies.crmsync_credit_limit" in made.stdout
        assert "contacts.crmsync_roles" in made.stdout and "admin" not in made.stdout
        # A map given later gets its properties the same way.
        extra = tmp_path / "extra.yaml"
        extra.write_text(
            "object: company\nfields:\n  - {local: custom_properties.segment, remote: segment}\n"
        )
        changed = cli("connections", "set", "1", "--mapping", str(extra))
        assert changed.exit_code == 0, changed.stderr
        assert "created hubspot property companies.segment" in changed.stdout
        assert "crmsync_credit_limit" not in changed.stdout  # made once, by connect

        monkeypatch.setenv("CRMSYNC_SALESFORCE_ACCESS_TOKEN", salesforce.access_token())
        named = cli(
            "connect",
            "salesforce",
            "--org-id",
            salesforce.org_id,
            "--instance-url",
            salesforce.instance_url,
            "--ca-bundle",
            salesforce.cert_path,
            "--json",
        )
        assert named.exit_code == 0, named.stderr
        answer = json.loads(named.stdout)
        assert answer["fields_created"] == []
        assert answer["fields_missing"] == [
            {
                "object": "Account",
                "field": "Credit_Limit__c",
                "create_as": "Number(16, 2)",
                "found_type": None,
            }
        ]
        # The rest syncs.
        synced = json.loads(cli("sync", "2", "--full", "--json").stdout)
        assert synced["outcome"] == "ok"
