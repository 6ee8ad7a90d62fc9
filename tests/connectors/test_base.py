"""What ``ConnectorBase`` gives both connectors: an object type the CRM does not sync is
refused before any call, naming the CRM and the types it does sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import Connector, WriteRequest
from connectors.credentials import Credentials
from connectors.errors import Permanent
from connectors.registry import connector_for
from tests.connectors.conftest import memory_budget

CREDENTIALS = Credentials(
    access_token="access",
    refresh_token="refresh",
    client_id="client",
    client_secret="secret",
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    instance_url="https://example.my.salesforce.com",
)
CALLS: dict[str, Callable[[Connector], Any]] = {
    "upsert": lambda c: c.upsert("deal", [WriteRequest("deal", "1", {})]),
    "archive": lambda c: c.archive("deal", ["1"]),
    "scan": lambda c: c.scan("deal"),
    "fetch": lambda c: c.fetch("deal", ["1"]),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("hubspot", "HubSpot has no object type 'deal' here; use one of ('company', 'contact')"),
        (
            "salesforce",
            "Salesforce has no object type 'deal' here; use one of ('account', 'contact')",
        ),
    ],
)
def test_an_object_type_the_crm_does_not_sync_is_refused_before_any_call(
    provider: str, message: str, call: str
) -> None:
    connector = connector_for(
        provider,
        account_id="account",
        base_url="http://127.0.0.1:9",  # nothing listens: a call would fail otherwise
        credentials=CREDENTIALS,
        budget=memory_budget(provider),
    )
    with pytest.raises(Permanent) as caught:
        CALLS[call](connector)
    assert caught.value.message == message
    assert caught.value.code == "UNKNOWN_OBJECT_TYPE"
    assert caught.value.provider == provider
    assert connector.counter.total == 0
