"""Faults on demand, as a plain HTTP client sees them: HubSpot-shaped error statuses,
stalls past the client's timeout, added latency, and per-endpoint call counters."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.faults import FaultRule, Faults
from sandbox.hubspot import HubSpotSandbox


@pytest.fixture
def faulty(make_hubspot_sandbox) -> HubSpotSandbox:  # type: ignore[no-untyped-def]
    return make_hubspot_sandbox(faults=Faults(seed=3))


def client_for(sandbox: HubSpotSandbox, timeout: float = 5.0) -> httpx.Client:
    headers = {"Authorization": f"Bearer {sandbox.access_token}"}
    return httpx.Client(base_url=sandbox.url, headers=headers, timeout=timeout)


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (500, "INTERNAL_ERROR"),
        (502, "BAD_GATEWAY"),
        (503, "SERVICE_UNAVAILABLE"),
        (423, "LOCKED"),
        (429, "RATE_LIMITS"),
    ],
)
def test_error_faults_answer_with_hubspot_bodies(
    faulty: HubSpotSandbox, status: int, category: str
) -> None:
    faulty.faults.add(FaultRule(endpoint="companies.list", status=status, remaining=1))
    with client_for(faulty) as client:
        response = client.get("/crm/v3/objects/companies")
        assert response.status_code == status
        body = response.json()
        assert body["status"] == "error" and body["category"] == category and body["correlationId"]
        if status == 429:
            assert (
                body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
            )
        # The rule was for one call only, and only for this endpoint.
        assert client.get("/crm/v3/objects/companies").status_code == 200
        assert client.get("/crm/v3/objects/contacts").status_code == 200
    assert faulty.faults.calls["companies.list"] == 2
    assert faulty.faults.calls["contacts.list"] == 1


def test_timeout_fault_stalls_past_the_client_timeout(faulty: HubSpotSandbox) -> None:
    faulty.faults.add(FaultRule(endpoint="companies.batch.*", kind="timeout"))
    with client_for(faulty, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.post("/crm/v3/objects/companies/batch/read", json={"inputs": []})
        assert time.monotonic() - started < 2
        assert (
            client.get("/crm/v3/objects/companies").status_code == 200
        )  # other endpoints unaffected
    assert faulty.faults.calls["companies.batch.read"] == 1


def test_latency_fault_delays_without_blocking_other_requests(faulty: HubSpotSandbox) -> None:
    faulty.faults.add(FaultRule(endpoint="contacts.search", kind="latency", latency_s=0.3))
    with client_for(faulty) as slow, client_for(faulty) as fast:
        started = time.monotonic()
        response = slow.post("/crm/v3/objects/contacts/search", json={"limit": 1})
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        assert fast.get("/crm/v3/objects/contacts").status_code == 200
        assert time.monotonic() - started < 0.25


def test_rates_apply_to_a_share_of_calls(faulty: HubSpotSandbox) -> None:
    faulty.faults.add(FaultRule(endpoint="*", rate=0.5, status=503))
    with client_for(faulty) as client:
        statuses = [client.get("/crm/v3/objects/companies").status_code for _ in range(40)]
    assert set(statuses) == {200, 503}
    assert 8 <= statuses.count(503) <= 32


def test_faults_and_counters_over_admin_endpoints(hubspot_sandbox: HubSpotSandbox) -> None:
    with httpx.Client(base_url=hubspot_sandbox.url) as admin, client_for(hubspot_sandbox) as client:
        rule = {"endpoint": "associations.batch.read", "status": 502, "remaining": 1}
        assert admin.post("/__sandbox/hubspot/faults", json=rule).status_code == 201
        response = client.post(
            "/crm/v4/associations/contacts/companies/batch/read", json={"inputs": []}
        )
        assert response.status_code == 502
        counters = admin.get("/__sandbox/hubspot/counters").json()
        assert counters["calls"] == {"associations.batch.read": 1}
        assert admin.delete("/__sandbox/hubspot/faults").status_code == 204
        assert admin.get("/__sandbox/hubspot/faults").json() == {"rules": []}
