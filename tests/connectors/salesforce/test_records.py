"""Salesforce reads and writes against the sandbox over TLS: upserts on our External ID never
duplicate, per-record results map back, merges are followed, awkward names query safely."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import WriteRequest
from connectors.errors import Duplicate, Permanent
from connectors.salesforce import SalesforceConnector
from sandbox.salesforce import SalesforceSandbox
from tests.connectors.conftest import sf_connector

AWKWARD = ("O'Brien & Co", "%_\\", "50% off_sale", 'Quote "this" \\ that', "Back\\'slash")


def _accounts(count: int, prefix: str = "L") -> list[WriteRequest]:
    return [
        WriteRequest(object_type="account", local_id=f"{prefix}{n}",
                     properties={"Name": f"Account {n}", "BillingCity": "Oslo"})
        for n in range(count)
    ]  # fmt: skip


def _live(sandbox: SalesforceSandbox, name: str = "Account") -> list[dict]:
    return sandbox.records(name, include_deleted=False)


def test_ensure_setup_names_a_missing_external_id_field(
    make_sf_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    sandbox = make_sf_sandbox(with_external_id=False)
    with pytest.raises(Permanent, match=r"Account\.CrmsyncId__c") as caught:
        sf_connector(sandbox)
    assert caught.value.code == "EXTERNAL_ID_FIELD_MISSING"


def test_upserting_the_same_batch_twice_creates_nothing_new(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    first = salesforce.upsert("account", _accounts(250))
    assert all(r.ok and r.created for r in first)
    again = salesforce.upsert("account", _accounts(250))
    assert all(r.ok and not r.created for r in again)
    assert [r.external_id for r in again] == [r.external_id for r in first]
    assert len(_live(sf_sandbox)) == 250
    assert salesforce.counter.calls["collections.upsert"] == 4  # 200 + 50, twice
    stored = sf_sandbox.record("Account", first[9].external_id or "")
    assert stored is not None and stored["CrmsyncId__c"] == "L9"


def test_a_linked_record_is_updated_by_id_and_stamped_with_our_id(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    made = sf_sandbox.create("Account", {"Name": "Made In Salesforce"})
    [result] = salesforce.upsert(
        "account",
        [WriteRequest(object_type="account", local_id="C-9", external_id=made,
                      properties={"Phone": "+47 22 00 00 00"})],
    )  # fmt: skip
    assert result.ok and result.external_id == made and not result.created
    stored = sf_sandbox.record("Account", made)
    assert stored is not None and stored["CrmsyncId__c"] == "C-9"
    assert stored["Phone"] == "+47 22 00 00 00" and len(_live(sf_sandbox)) == 1


def test_per_record_errors_map_back_to_their_requests(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    requests = _accounts(4)
    requests[1] = WriteRequest(object_type="account", local_id="L1", properties={"Name": None})
    requests[2] = WriteRequest(
        object_type="account", local_id="L2", external_id="001000000000000AAA",
        properties={"Name": "Gone"},
    )  # fmt: skip
    results = salesforce.upsert("account", requests)
    assert [r.ok for r in results] == [True, False, False, True]
    assert isinstance(results[1].error, Permanent) and results[1].error.code
    assert results[2].error is not None and results[2].error.kind in ("not_found", "permanent")
    assert len(_live(sf_sandbox)) == 2


def test_a_taken_unique_value_is_a_duplicate(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    holder = sf_sandbox.create("Account", {"Name": "Holder", "CrmsyncId__c": "X-1"})
    [result] = salesforce.upsert(
        "account",
        [WriteRequest(object_type="account", local_id="X-1", external_id=None,
                      properties={"Name": "Same id, found by upsert"})],
    )  # fmt: skip
    assert result.ok and result.external_id == holder  # upsert found it: no duplicate made
    other = sf_sandbox.create("Account", {"Name": "Other"})
    [clash] = salesforce.upsert(
        "account",
        [WriteRequest(object_type="account", local_id="X-1", external_id=other,
                      properties={"Name": "Other"})],
    )  # fmt: skip
    assert isinstance(clash.error, Duplicate)


def test_contacts_carry_their_account(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    [account] = salesforce.upsert("account", _accounts(1))
    assert account.external_id
    [contact] = salesforce.upsert(
        "contact",
        [WriteRequest(object_type="contact", local_id="P1",
                      properties={"FirstName": "Ann", "LastName": "Lee"},
                      associations=(account.external_id,))],
    )  # fmt: skip
    assert contact.ok and contact.created and contact.external_id
    [fetched] = salesforce.fetch("contact", [contact.external_id])
    assert fetched.associations == (account.external_id,)
    assert fetched.local_id == "P1" and fetched.properties["LastName"] == "Lee"


def test_fetch_reads_live_deleted_merged_and_unknown_ids(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    live, deleted, master, loser = (
        sf_sandbox.create("Account", {"Name": f"Co {n}"}) for n in range(4)
    )
    sf_sandbox.delete("Account", deleted)
    sf_sandbox.merge("Account", master, [loser])
    unknown = "001000000000000AAA"
    records = salesforce.fetch("account", [live, deleted, loser, unknown])
    by_id = {r.external_id: r for r in records}
    assert not by_id[live].archived and by_id[live].properties["Name"] == "Co 0"
    assert by_id[deleted].archived and by_id[deleted].merged_into is None
    assert by_id[loser].archived and by_id[loser].merged_into == master
    assert not by_id[master].archived  # the survivor comes along
    assert by_id[unknown].archived and by_id[unknown].properties == {}
    assert [r.external_id for r in records[:4]] == [live, deleted, loser, unknown]


def test_awkward_names_are_written_read_and_queried_safely(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    requests = [
        WriteRequest(object_type="account", local_id=f"N{n}", properties={"Name": name})
        for n, name in enumerate(AWKWARD)
    ]
    results = salesforce.upsert("account", requests)
    assert all(r.ok for r in results)
    sf_sandbox.create("Account", {"Name": "Plain Name"})
    for name in AWKWARD:
        found = salesforce.find("account", "Name", name)
        assert [r.properties["Name"] for r in found] == [name]
    # LIKE wildcards in a prefix are literal: "%_" matches one name, not all of them.
    assert [r.properties["Name"] for r in salesforce.find_prefix("account", "Name", "%_")] == [
        "%_\\"
    ]
    assert [r.properties["Name"] for r in salesforce.find_prefix("account", "Name", "50%")] == [
        "50% off_sale"
    ]
    names = {r.properties["Name"] for p in salesforce.scan("account", full=True) for r in p.records}
    assert set(AWKWARD) <= names


def test_archive_sends_records_to_the_recycle_bin(
    sf_sandbox: SalesforceSandbox, salesforce: SalesforceConnector
) -> None:
    made = [r.external_id for r in salesforce.upsert("account", _accounts(3)) if r.external_id]
    salesforce.archive("account", made)
    salesforce.archive("account", made)  # again: already deleted is fine
    assert _live(sf_sandbox) == []
    assert all(r.archived for r in salesforce.fetch("account", made))
