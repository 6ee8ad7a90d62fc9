"""Injected faults: error statuses with Salesforce bodies, stalls, latency; call counters."""

from __future__ import annotations

import time

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError

from sandbox.faults import FaultRule
from sandbox.salesforce import SalesforceSandbox


def test_error_fault_answers_with_a_salesforce_body(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="query", status=503, remaining=1))
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 503
    assert caught.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT Id FROM Account")["done"] is True  # the rule retired
    assert sf_sandbox.faults.snapshot()["calls"]["query"] == 2


def test_error_fault_on_upsert_changes_nothing(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="sobject.upsert", status=500))
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.Account.upsert("CrmsyncId__c/a", {"Name": "A"})
    assert caught.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert sf_sandbox.records("Account") == []
    sf_sandbox.faults.add(FaultRule(endpoint="collections.*", status=401))
    with pytest.raises(SalesforceExpiredSession):
        sf.restful("composite/sobjects/Account/CrmsyncId__c", method="PATCH", json={"records": []})
    counts = sf_sandbox.faults.snapshot()["calls"]
    assert counts["sobject.upsert"] == 1 and counts["collections.upsert"] == 1


def test_timeout_fault_stalls_past_the_client_timeout(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    account_id = sf.Account.create({"Name": "Slow"})["id"]
    sf_sandbox.faults.add(FaultRule(endpoint="sobject.get", kind="timeout", remaining=1))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.Account.get(account_id, timeout=0.3)
    assert time.monotonic() - started < 2
    # Other endpoints and later calls are served while the stalled one waits.
    assert sf_sandbox.client().Account.get(account_id)["Name"] == "Slow"


def test_latency_fault_delays(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="query*", kind="latency", latency_s=0.3))
    started = time.monotonic()
    sf.query("SELECT Id FROM Account")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    sf.limits()
    assert time.monotonic() - started < 0.3


def test_fault_rate_is_seeded_and_partial(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="limits", rate=0.5, status=500))
    outcomes = []
    for _ in range(40):
        try:
            sf.limits()
            outcomes.append(True)
        except SalesforceGeneralError:
            outcomes.append(False)
    assert 5 < outcomes.count(False) < 35
    assert sf_sandbox.faults.snapshot()["calls"]["limits"] == 40
