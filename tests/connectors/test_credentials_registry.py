"""Credentials encrypted at rest and never shown; the key file; the registry that builds a
connector from a connection's data; the retry helper's bounds."""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connectors.base import Connector
from connectors.credentials import (
    KEY_FILE_NAME,
    Credentials,
    decrypt_credentials,
    encrypt_credentials,
    load_cipher,
)
from connectors.errors import BudgetExhausted, Permanent, RateLimited, Transient
from connectors.hubspot import HubSpotConnector
from connectors.registry import (
    PROVIDERS,
    LimitSettings,
    budget_for,
    connector_for,
    limits_for,
    parse_options,
    provider_for,
)
from connectors.retry import RetryPolicy, call_with_retry
from connectors.salesforce import SalesforceConnector
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import memory_budget

OAUTH = Credentials(
    access_token="access-SECRET-1",
    refresh_token="refresh-SECRET-2",
    client_id="client-id",
    client_secret="client-SECRET-3",
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    instance_url="https://example.my.salesforce.com",
)


def test_credentials_round_trip_through_encryption(tmp_path: Path) -> None:
    cipher = load_cipher(encryption_key=Fernet.generate_key().decode(), data_dir=tmp_path)
    blob = encrypt_credentials(OAUTH, cipher)
    assert b"SECRET" not in blob
    assert decrypt_credentials(blob, cipher) == OAUTH
    assert not list(tmp_path.iterdir())  # a configured key makes no key file


def test_secrets_never_show_in_repr_or_str() -> None:
    for text in (repr(OAUTH), str(OAUTH), f"{OAUTH}", repr([OAUTH])):
        assert "SECRET" not in text
    assert "client-id" in repr(OAUTH)  # what is not secret helps debugging


def test_a_missing_key_makes_a_private_key_file_once_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    with caplog.at_level(logging.WARNING, logger="connectors.credentials"):
        cipher = load_cipher(encryption_key=None, data_dir=data_dir)
    key_file = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "CRMSYNC_ENCRYPTION_KEY" in caplog.text
    assert key_file.read_text().strip() not in caplog.text
    blob = encrypt_credentials(OAUTH, cipher)
    caplog.clear()
    again = load_cipher(encryption_key=None, data_dir=data_dir)  # the same key, no warning
    assert decrypt_credentials(blob, again) == OAUTH
    assert caplog.text == ""


