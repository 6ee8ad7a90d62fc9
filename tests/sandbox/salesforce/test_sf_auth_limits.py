"""OAuth token refresh, session expiry, the daily API allocation and its headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sandbox.salesforce import SalesforceSandbox


def refresh(sandbox: SalesforceSandbox, **overrides: str) -> requests.Response:
    credentials = sandbox.credentials
    form = {
        "grant_type": "refresh_token",
        "client_id": credentials.consumer_key,
        "client_secret": credentials.consumer_secret,
        "refresh_token": credentials.refresh_token,
        **overrides,
    }
    with sandbox.http_session() as session:
        return session.post(sandbox.token_url, data=form, timeout=10)


def test_refresh_token_grant_issues_a_working_session(sf_sandbox: SalesforceSandbox) -> None:
    response = refresh(sf_sandbox)
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == sf_sandbox.instance_url and body["token_type"] == "Bearer"
    assert (
        body["id"]
        == f"{sf_sandbox.instance_url}/id/{sf_sandbox.org_id}/{sf_sandbox.credentials.user_id}"
    )
    expected = hmac.new(
        sf_sandbox.credentials.consumer_secret.encode(),
        (body["id"] + body["issued_at"]).encode(),
        hashlib.sha256,
    ).digest()
    assert base64.b64decode(body["signature"]) == expected
    sf = Salesforce(
        instance_url=body["instance_url"],
        session_id=body["access_token"],
        session=sf_sandbox.http_session(),
    )
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"refresh_token": "5Aep861-wrong"}, "invalid_grant"),
        ({"client_id": "3MVG9-unknown"}, "invalid_client_id"),
        ({"client_secret": "nope"}, "invalid_client"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_bad_token_requests(
    sf_sandbox: SalesforceSandbox, overrides: dict[str, str], error: str
) -> None:
    response = refresh(sf_sandbox, **overrides)
    assert response.status_code == 400
    assert response.json()["error"] == error and response.json()["error_description"]


def test_revoked_refresh_token_is_an_invalid_grant(sf_sandbox: SalesforceSandbox) -> None:
    sf_sandbox.revoke_refresh_token()
    assert refresh(sf_sandbox).json()["error"] == "invalid_grant"


def test_expired_session_then_refresh(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    sf.query("SELECT Id FROM Account")
    sf_sandbox.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    token = refresh(sf_sandbox).json()["access_token"]
    assert sf_sandbox.client(token).query("SELECT Id FROM Account")["done"] is True


def test_session_lifetime_follows_the_clock() -> None:
    now = [datetime(2025, 3, 1, tzinfo=UTC)]
    with SalesforceSandbox(clock=lambda: now[0], session_lifetime_s=3600) as sandbox:
        sf = sandbox.client()
        sf.query("SELECT Id FROM Account")
        now[0] += timedelta(minutes=59)
        sf.query("SELECT Id FROM Account")
        now[0] += timedelta(minutes=2)
        with pytest.raises(SalesforceExpiredSession):
            sf.query("SELECT Id FROM Account")


def test_no_or_unknown_token_is_401(sf_sandbox: SalesforceSandbox) -> None:
    with sf_sandbox.http_session() as session:
        response = session.get(f"{sf_sandbox.url}/services/data/v59.0/limits")
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    with pytest.raises(SalesforceExpiredSession):
        sf_sandbox.client("00Dbogus!token").limits()
    with sf_sandbox.http_session() as session:
        response = session.get(
            f"{sf_sandbox.url}/services/data/v59.0/limits", headers={"Authorization": "Basic abc"}
        )
    assert response.status_code == 401
    assert response.json() == [
        {"message": "INVALID_HEADER_TYPE", "errorCode": "INVALID_AUTH_HEADER"}
    ]


def test_daily_limit_and_usage_header() -> None:
    with SalesforceSandbox(daily_api_limit=5) as sandbox:
        sf = sandbox.client()
        for used in range(1, 5):
            sf.query("SELECT Id FROM Account")
            assert sf.api_usage["api-usage"] == (used, 5)
        limits = sf.limits()
        assert limits["DailyApiRequests"] == {"Max": 5, "Remaining": 0}
        assert sf.api_usage["api-usage"] == (5, 5)
        with pytest.raises(SalesforceRefusedRequest) as caught:
            sf.query("SELECT Id FROM Account")
        assert caught.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
        with pytest.raises(SalesforceRefusedRequest):
            sf.Account.create({"Name": "x"})
        assert sandbox.records("Account") == []


def test_limit_header_on_every_rest_response_but_versions(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    sf_sandbox.set_api_usage(99_990)
    seen: list[str | None] = []
    sf.session.hooks["response"].append(
        lambda r, *a, **k: seen.append(r.headers.get("Sforce-Limit-Info"))
    )
    sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")
    assert seen == ["api-usage=99991/100000", "api-usage=99992/100000"]
    assert sf.api_usage["api-usage"].used == 99991  # the SDK reads it on success only
    with sf_sandbox.http_session() as session:
        versions = session.get(f"{sf_sandbox.url}/services/data/")
        assert "Sforce-Limit-Info" not in versions.headers
        assert {
            "label": "Winter '24",
            "url": "/services/data/v59.0",
            "version": "59.0",
        } in versions.json()
        old = session.get(
            f"{sf_sandbox.url}/services/data/v20.0/limits",
            headers={"Authorization": f"Bearer {sf.session_id}"},
        )
        assert old.status_code == 404 and old.json()[0]["errorCode"] == "NOT_FOUND"
