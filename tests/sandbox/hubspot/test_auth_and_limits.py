"""Tokens and rate limits as the SDK meets them: OAuth refresh, expiry with HubSpot's 401
body, the 10-second and daily budgets with their headers, and search's own bucket."""

from __future__ import annotations

import json
import time

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.companies import ApiException, PublicObjectSearchRequest
from hubspot.crm.companies.exceptions import UnauthorizedException
from hubspot.oauth import ApiException as OAuthApiException

from sandbox.hubspot import HubSpotSandbox, RateLimits
from tests.sandbox.hubspot.conftest import sdk_client


def refresh(sandbox: HubSpotSandbox, **override: str):  # type: ignore[no-untyped-def]
    creds = sandbox.credentials
    form = {"grant_type": "refresh_token", "client_id": creds.client_id,
            "client_secret": creds.client_secret, "refresh_token": creds.refresh_token, **override}  # fmt: skip
    return HubSpot(host=sandbox.url).oauth.tokens_api.create(**form)


def test_oauth_refresh_expiry_and_401_bodies(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(oauth_token_ttl_s=600)
    tokens = refresh(sandbox)
    assert tokens.expires_in == 600 and tokens.token_type == "bearer"
    client = sdk_client(sandbox, tokens.access_token)
    assert client.crm.companies.basic_api.get_page().results == []
    sandbox.expire_tokens()
    with pytest.raises(UnauthorizedException) as caught:
        client.crm.companies.basic_api.get_page()
    body = json.loads(caught.value.body)
    assert caught.value.status == 401
    assert body["status"] == "error" and body["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired" in body["message"] and body["correlationId"]
    client.access_token = refresh(
        sandbox
    ).access_token  # what a client does on EXPIRED_AUTHENTICATION
    assert sdk_client(sandbox, client.access_token).crm.companies.basic_api.get_page().results == []
    # The private-app token never expires.
    assert sdk_client(sandbox).crm.companies.basic_api.get_page().results == []
    with pytest.raises(UnauthorizedException) as caught:
        sdk_client(sandbox, "not-a-token").crm.companies.basic_api.get_page()
    assert json.loads(caught.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_oauth_tokens_expire_by_time_and_bad_refresh_is_rejected(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(oauth_token_ttl_s=0.5)
    client = sdk_client(sandbox, refresh(sandbox).access_token)
    client.crm.companies.basic_api.get_page()
    time.sleep(0.55)
    with pytest.raises(UnauthorizedException):
        client.crm.companies.basic_api.get_page()
    with pytest.raises(OAuthApiException) as caught:
        refresh(sandbox, refresh_token="stolen")
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["status"] == "BAD_REFRESH_TOKEN"


def test_ten_second_budget_gives_429_with_headers_and_body(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(limits=RateLimits())  # HubSpot Professional: 190 / 10 s
    api = sdk_client(sandbox).crm.companies.basic_api
    first = api.get_page_with_http_info()
    headers = first[2]
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "625000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "624999"
    for _ in range(189):
        api.get_page()
    with pytest.raises(ApiException) as caught:
        api.get_page()
    error = caught.value
    assert error.status == 429
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert error.headers["X-HubSpot-RateLimit-Max"] == "190"
    body = json.loads(error.body)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["status"] == "error" and body["correlationId"]


def test_daily_budget(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(limits=RateLimits(daily=3))
    api = sdk_client(sandbox).crm.companies.basic_api
    for _ in range(3):
        api.get_page()
    with pytest.raises(ApiException) as caught:
        api.get_page()
    body = json.loads(caught.value.body)
    assert body["policyName"] == "DAILY" and body["message"] == "You have reached your daily limit."
    assert caught.value.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_search_has_its_own_per_second_bucket_and_no_headers(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(limits=RateLimits())
    search_api = sdk_client(sandbox).crm.companies.search_api
    request = PublicObjectSearchRequest(limit=10)
    started = time.monotonic()
    for _ in range(5):
        _, status, headers = search_api.do_search_with_http_info(request)
        assert status == 200
        assert not any(name.lower().startswith("x-hubspot-ratelimit") for name in headers)
    with pytest.raises(ApiException) as caught:
        search_api.do_search(request)
    assert time.monotonic() - started < 1.0
    body = json.loads(caught.value.body)
    assert caught.value.status == 429 and body["policyName"] == "SECONDLY"
    assert body["message"] == "You have reached your secondly limit."
    # Non-search calls are not charged to the search bucket.
    assert sdk_client(sandbox).crm.companies.basic_api.get_page().results == []
    time.sleep(1.0)
    assert search_api.do_search(request).total == 0


def test_revoked_tokens_are_refused_refresh_token_included(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox()
    before = sandbox.credentials
    client = sdk_client(sandbox, refresh(sandbox).access_token)
    client.crm.companies.basic_api.get_page()
    assert requests.post(f"{sandbox.url}/__sandbox/hubspot/tokens/revoke", timeout=10).ok
    for token in (client.access_token, before.private_app_token):
        with pytest.raises(UnauthorizedException) as caught:
            sdk_client(sandbox, token).crm.companies.basic_api.get_page()
        assert json.loads(caught.value.body)["category"] == "INVALID_AUTHENTICATION"
    with pytest.raises(OAuthApiException) as refused:
        refresh(sandbox, refresh_token=before.refresh_token)
    assert json.loads(refused.value.body)["status"] == "BAD_REFRESH_TOKEN"
    # The app's client id and secret stay; the new grant works.
    assert sandbox.credentials.client_id == before.client_id
    assert sdk_client(sandbox, refresh(sandbox).access_token).crm.companies.basic_api.get_page()
    assert sdk_client(sandbox).crm.companies.basic_api.get_page().results == []