def test_a_new_key_can_be_put_in_front_of_the_old_one(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    blob = encrypt_credentials(OAUTH, load_cipher(encryption_key=old, data_dir=tmp_path))
    rotated = load_cipher(encryption_key=f"{new},{old}", data_dir=tmp_path)
    assert decrypt_credentials(blob, rotated) == OAUTH
    with pytest.raises(ValueError, match="CRMSYNC_ENCRYPTION_KEY") as caught:
        decrypt_credentials(blob, load_cipher(encryption_key=new, data_dir=tmp_path))
    assert "SECRET" not in str(caught.value)


def test_the_registry_builds_a_working_connector_from_row_data(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(5, seed=1))
    connector: Connector = connector_for(
        "hubspot",
        account_id=str(hubspot_sandbox.portal_id),
        base_url=hubspot_sandbox.url,
        credentials=Credentials(access_token=hubspot_sandbox.access_token),
        budget=budget_for("hubspot", "portal", limits=limits_for("hubspot")),
        on_tokens=None,
        options={"overlap_s": 60, "retry": {"attempts": 2}},
    )
    assert isinstance(connector, HubSpotConnector) and connector.provider == "hubspot"
    assert connector.object_types() == ("company", "contact")
    assert len([r for p in connector.scan("company", full=True) for r in p.records]) == 5


def test_the_registry_builds_salesforce_from_the_stored_instance_url() -> None:
    connector = connector_for(
        "salesforce",
        account_id="00D000000000001AAA",
        base_url=None,
        credentials=OAUTH,
        budget=memory_budget("salesforce"),
        on_tokens=None,
        options={"fields": {"account": ["Name"]}},
    )
    assert isinstance(connector, SalesforceConnector)
    assert connector.object_types() == ("account", "contact")
    assert connector.api.instance_url == "https://example.my.salesforce.com"


def test_unknown_providers_and_options_are_named() -> None:
    with pytest.raises(Permanent, match="pipedrive"):
        parse_options("pipedrive", {})
    with pytest.raises(Permanent, match="overlap_seconds") as caught:
        parse_options("hubspot", {"overlap_seconds": 1})
    assert caught.value.code == "UNKNOWN_OPTION"


def test_the_provider_table_has_one_entry_per_crm_with_its_own_parts() -> None:
    assert list(PROVIDERS) == ["hubspot", "salesforce"]
    hubspot, salesforce = PROVIDERS["hubspot"], PROVIDERS["salesforce"]
    assert hubspot.connector is HubSpotConnector and salesforce.connector is SalesforceConnector
    assert hubspot.object_types == ("company", "contact")
    assert salesforce.object_types == ("account", "contact")
    assert hubspot.webhook_path == "/webhooks/hubspot"
    assert salesforce.webhook_path == "/webhooks/salesforce/{token}"
    assert hubspot.record_id_problem("company", "123") is None
    assert salesforce.record_id_problem("account", "123") is not None
    assert limits_for("hubspot") == hubspot.limits(LimitSettings())
    assert limits_for("salesforce", salesforce_daily=7).daily == 7
    assert provider_for("salesforce") is salesforce
    with pytest.raises(Permanent, match="known: hubspot, salesforce") as caught:
        provider_for("pipedrive")
    assert caught.value.code == "UNKNOWN_PROVIDER"
    with pytest.raises(Permanent, match="pipedrive"):
        limits_for("pipedrive")


def test_the_sync_names_the_object_types_the_provider_table_does() -> None:
    # worker.sync.target keeps its own copy so the console does not load both SDKs.
    from worker.sync.target import OBJECT_TYPES, PARENT_TYPE

    assert {name: entry.object_types for name, entry in PROVIDERS.items()} == OBJECT_TYPES
    assert {name: entry.object_types[0] for name, entry in PROVIDERS.items()} == PARENT_TYPE


def test_retries_are_bounded_and_only_for_short_blips() -> None:
    policy = RetryPolicy(attempts=3, max_rate_limit_wait_s=1.0)
    slept: list[float] = []
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Transient("blip", provider="test")
        return "done"

    assert call_with_retry(flaky, policy, sleep=slept.append) == "done"
    assert len(calls) == 3 and len(slept) == 2

    def always(error: Exception) -> None:
        calls.append(1)
        raise error

    for error, expected_calls in (
        (Transient("down", provider="test"), 3),
        (RateLimited("short", wait_s=0.5, provider="test"), 3),
        (RateLimited("long", wait_s=60, provider="test"), 1),
        (BudgetExhausted("spent", wait_s=0.1, provider="test"), 1),
        (Permanent("bad", provider="test"), 1),
    ):
        calls.clear()
        slept.clear()
        with pytest.raises(type(error)):
            call_with_retry(lambda e=error: always(e), policy, sleep=slept.append)
        assert len(calls) == expected_calls, error
    calls.clear()
    slept.clear()
    with pytest.raises(RateLimited):
        call_with_retry(
            lambda: always(RateLimited("short", wait_s=0.5, provider="test")),
            policy,
            sleep=slept.append,
        )
    assert slept == [0.5, 0.5]  # the CRM's own wait, not a guess


def test_processes_racing_to_make_the_key_file_all_read_one_whole_key(tmp_path: Path) -> None:
    """Found by starting 360 processes together: one racing the first to create the key
    file read it while it was still empty. Every process must end with the same key."""
    import subprocess
    import sys
    import time

    data_dir = tmp_path / "race"
    program = (  # imports first, then every process calls at the same instant
        "import sys, time; from pathlib import Path; from connectors.credentials import _key_file\n"
        "while time.time() < float(sys.argv[2]): pass\n"
        "sys.stdout.write(_key_file(Path(sys.argv[1])).decode())"
    )
    for round_number in range(4):
        folder = data_dir / str(round_number)
        start = f"{time.time() + 2:.3f}"
        started = [
            subprocess.Popen([sys.executable, "-c", program, str(folder), start],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(16)
        ]  # fmt: skip
        keys = {process.communicate(timeout=60)[0] for process in started}
        assert all(process.returncode == 0 for process in started)
        assert len(keys) == 1 and len(keys.pop()) == 44  # one whole Fernet key
        assert [p.name for p in folder.iterdir()] == [KEY_FILE_NAME]  # no drafts left


def test_with_postgresql_or_a_broker_no_key_file_is_made(tmp_path: Path) -> None:
    from connectors.errors import Permanent

    with pytest.raises(Permanent) as caught:
        load_cipher(encryption_key=None, data_dir=tmp_path, make_key_file=False)
    assert caught.value.code == "ENCRYPTION_KEY_MISSING"
    assert "set CRMSYNC_ENCRYPTION_KEY" in str(caught.value)
    assert not (tmp_path / KEY_FILE_NAME).exists()
    load_cipher(encryption_key=None, data_dir=tmp_path)  # embedded: made
    assert load_cipher(encryption_key=None, data_dir=tmp_path, make_key_file=False)  # and used
