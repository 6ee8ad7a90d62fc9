"""The table of CRMs crmsync speaks to, and building a connector and its shared request
budget from a connection's stored data.

:data:`PROVIDERS` holds one :class:`Provider` per CRM: its connector and options classes,
object types, published limits, record id check and webhook path. Code above the
connectors looks a CRM up there rather than branching on its name.

The worker holds a ``connections`` row (provider, account id, base URL, decrypted
credentials, settings); :func:`connector_for` turns it into a ``Connector`` without the
worker naming a CRM class. Options come as a plain mapping (the row's JSON settings merged
with the process settings) and are checked here, so a typo fails at start-up with the
option's name rather than being ignored. This module makes no calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
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
from connectors.fields import FieldLists
from connectors.hubspot import HubSpotConnector, HubSpotOptions
from connectors.hubspot import record_id_problem as hubspot_record_id_problem
from connectors.hubspot.api import DEFAULT_BASE_URL as HUBSPOT_BASE_URL
from connectors.hubspot.api import TokensCallback
from connectors.retry import RetryPolicy
from connectors.salesforce import SalesforceConnector, SalesforceOptions
from connectors.salesforce import record_id_problem as salesforce_record_id_problem


@dataclass(frozen=True, kw_only=True)
class LimitSettings:
    """The request limits a deployment configures; each CRM takes its own."""

    hubspot_per_10s: int = HUBSPOT_PER_10S
    hubspot_search_per_s: int = HUBSPOT_SEARCH_PER_S
    hubspot_daily: int | None = HUBSPOT_DAILY
    salesforce_daily: int | None = SALESFORCE_DAILY
    daily_reserve: float = DEFAULT_DAILY_RESERVE


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One CRM: what callers would otherwise branch on its name for."""

    name: str  # as stored in ``connections.provider``
    display_name: str
    connector: Callable[..., Connector]  # the connector class, built by :func:`connector_for`
    options: type[HubSpotOptions] | type[SalesforceOptions]
    object_types: tuple[str, ...]  # parents first
    # Where the API is when the connection names no base URL.
    default_base_url: Callable[[Credentials], str | None]
    limits: Callable[[LimitSettings], BudgetLimits]  # the published limits, as configured
    # Why a string cannot be a record id of an object type, or None (asked before the CRM).
    record_id_problem: Callable[[str, str], str | None]
    webhook_path: str  # the webhooks app's route for this CRM's notifications


HUBSPOT = Provider(
    name=HubSpotConnector.provider,
    display_name=HubSpotConnector.display_name,
    connector=HubSpotConnector,
    options=HubSpotOptions,
    object_types=HubSpotConnector.synced_types,
    default_base_url=lambda credentials: HUBSPOT_BASE_URL,
    limits=lambda configured: hubspot_limits(
        per_10s=configured.hubspot_per_10s,
        search_per_s=configured.hubspot_search_per_s,
        daily=configured.hubspot_daily,
        daily_reserve=configured.daily_reserve,
    ),
    record_id_problem=hubspot_record_id_problem,
    webhook_path="/webhooks/hubspot",  # signed JSON arrays of events, any portal
)
SALESFORCE = Provider(
    name=SalesforceConnector.provider,
    display_name=SalesforceConnector.display_name,
    connector=SalesforceConnector,
    options=SalesforceOptions,
    object_types=SalesforceConnector.synced_types,
    default_base_url=lambda credentials: credentials.instance_url,
    limits=lambda configured: salesforce_limits(
        daily=configured.salesforce_daily, daily_reserve=configured.daily_reserve
    ),
    record_id_problem=salesforce_record_id_problem,
    # SOAP Outbound Messages; the token in the path names the connection.
    webhook_path="/webhooks/salesforce/{token}",
)
PROVIDERS: dict[str, Provider] = {entry.name: entry for entry in (HUBSPOT, SALESFORCE)}


def provider_for(name: str) -> Provider:
    """The CRM called ``name``; an unknown name is a permanent error."""
    entry = PROVIDERS.get(name)
    if entry is None:
        raise Permanent(
            f"unknown CRM provider {name!r}; known: {', '.join(PROVIDERS)}",
            provider=name,
            code="UNKNOWN_PROVIDER",
        )
    return entry


def connector_for(
    provider: str,
    *,
    account_id: str,
    base_url: str | None,
    credentials: Credentials,
    budget: RequestBudget,
    on_tokens: TokensCallback | None = None,
    options: Mapping[str, Any] | None = None,
    field_lists: FieldLists | None = None,
) -> Connector:
    """The connector for one connection. ``on_tokens`` receives refreshed credentials, for
    the caller to encrypt and store. ``field_lists`` is where it keeps the CRM's field
    lists it reads (:class:`connectors.fields.FieldList`); a caller that builds several
    connectors for one connection can hand each the same."""
    entry = provider_for(provider)
    parsed = parse_options(provider, options or {})
    return entry.connector(
        account_id=account_id,
        credentials=credentials,
        budget=budget,
        base_url=base_url or entry.default_base_url(credentials),
        on_tokens=on_tokens,
        options=parsed,
        field_lists=field_lists,
    )


def parse_options(provider: str, options: Mapping[str, Any]) -> HubSpotOptions | SalesforceOptions:
    """Options for ``provider`` from a plain mapping; unknown names are an error."""
    option_type = provider_for(provider).options
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
    entry = PROVIDERS.get(provider)
    if entry is None:
        raise Permanent(
            f"unknown CRM provider {provider!r}", provider=provider, code="UNKNOWN_PROVIDER"
        )
    configured = LimitSettings(
        hubspot_per_10s=hubspot_per_10s,
        hubspot_search_per_s=hubspot_search_per_s,
        hubspot_daily=hubspot_daily,
        salesforce_daily=salesforce_daily,
        daily_reserve=daily_reserve,
    )
    return entry.limits(configured)


def budget_for(
    provider: str, account_id: str, *, limits: BudgetLimits, redis: Any | None = None
) -> RequestBudget:
    """The connection's budget: shared through ``redis`` when there is one, else in memory
    (embedded mode, one process)."""
    if redis is not None:
        return RedisBudget(redis=redis, provider=provider, account_id=account_id, limits=limits)
    return MemoryBudget(provider=provider, account_id=account_id, limits=limits)
