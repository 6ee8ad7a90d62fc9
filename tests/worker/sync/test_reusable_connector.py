"""A worker thread keeps the connector of a connection between jobs, and builds a new one
when the stored connection changes (a token refreshed by any process, new options). The
CRM field lists its connectors read are kept for the whole process."""

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


def test_connectors_of_a_connection_share_its_field_lists_across_threads(
    settings_here: None,
) -> None:
    row = stored("token-1")
    mine = connections.reusable_connector(row)
    theirs: list[Connector] = []
    other = threading.Thread(target=lambda: theirs.append(connections.reusable_connector(row)))
    other.start()
    other.join()
    assert theirs[0] is not mine
    # Each thread's connector keeps its lists where the other's does.
    assert theirs[0].setup._listed is mine.setup._listed  # type: ignore[attr-defined]
    assert connections.field_lists(row) is mine.setup._listed  # type: ignore[attr-defined]
    # A change a new connector is built for (a reconnect, a refreshed token) reads them anew.
    assert connections.field_lists(stored("token-2")) is not connections.field_lists(row)
    other_connection = stored("token-1")
    other_connection.id = 42
    other_connection.credentials = row.credentials
    assert connections.field_lists(other_connection) is not connections.field_lists(row)


def test_field_lists_are_kept_for_a_bounded_number_of_connections(
    settings_here: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections, "KEPT_FIELD_LISTS", 3)
    monkeypatch.setattr(connections, "_field_lists", type(connections._field_lists)())
    rows = []
    for connection_id in range(1, 6):
        row = stored("token-1")
        row.id = connection_id
        rows.append(row)
    first = connections.field_lists(rows[0])
    for row in rows[1:3]:
        connections.field_lists(row)
    assert connections.field_lists(rows[0]) is first  # used again: the most recent now
    for row in rows[3:]:
        connections.field_lists(row)
    assert len(connections._field_lists) == 3
    assert connections.field_lists(rows[0]) is first  # kept: used more recently than 2 and 3
    assert connections.field_lists(rows[1]) is not connections.field_lists(rows[0])
