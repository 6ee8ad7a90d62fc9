"""Build a connector, and its shared request budget, from a connection's stored data.

The worker holds a ``connections`` row (provider, account id, base URL, decrypted
credentials, settings); :func:`connector_for` turns it into a ``Connector`` without the
worker naming a CRM class. Options come as a plain mapping (the row's JSON settings merged
with the process settings) and are checked here, so a typo fails at start-up with the
option's name rather than being ignored. This module makes no calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from connectors.base import Connector
from connectors.budget import (
    DEFAULT_DAILY_RESERVE,
    HUBSPOT_DAILY,
    HUBSPOT_PER_10S,
    HUBSPOT_SEARCH_PER_S,
    SALESFORCE_DAILY,
    BudgetLimits,
    MemoryBudget,
    RedisBudget,
    RequestBudget,
    hubspot_limits,
    salesforce_limits,
)
from connectors.credentials import Credentials
from connectors.errors import Permanent
from connectors.hubspot import HubSpotConnector, HubSpotOptions
from connectors.hubspot.api import DEFAULT_BASE_URL as HUBSPOT_BASE_URL
from connectors.hubspot.api import TokensCallback
from connectors.retry import RetryPolicy
from connectors.salesforce import SalesforceConnector, SalesforceOptions

PROVIDERS = ("hubspot", "salesforce")
_OPTION_TYPES: dict[str, type[HubSpotOptions] | type[SalesforceOptions]] = {
    "hubspot": HubSpotOptions,
    "salesforce": SalesforceOptions,
}


def connector_for(
    provider: str,
    *,
    account_id: str,
    base_url: str | None,
    credentials: Credentials,
    budget: RequestBudget,
    on_tokens: TokensCallback | None = None,
    options: Mapping[str, Any] | None = None,
) -> Connector:
    """The connector for one connection. ``on_tokens`` receives refreshed credentials, for
    the caller to encrypt and store."""
    parsed = parse_options(provider, options or {})
    if provider == "hubspot":
        assert isinstance(parsed, HubSpotOptions)
        return HubSpotConnector(
            account_id=account_id,
            credentials=credentials,
            budget=budget,
            base_url=base_url or HUBSPOT_BASE_URL,
            on_tokens=on_tokens,
            options=parsed,
        )
    assert isinstance(parsed, SalesforceOptions)
    return SalesforceConnector(
        account_id=account_id,
        credentials=credentials,
        budget=budget,
        base_url=base_url or credentials.instance_url,
        on_tokens=on_tokens,
        options=parsed,
    )


def parse_options(provider: str, options: Mapping[str, Any]) -> HubSpotOptions | SalesforceOptions:
    """Options for ``provider`` from a plain mapping; unknown names are an error."""
    option_type = _OPTION_TYPES.get(provider)
    if option_type is None:
        raise Permanent(
            f"unknown CRM provider {provider!r}; known: {', '.join(PROVIDERS)}",
            provider=provider,
            code="UNKNOWN_PROVIDER",
        )
    known = {f.name for f in fields(option_type)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise Permanent(
            f"unknown {provider} connector option(s): {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}",
            provider=provider,
            code="UNKNOWN_OPTION",
        )
    values = dict(options)
    if isinstance(values.get("retry"), Mapping):
        values["retry"] = RetryPolicy(**values["retry"])
    if isinstance(values.get("properties"), Mapping):
        values["properties"] = {k: tuple(v) for k, v in values["properties"].items()}
    if isinstance(values.get("fields"), Mapping):
        values["fields"] = {k: tuple(v) for k, v in values["fields"].items()}
    return option_type(**values)


def limits_for(
    provider: str,
    *,
    hubspot_per_10s: int = HUBSPOT_PER_10S,
    hubspot_search_per_s: int = HUBSPOT_SEARCH_PER_S,
    hubspot_daily: int | None = HUBSPOT_DAILY,
    salesforce_daily: int | None = SALESFORCE_DAILY,
    daily_reserve: float = DEFAULT_DAILY_RESERVE,
) -> BudgetLimits:
    """The published limits of ``provider``, as configured."""
    if provider == "hubspot":
        return hubspot_limits(
            per_10s=hubspot_per_10s,
            search_per_s=hubspot_search_per_s,
            daily=hubspot_daily,
            daily_reserve=daily_reserve,
        )
    if provider == "salesforce":
        return salesforce_limits(daily=salesforce_daily, daily_reserve=daily_reserve)
    raise Permanent(
        f"unknown CRM provider {provider!r}", provider=provider, code="UNKNOWN_PROVIDER"
    )


def budget_for(
    provider: str, account_id: str, *, limits: BudgetLimits, redis: Any | None = None
) -> RequestBudget:
    """The connection's budget: shared through ``redis`` when there is one, else in memory
    (embedded mode, one process)."""
    if redis is not None:
        return RedisBudget(redis=redis, provider=provider, account_id=account_id, limits=limits)
    return MemoryBudget(provider=provider, account_id=account_id, limits=limits)
