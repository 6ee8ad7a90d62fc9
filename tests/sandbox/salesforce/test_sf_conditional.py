"""Conditional writes and the Composite resource, through simple-salesforce: an sObject Rows
PATCH with ``If-Unmodified-Since`` answers 412 once the record changed after that date,
alone and as a Composite subrequest (25 to a call, one API call)."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from sandbox.faults import Faults
from sandbox.salesforce import SalesforceSandbox
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, 0, 250_000, tzinfo=UTC))


@pytest.fixture
def org(clock: Clock) -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(faults=Faults(seed=2), clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def sf(org: SalesforceSandbox) -> Salesforce:
    return org.client()


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


def test_a_patch_with_if_unmodified_since_is_refused_once_the_record_changed(
    org: SalesforceSandbox, sf: Salesforce, clock: Clock
) -> None:
    account_id = org.create("Account", {"Name": "Acme GmbH", "Phone": "1"})
    read_at = clock.now
    clock.advance(0.5)  # the same second: HTTP dates cannot tell it apart
    assert sf.Account.update(account_id, {"Phone": "2"}, headers={"If-Unmodified-Since": http_date(read_at)}) == 204  # fmt: skip
    clock.advance(2)
    org.update("Account", account_id, {"Phone": "3"})  # a person's edit after our read
    with pytest.raises(SalesforceError) as caught:
        sf.Account.update(account_id, {"Phone": "4"}, headers={"If-Unmodified-Since": http_date(read_at)})  # fmt: skip
    assert caught.value.status == 412
    assert caught.value.content[0]["errorCode"] == "PRECONDITION_FAILED"
    assert sf.Account.get(account_id)["Phone"] == "3"  # nothing written
    # An automation's change (SystemModstamp only) is no edit: the condition holds.
    read_at = clock.now
    clock.advance(3)
    org.update("Account", account_id, {"Description": "rollup"}, system=True)
    assert sf.Account.update(account_id, {"Phone": "5"}, headers={"If-Unmodified-Since": http_date(read_at)}) == 204  # fmt: skip


def test_a_condition_that_is_no_http_date_is_a_400(org: SalesforceSandbox, sf: Salesforce) -> None:
    account_id = org.create("Account", {"Name": "Acme GmbH"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(account_id, {"Phone": "4"}, headers={"If-Unmodified-Since": "yesterday"})
    assert caught.value.content[0]["errorCode"] == "INVALID_HEADER_VALUE"
    assert sf.Account.get(account_id)["Phone"] is None


def test_composite_answers_each_subrequest_on_its_own_in_one_api_call(
    org: SalesforceSandbox, sf: Salesforce, clock: Clock
) -> None:
    kept = org.create("Account", {"Name": "Kept", "Phone": "1"})
    edited = org.create("Account", {"Name": "Edited", "Phone": "1"})
    read_at = clock.now
    clock.advance(2)
    org.update("Account", edited, {"Phone": "by a person"})
    condition = {"If-Unmodified-Since": http_date(read_at)}
    base = f"/services/data/v{org.api_version}/sobjects/Account"

    def patch(ref: str, record_id: str) -> dict[str, object]:
        return {"method": "PATCH", "url": f"{base}/{record_id}", "referenceId": ref,
                "body": {"Phone": "ours"}, "httpHeaders": condition}  # fmt: skip

    before = org.faults.snapshot()["calls"].get("composite", 0)
    answer = sf.restful("composite", method="POST", json={"allOrNone": False, "compositeRequest": [
        patch("a", kept), patch("b", edited), patch("c", "001000000000000AAA"),
    ]})  # fmt: skip
    assert org.faults.snapshot()["calls"]["composite"] == before + 1
    by_ref = {sub["referenceId"]: sub for sub in answer["compositeResponse"]}
    assert by_ref["a"]["httpStatusCode"] == 204 and by_ref["a"]["body"] is None
    assert by_ref["b"]["httpStatusCode"] == 412
    assert by_ref["b"]["body"][0]["errorCode"] == "PRECONDITION_FAILED"
    assert by_ref["c"]["httpStatusCode"] == 404
    assert sf.Account.get(kept)["Phone"] == "ours"
    assert sf.Account.get(edited)["Phone"] == "by a person"


def test_composite_takes_at_most_25_subrequests(org: SalesforceSandbox, sf: Salesforce) -> None:
    account_id = org.create("Account", {"Name": "Acme GmbH"})
    url = f"/services/data/v{org.api_version}/sobjects/Account/{account_id}"
    many = [{"method": "PATCH", "url": url, "referenceId": f"r{n}", "body": {"Phone": str(n)}}
            for n in range(26)]  # fmt: skip
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite", method="POST", json={"compositeRequest": many})
    assert caught.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert sf.Account.get(account_id)["Phone"] is None  # nothing ran
