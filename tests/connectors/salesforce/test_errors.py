"""Every fault the Salesforce sandbox injects maps to the right connector error, short blips
are retried inside the call, and an expired session is refreshed once through on_tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import WriteRequest
from connectors.credentials import Credentials
from connectors.errors import AuthError, BudgetExhausted, RateLimited, Transient
from connectors.retry import RetryPolicy
from connectors.salesforce import SalesforceConnector
from sandbox.faults import FaultRule
from sandbox.salesforce import SalesforceSandbox
from tests.connectors.conftest import memory_budget, sf_connector, sf_oauth

NO_RETRY = RetryPolicy(attempts=1)


def _query(connector: SalesforceConnector) -> None:
    next(iter(connector.scan("account", full=True)))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_blip_is_retried_and_succeeds(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector, status: int
) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="queryAll", status=status, remaining=1))
    _query(salesforce)
    assert salesforce.counter.calls["queryAll"] == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_lasting_server_error_is_transient(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector, status: int
) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="queryAll", status=status))
    with pytest.raises(Transient) as caught:
        _query(salesforce)
    assert caught.value.status == status and caught.value.provider == "salesforce"
    assert caught.value.code in ("UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE")
    assert salesforce.counter.calls["queryAll"] == 3


def test_a_locked_row_is_transient_and_retried(sf_sandbox: SalesforceSandbox) -> None:
    one = [WriteRequest(object_type="account", local_id="L1", properties={"Name": "Locked"})]
    sf_sandbox.faults.add(FaultRule(endpoint="collections.upsert", status=400, remaining=1))
    [result] = sf_connector(sf_sandbox).upsert("account", one)
    assert result.ok and result.created
    sf_sandbox.faults.add(FaultRule(endpoint="collections.upsert", status=400, remaining=1))
    with pytest.raises(Transient) as caught:  # a call-level error is not about one record
        sf_connector(sf_sandbox, retry=NO_RETRY, setup=False).upsert("account", one)
    assert caught.value.code == "UNABLE_TO_LOCK_ROW"


def test_request_limit_exceeded_is_budget_exhausted(sf_sandbox: SalesforceSandbox) -> None:
    connector = sf_connector(sf_sandbox)
    sf_sandbox.faults.add(FaultRule(endpoint="queryAll", status=403))
    with pytest.raises(BudgetExhausted) as caught:
        _query(connector)
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED" and caught.value.wait_s > 0
    assert connector.counter.calls["queryAll"] == 1  # never retried in the call


def test_the_org_daily_limit_stops_calls(make_sf_sandbox: Callable[..., SalesforceSandbox]) -> None:
    sandbox = make_sf_sandbox(daily_api_limit=50)
    connector = sf_connector(sandbox, setup=False, retry=NO_RETRY)
    sandbox.set_api_usage(48)
    connector.fetch("account", ["001000000000000AAA"])  # sees api-usage=49/50
    connector.fetch("account", ["001000000000000AAA"])  # the last call of the day
    with pytest.raises(BudgetExhausted):
        connector.fetch("account", ["001000000000000AAA"])
    assert sandbox.api_usage == 50  # stopped by the budget, not by a refused call


def test_a_429_is_rate_limited(sf_sandbox: SalesforceSandbox) -> None:
    connector = sf_connector(sf_sandbox, retry=NO_RETRY)
    sf_sandbox.faults.add(FaultRule(endpoint="queryAll", status=429, remaining=1))
    with pytest.raises(RateLimited) as caught:
        _query(connector)
    assert caught.value.wait_s > 0 and caught.value.status == 429


def test_a_timeout_is_transient_and_a_single_one_is_retried(
    sf_sandbox: SalesforceSandbox,
) -> None:
    connector = sf_connector(sf_sandbox, timeout_s=0.3)
    sf_sandbox.faults.add(FaultRule(endpoint="queryAll", kind="timeout", remaining=1))
    _query(connector)
    assert connector.counter.calls["queryAll"] == 2
    sf_sandbox.faults.add(FaultRule(endpoint="queryAll", kind="timeout", remaining=1))
    quick = sf_connector(sf_sandbox, timeout_s=0.3, retry=NO_RETRY, setup=False)
    with pytest.raises(Transient, match="network"):
        _query(quick)


def test_an_expired_session_is_refreshed_once_and_handed_back(
    sf_sandbox: SalesforceSandbox,
) -> None:
    saved: list[Credentials] = []
    connector = sf_connector(sf_sandbox, on_tokens=saved.append)
    sf_sandbox.expire_sessions()
    _query(connector)
    assert len(saved) == 1 and connector.counter.calls["oauth.token"] == 1
    assert saved[0].refresh_token == sf_sandbox.credentials.refresh_token
    assert saved[0].instance_url == sf_sandbox.instance_url
    _query(connector)  # the new session keeps working
    assert len(saved) == 1


def test_a_revoked_refresh_token_is_an_auth_error(sf_sandbox: SalesforceSandbox) -> None:
    connector = sf_connector(sf_sandbox)
    sf_sandbox.expire_sessions()
    sf_sandbox.revoke_refresh_token()
    with pytest.raises(AuthError) as caught:
        _query(connector)
    assert caught.value.code == "invalid_grant"


def test_an_expired_session_without_refresh_is_an_auth_error(
    sf_sandbox: SalesforceSandbox,
) -> None:
    bare = Credentials(access_token=sf_oauth(sf_sandbox).access_token)
    connector = sf_connector(sf_sandbox, credentials=bare, budget=memory_budget("salesforce"))
    sf_sandbox.expire_sessions()
    with pytest.raises(AuthError) as caught:
        _query(connector)
    assert caught.value.status == 401 and caught.value.code == "INVALID_SESSION_ID"
