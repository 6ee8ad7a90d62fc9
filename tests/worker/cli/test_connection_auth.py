"""A connection whose credentials the CRM refuses: against the HubSpot sandbox over HTTP,
with the unchanged SDK. Revoked tokens fail the connection after one refresh, the
scheduler drops it, ``status`` says what to do, and resume or a new connect bring it back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.worker.cli.conftest import Cli
from worker import database
from worker.scheduler import LocalCoordination, Scheduler
from worker.settings import get_settings


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None) as sandbox:
        sandbox.seed(generate_companies(6, contacts_per_company=1, seed=5))
        yield sandbox


def _use_oauth(monkeypatch: pytest.MonkeyPatch, hubspot: HubSpotSandbox) -> None:
    creds = hubspot.credentials
    monkeypatch.delenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("CRMSYNC_HUBSPOT_REFRESH_TOKEN", creds.refresh_token)
    monkeypatch.setenv("CRMSYNC_HUBSPOT_CLIENT_ID", creds.client_id)
    monkeypatch.setenv("CRMSYNC_HUBSPOT_OAUTH_SECRET", creds.client_secret)


def _planned(connection_id: int) -> set[str]:
    """What a scheduler started now would schedule for the connection."""
    scheduler = Scheduler(
        get_settings(),
        sessions=database.sessions,
        coordination=LocalCoordination(),
        send=lambda *args: None,
    ).start()
    try:
        scheduler.refresh()
        return {job for job in scheduler.planned() if job.endswith(f":{connection_id}")}
    finally:
        scheduler.stop()


def _status_of(cli: Cli, connection_id: int) -> dict[str, Any]:
    result: Any = cli("status", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["connections"]
    return next(row for row in rows if row["id"] == connection_id)


def test_revoked_tokens_fail_the_connection_until_resumed_or_reconnected(
    cli: Cli, hubspot: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("db", "upgrade")
    _use_oauth(monkeypatch, hubspot)
    portal = str(hubspot.portal_id)
    connected: Any = cli("connect", "hubspot", "--portal-id", portal, "--base-url", hubspot.url)
    assert connected.exit_code == 0, connected.output
    first: Any = cli("sync", "1", "--full", "--json")
    assert first.exit_code == 0 and json.loads(first.stdout)["counts"]["created"] > 0
    total = json.loads(cli("customers", "list", "--json").stdout)["total"]
    assert _planned(1) == {"sync_changes:1", "push_changes:1", "reconcile:1"}

    # The app is uninstalled in HubSpot: its access and refresh tokens are refused.
    assert requests.post(f"{hubspot.url}/__sandbox/hubspot/tokens/revoke", timeout=10).ok
    failed: Any = cli("sync", "1")
    assert failed.exit_code == 1 and "Traceback" not in failed.output
    assert "token refresh refused" in " ".join(failed.stderr.split())
    assert "BAD_REFRESH_TOKEN" in failed.stderr
    status = _status_of(cli, 1)
    assert status["status"] == "auth_failed" and "refresh refused" in status["status_reason"]
    assert f"crmsync connect hubspot (--portal-id {portal})" in status["next_step"]
    assert "crmsync connections resume 1" in status["next_step"]
    shown: Any = cli("status")
    assert "connection 1 is auth_failed" in " ".join(shown.stdout.split())
    assert _planned(1) == set()  # the scheduler no longer sends it work
    refused: Any = cli("sync", "1")
    assert refused.exit_code == 1 and "connection 1 is auth_failed" in refused.stderr

    # Resumed while the credentials are still refused: the next run fails it again.
    assert json.loads(cli("connections", "resume", "1", "--json").stdout)["status"] == "active"
    assert _planned(1) == {"sync_changes:1", "push_changes:1", "reconcile:1"}
    assert cli("sync", "1").exit_code == 1
    assert _status_of(cli, 1)["status"] == "auth_failed"

    # Connected again with the new credentials: active, and no record is made twice.
    _use_oauth(monkeypatch, hubspot)
    again: Any = cli("connect", "hubspot", "--portal-id", portal, "--base-url", hubspot.url)
    assert again.exit_code == 0 and "reconnected hubspot account" in again.stdout
    assert _status_of(cli, 1)["status"] == "active" and _planned(1)
    resynced = json.loads(cli("sync", "1", "--full", "--json").stdout)
    assert resynced["outcome"] == "ok" and resynced["counts"].get("created", 0) == 0
    assert json.loads(cli("customers", "list", "--json").stdout)["total"] == total
    listed = json.loads(cli("connections", "list", "--json").stdout)
    assert [row["id"] for row in listed] == [1]


def test_a_removed_connection_comes_back_with_its_links(
    cli: Cli, hubspot: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("db", "upgrade")
    monkeypatch.setenv("CRMSYNC_HUBSPOT_ACCESS_TOKEN", hubspot.access_token)
    portal = str(hubspot.portal_id)
    assert (
        cli("connect", "hubspot", "--portal-id", portal, "--base-url", hubspot.url).exit_code == 0
    )
    assert json.loads(cli("sync", "1", "--full", "--json").stdout)["counts"]["created"] > 0
    total = json.loads(cli("customers", "list", "--json").stdout)["total"]
    removed = json.loads(cli("connections", "remove", "1", "--json").stdout)
    assert removed["status"] == "removed" and removed["has_credentials"] is False
    assert _planned(1) == set()
    customers = json.loads(cli("customers", "list", "--json").stdout)
    assert customers["total"] == total  # the directory stays
    runs = json.loads(cli("runs", "list", "--json").stdout)["runs"]
    assert [run["kind"] for run in runs] == ["reconcile"]  # and its history

    again: Any = cli("connect", "hubspot", "--portal-id", portal, "--base-url", hubspot.url)
    assert again.exit_code == 0 and "reconnected" in again.stdout
    resynced = json.loads(cli("sync", "1", "--full", "--json").stdout)
    assert resynced["outcome"] == "ok" and resynced["counts"].get("created", 0) == 0
    assert json.loads(cli("customers", "list", "--json").stdout)["total"] == total
