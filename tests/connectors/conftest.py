"""Fixtures for connector tests: the sandboxes on real sockets, and connectors built on them
with the unchanged SDKs. Nothing here patches an SDK or a connector; faults are rules in the
sandbox's ``Faults``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.budget import MemoryBudget, RequestBudget, hubspot_limits, salesforce_limits
from connectors.credentials import Credentials
from connectors.fields import FieldLists
from connectors.hubspot import HubSpotConnector, HubSpotOptions
from connectors.retry import RetryPolicy
from connectors.salesforce import SalesforceConnector, SalesforceOptions
from sandbox.faults import Faults
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox

# A HubSpot pass finished at the epoch: the incremental (search) scan from the very first
# record. A scan with no cursor at all is a first pass, which lists instead.
SEARCH_FROM_START: dict[str, Any] = {"v": 1, "mode": "incremental", "since_ms": 0, "done": True}
# Tests wait milliseconds, not seconds, between retries.
FAST_RETRY = RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.05, locked_wait_s=0.05)


def memory_budget(provider: str, **limits: Any) -> MemoryBudget:
    """A budget for one test. HubSpot's search bucket is opened wide by default: the
    sandboxes run with limits off, and budget tests set their own limits."""
    if provider == "hubspot":
        limits.setdefault("search_per_s", 1_000)
    made = hubspot_limits(**limits) if provider == "hubspot" else salesforce_limits(**limits)
    return MemoryBudget(provider=provider, account_id="test", limits=made)


@pytest.fixture
def make_hubspot_sandbox() -> Iterator[Callable[..., HubSpotSandbox]]:
    started: list[HubSpotSandbox] = []

    def make(**options: Any) -> HubSpotSandbox:
        options.setdefault("limits", None)
        options.setdefault("faults", Faults(seed=11))
        sandbox = HubSpotSandbox(**options).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def hubspot_sandbox(make_hubspot_sandbox: Callable[..., HubSpotSandbox]) -> HubSpotSandbox:
    return make_hubspot_sandbox()


def hubspot_connector(
    sandbox: HubSpotSandbox,
    *,
    credentials: Credentials | None = None,
    budget: RequestBudget | None = None,
    on_tokens: Callable[[Credentials], None] | None = None,
    setup: bool = True,
    field_lists: FieldLists | None = None,
    **options: Any,
) -> HubSpotConnector:
    options.setdefault("retry", FAST_RETRY)
    connector = HubSpotConnector(
        account_id=str(sandbox.portal_id),
        credentials=credentials or Credentials(access_token=sandbox.access_token),
        budget=budget or memory_budget("hubspot"),
        base_url=sandbox.url,
        on_tokens=on_tokens,
        options=HubSpotOptions(**options),
        field_lists=field_lists,
    )
    if setup:
        connector.ensure_setup()
    return connector


@pytest.fixture
def hubspot(hubspot_sandbox: HubSpotSandbox) -> HubSpotConnector:
    return hubspot_connector(hubspot_sandbox)


@pytest.fixture
def make_sf_sandbox() -> Iterator[Callable[..., SalesforceSandbox]]:
    started: list[SalesforceSandbox] = []

    def make(**options: Any) -> SalesforceSandbox:
        options.setdefault("faults", Faults(seed=11))
        sandbox = SalesforceSandbox(**options).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sf_sandbox(make_sf_sandbox: Callable[..., SalesforceSandbox]) -> SalesforceSandbox:
    return make_sf_sandbox()


def sf_oauth(sandbox: SalesforceSandbox) -> Credentials:
    creds = sandbox.credentials
    return Credentials(
        access_token=sandbox.access_token(),
        refresh_token=creds.refresh_token,
        client_id=creds.consumer_key,
        client_secret=creds.consumer_secret,
        instance_url=sandbox.instance_url,
    )


def sf_connector(
    sandbox: SalesforceSandbox,
    *,
    credentials: Credentials | None = None,
    budget: RequestBudget | None = None,
    on_tokens: Callable[[Credentials], None] | None = None,
    setup: bool = True,
    field_lists: FieldLists | None = None,
    **options: Any,
) -> SalesforceConnector:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("verify", sandbox.cert_path)
    connector = SalesforceConnector(
        account_id=sandbox.org_id,
        credentials=credentials or sf_oauth(sandbox),
        budget=budget or memory_budget("salesforce"),
        base_url=sandbox.instance_url,
        on_tokens=on_tokens,
        options=SalesforceOptions(**options),
        field_lists=field_lists,
    )
    if setup:
        connector.ensure_setup()
    return connector


@pytest.fixture
def salesforce(sf_sandbox: SalesforceSandbox) -> SalesforceConnector:
    return sf_connector(sf_sandbox)
