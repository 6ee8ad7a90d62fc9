"""Every fault the HubSpot sandbox injects maps to the right connector error, short blips are
retried inside the call, and an expired OAuth token is refreshed once through on_tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from connectors.credentials import Credentials
from connectors.errors import (
    AuthError,
    BudgetExhausted,
    ConnectorError,
    NotFound,
    RateLimited,
    Transient,
)
from connectors.hubspot import HubSpotConnector, HubSpotOptions
from connectors.retry import RetryPolicy
from sandbox.faults import FaultRule
from sandbox.hubspot import HubSpotSandbox, RateLimits
from sandbox.seed import generate_companies
from tests.connectors.conftest import SEARCH_FROM_START, hubspot_connector, memory_budget

NO_RETRY = RetryPolicy(attempts=1)


def _list_once(connector: HubSpotConnector) -> None:
    next(iter(connector.scan("company", full=True)))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_blip_is_retried_and_succeeds(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector, status: int
) -> None:
    hubspot_sandbox.faults.add(FaultRule(endpoint="companies.list", status=status, remaining=1))
    _list_once(hubspot)
    assert hubspot.counter.calls["companies.list"] == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_lasting_server_error_is_transient(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector, status: int
) -> None:
    hubspot_sandbox.faults.add(FaultRule(endpoint="companies.list", status=status))
    with pytest.raises(Transient) as caught:
        _list_once(hubspot)
    assert caught.value.status == status and caught.value.provider == "hubspot"
    assert hubspot.counter.calls["companies.list"] == 3  # bounded retries


def test_locked_waits_at_least_two_seconds_then_succeeds(hubspot_sandbox: HubSpotSandbox) -> None:
    connector = hubspot_connector(hubspot_sandbox, retry=RetryPolicy(backoff_s=0.01))
    hubspot_sandbox.faults.add(FaultRule(endpoint="companies.list", status=423, remaining=1))
    started = time.monotonic()
    _list_once(connector)
    assert time.monotonic() - started >= 2.0
    hubspot_sandbox.faults.add(FaultRule(endpoint="companies.list", status=423))
    with pytest.raises(Transient) as caught:
        _list_once(hubspot_connector(hubspot_sandbox, retry=NO_RETRY, setup=False))
    assert caught.value.status == 423 and caught.value.code == "LOCKED"


def test_a_429_names_its_policy_and_the_wait_until_the_next_window(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    budget = memory_budget("hubspot")
    budget.max_wait_s = 0.0
    connector = hubspot_connector(hubspot_sandbox, retry=NO_RETRY, setup=False, budget=budget)
    hubspot_sandbox.faults.add(FaultRule(endpoint="companies.list", status=429, remaining=1))
    with pytest.raises(RateLimited) as caught:
        _list_once(connector)
    assert not isinstance(caught.value, BudgetExhausted)
    assert caught.value.policy == "TEN_SECONDLY_ROLLING" and caught.value.status == 429
    assert 0 < caught.value.wait_s <= 10.0
    # Every process sharing the budget pauses for it too, without calling HubSpot.
    with pytest.raises(RateLimited) as paused:
        budget.acquire("burst")
    assert paused.value.code == "LOCAL_BUDGET" and paused.value.wait_s > 0


def test_a_429_blip_is_waited_out_and_retried(
    make_hubspot_sandbox: Callable[..., HubSpotSandbox],
) -> None:
    # HubSpot allows one search a second here; our budget (opened wide) does not know it,
    # so the secondly 429s come back and are each waited out (a second) and retried.
    sandbox = make_hubspot_sandbox(limits=RateLimits(per_interval=1_000, search_per_second=1))
    sandbox.seed(generate_companies(450, seed=1))
    connector = hubspot_connector(sandbox)
    pages = connector.scan("company", cursor=SEARCH_FROM_START)
    ids = [r.external_id for p in pages for r in p.records]
    assert sorted(ids) == sorted(sandbox.ids("companies"))
    assert connector.counter.calls["companies.search"] > 3  # three pages, plus retries


def test_the_daily_limit_is_budget_exhausted(
    make_hubspot_sandbox: Callable[..., HubSpotSandbox],
) -> None:
    sandbox = make_hubspot_sandbox(limits=RateLimits(daily=4))
    connector = hubspot_connector(sandbox, retry=NO_RETRY, setup=False)
    with pytest.raises(BudgetExhausted) as caught:
        for _ in range(10):
            connector.fetch("company", ["20000000001"])
    assert caught.value.wait_s > 0 and caught.value.kind == "budget_exhausted"


def test_a_timeout_is_transient_and_a_single_one_is_retried(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    connector = hubspot_connector(hubspot_sandbox, timeout_s=0.3)
    hubspot_sandbox.faults.add(FaultRule(endpoint="companies.list", kind="timeout", remaining=1))
    _list_once(connector)
    assert connector.counter.calls["companies.list"] == 2
    hubspot_sandbox.faults.add(FaultRule(endpoint="companies.list", kind="timeout", remaining=1))
    quick = hubspot_connector(hubspot_sandbox, timeout_s=0.3, retry=NO_RETRY, setup=False)
    with pytest.raises(Transient, match="network"):
        _list_once(quick)


def test_a_refused_connection_is_transient() -> None:
    connector = HubSpotConnector(
        account_id="1",
        credentials=Credentials(access_token="pat"),
        budget=memory_budget("hubspot"),
        base_url="http://127.0.0.1:9",  # nothing listens on the discard port
        options=HubSpotOptions(retry=NO_RETRY),
    )
    with pytest.raises(Transient, match="network"):
        connector.fetch("company", ["1"])


def test_an_expired_token_is_refreshed_once_and_handed_back(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    creds = hubspot_sandbox.credentials
    oauth = Credentials(
        access_token="expired-long-ago",
        refresh_token=creds.refresh_token,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
    )
    saved: list[Credentials] = []
    connector = hubspot_connector(hubspot_sandbox, credentials=oauth, on_tokens=saved.append)
    assert len(saved) == 1 and saved[0].access_token != "expired-long-ago"
    assert saved[0].refresh_token == creds.refresh_token and saved[0].expires_at is not None
    hubspot_sandbox.expire_tokens()
    _list_once(connector)
    assert len(saved) == 2 and saved[1].access_token != saved[0].access_token
    assert connector.counter.calls["oauth.token"] == 2
    assert "expired" not in repr(saved[1]) and saved[1].access_token not in repr(saved[1])


def test_a_refused_refresh_is_an_auth_error(hubspot_sandbox: HubSpotSandbox) -> None:
    creds = hubspot_sandbox.credentials
    oauth = Credentials(
        access_token="expired",
        refresh_token="revoked",
        client_id=creds.client_id,
        client_secret=creds.client_secret,
    )
    with pytest.raises(AuthError, match="refresh"):
        hubspot_connector(hubspot_sandbox, credentials=oauth)


def test_a_bad_token_without_refresh_is_an_auth_error(hubspot_sandbox: HubSpotSandbox) -> None:
    with pytest.raises(AuthError) as caught:
        hubspot_connector(hubspot_sandbox, credentials=Credentials(access_token="nope"))
    assert caught.value.status == 401 and caught.value.kind == "auth"


def test_not_found_and_bad_requests_are_permanent(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    with pytest.raises(NotFound):
        hubspot.api.call(
            "companies.get",
            lambda api, o: api.sdk("crm.companies.basic_api").get_by_id("20999999999", **o),
        )
    with pytest.raises(ConnectorError) as caught:
        hubspot.api.call(
            "companies.search",
            lambda api, o: api.sdk("crm.companies.search_api").do_search({"limit": 500}, **o),
            window="search",
        )
    assert caught.value.kind == "permanent" and caught.value.status == 400


def test_a_token_about_to_expire_is_refreshed_before_the_call(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    creds = hubspot_sandbox.credentials
    form = {"grant_type": "refresh_token", "client_id": creds.client_id,
            "client_secret": creds.client_secret, "refresh_token": creds.refresh_token}  # fmt: skip
    issued = hubspot_sandbox.auth.exchange(form)
    oauth = Credentials(
        access_token=str(issued["access_token"]),
        refresh_token=creds.refresh_token,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        expires_at=datetime.now(UTC) + timedelta(seconds=30),  # inside the margin
    )
    saved: list[Credentials] = []
    connector = hubspot_connector(hubspot_sandbox, credentials=oauth, on_tokens=saved.append,
                                  setup=False)  # fmt: skip
    _list_once(connector)
    assert connector.counter.calls == {"oauth.token": 1, "companies.list": 1}  # no 401 first
    assert saved[0].expires_at is not None and saved[0].expires_at > oauth.expires_at
