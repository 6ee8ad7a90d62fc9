"""A worker thread keeps the connector of a connection between jobs, and builds a new one
when the stored connection changes (a token refreshed by any process, new options)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connectors.base import Connector
from connectors.credentials import Credentials
from customers.sync_state import Connection
from worker.settings import get_settings
from worker.sync import connections


@pytest.fixture
def settings_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CRMSYNC_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("CRMSYNC_BROKER_URL", raising=False)
    monkeypatch.delenv("CRMSYNC_REDIS_URL", raising=False)
    for cached in (get_settings, connections.cipher):
        cached.cache_clear()
    yield
    for cached in (get_settings, connections.cipher):
        cached.cache_clear()


def stored(token: str, **settings: object) -> Connection:
    return Connection(
        id=41, tenant_id=1, provider="hubspot", account_id="4242", name="portal",
        base_url="http://127.0.0.1:9", settings={"connector": settings},
        credentials=connections.cipher().encrypt(Credentials(access_token=token)),
    )  # fmt: skip


def test_a_thread_reuses_its_connector_until_the_connection_changes(settings_here: None) -> None:
    row = stored("token-1")
    first = connections.reusable_connector(row)
    # The next job loads the same row again: same stored values, same connector.
    again = stored("token-1")
    again.credentials = row.credentials
    assert connections.reusable_connector(again) is first
    # Credentials stored anew (a refresh, by this process or another): a new connector.
    refreshed_row = stored("token-2")
    refreshed = connections.reusable_connector(refreshed_row)
    assert refreshed is not first
    assert refreshed.api.credentials.access_token == "token-2"  # type: ignore[attr-defined]
    new_options = stored("token-2", timeout_s=5)
    new_options.credentials = refreshed_row.credentials
    assert connections.reusable_connector(new_options) is not refreshed


def test_threads_never_share_a_connector(settings_here: None) -> None:
    row = stored("token-1")
    mine = connections.reusable_connector(row)
    assert connections.reusable_connector(row) is mine
    theirs: list[Connector] = []
    other = threading.Thread(target=lambda: theirs.append(connections.reusable_connector(row)))
    other.start()
    other.join()
    assert theirs and theirs[0] is not mine
