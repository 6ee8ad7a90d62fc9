"""Query paging with query locators, batch sizes, snapshots, and queryAll."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.errors import ApiError

from .conftest import BIG_ORG_ACCOUNTS

NEXT_URL = re.compile(r"^/services/data/v59\.0/query/01g[0-9A-Za-z]{15}-(\d+)$")


def counting_client(sandbox: SalesforceSandbox) -> tuple[Salesforce, list[dict[str, Any]]]:
    """A client whose session records each response body (a requests hook, not a patch)."""
    pages: list[dict[str, Any]] = []
    sf = sandbox.client()

    def record(response: requests.Response, *args: object, **kwargs: object) -> None:
        if "/query" in response.url:
            pages.append(response.json())

    sf.session.hooks["response"].append(record)
    return sf, pages


def test_query_all_iter_pages_through_25000_accounts(big_sandbox: SalesforceSandbox) -> None:
    sf, pages = counting_client(big_sandbox)
    ids = [record["Id"] for record in sf.query_all_iter("SELECT Id, Name FROM Account")]
    assert len(ids) == BIG_ORG_ACCOUNTS
    assert len(set(ids)) == BIG_ORG_ACCOUNTS
    assert [len(p["records"]) for p in pages] == [2000] * 12 + [1000]
    assert all(p["totalSize"] == BIG_ORG_ACCOUNTS for p in pages)
    assert [p["done"] for p in pages] == [False] * 12 + [True]
    offsets = [int(NEXT_URL.match(p["nextRecordsUrl"]).group(1)) for p in pages[:-1]]  # type: ignore[union-attr]
    assert offsets == list(range(2000, 25000, 2000))
    assert "nextRecordsUrl" not in pages[-1]


def test_batch_size_header_is_honoured_and_clamped(big_sandbox: SalesforceSandbox) -> None:
    sf, pages = counting_client(big_sandbox)
    headers = {"Sforce-Query-Options": "batchSize=500"}
    ids = {r["Id"] for r in sf.query_all_iter("SELECT Id FROM Account", headers=headers)}
    assert len(ids) == BIG_ORG_ACCOUNTS
    assert len(pages) == 50 and {len(p["records"]) for p in pages} == {500}
    first = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=10"})
    assert len(first["records"]) == 200  # the minimum
    first = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=9000"})
    assert len(first["records"]) == 2000  # the maximum


def test_query_and_query_more_by_url_and_by_locator(big_sandbox: SalesforceSandbox) -> None:
    sf = big_sandbox.client()
    first = sf.query("SELECT Id FROM Account WHERE Industry IN ('Technology', 'Finance')")
    total = first["totalSize"]
    assert 2000 < total < BIG_ORG_ACCOUNTS
    seen = [r["Id"] for r in first["records"]]
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    seen += [r["Id"] for r in second["records"]]
    locator = second.get("nextRecordsUrl", "").rsplit("/", 1)[-1]
    while locator:
        page = sf.query_more(locator)  # the id form: .../query/01g...-N
        seen += [r["Id"] for r in page["records"]]
        locator = page.get("nextRecordsUrl", "").rsplit("/", 1)[-1]
    assert len(seen) == len(set(seen)) == total
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01g5J0000000000AAA-2000")
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_locator_is_a_snapshot(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    ids = [sf_sandbox.create("Account", {"Name": f"Snap {n:03d}"}) for n in range(450)]
    first = sf.query(
        "SELECT Id, Name FROM Account ORDER BY Name",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    assert first["totalSize"] == 450
    sf.Account.update(ids[300], {"Name": "Renamed"})
    sf.Account.delete(ids[301])
    sf.Account.create({"Name": "Snap 999 late"})
    rest = []
    page = first
    while not page["done"]:
        page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
        assert page["totalSize"] == 450
        rest += page["records"]
    by_id = {r["Id"]: r["Name"] for r in first["records"] + rest}
    assert len(by_id) == 450
    assert by_id[ids[300]] == "Snap 300" and ids[301] in by_id
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 450  # -1 deleted, +1 new


def test_query_all_returns_deleted_and_merged_rows(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    master = sf.Account.create({"Name": "Master Co"})["id"]
    loser_a = sf.Account.create({"Name": "Master Co."})["id"]
    loser_b = sf.Account.create({"Name": "MASTER CO"})["id"]
    gone = sf.Account.create({"Name": "Gone Ltd"})["id"]
    contact = sf.Contact.create({"LastName": "Murphy", "AccountId": loser_a})["id"]
    gone_contact = sf.Contact.create({"LastName": "Kowalski", "AccountId": gone})["id"]
    sf_sandbox.merge("Account", master, [loser_a, loser_b], {"Phone": "+1 555 0100"})
    sf.Account.delete(gone)

    live = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    assert live == {master}
    soql = "SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE IsDeleted = true"
    deleted = {r["Id"]: r for r in sf.query_all(soql, include_deleted=True)["records"]}
    assert set(deleted) == {loser_a, loser_b, gone}
    assert deleted[loser_a]["MasterRecordId"] == master == deleted[loser_b]["MasterRecordId"]
    assert deleted[gone]["MasterRecordId"] is None
    merged = sf.query_all(
        "SELECT Id FROM Account WHERE IsDeleted = true AND MasterRecordId != null",
        include_deleted=True,
    )
    assert {r["Id"] for r in merged["records"]} == {loser_a, loser_b}
    assert sf.query("SELECT Id FROM Account WHERE IsDeleted = true")["totalSize"] == 0
    # Children follow the survivor; an account's delete takes its contacts with it.
    assert sf.Contact.get(contact)["AccountId"] == master
    assert sf.Account.get(master)["Phone"] == "+1 555 0100"
    contacts = sf.query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)["records"]
    assert {r["Id"]: r["IsDeleted"] for r in contacts} == {contact: False, gone_contact: True}


def test_an_org_keeps_at_most_ten_open_cursors(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    for n in range(201):
        sf_sandbox.create("Account", {"Name": f"Cursor {n}"})
    small = {"Sforce-Query-Options": "batchSize=200"}
    pages = [sf.query("SELECT Id FROM Account", headers=small) for _ in range(11)]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(pages[0]["nextRecordsUrl"], identifier_is_url=True)
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert len(sf.query_more(pages[10]["nextRecordsUrl"], identifier_is_url=True)["records"]) == 1


def test_contact_merge_and_merge_limits(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    ids = [
        sf.Contact.create({"LastName": f"Dup {n}", "Email": "dup@example.com"})["id"]
        for n in range(4)
    ]
    with pytest.raises(ApiError) as caught:
        sf_sandbox.merge("Contact", ids[0], ids[1:])  # four records: one more than merge() takes
    assert caught.value.status == 400
    sf_sandbox.merge("Contact", ids[0], ids[1:3], {"Title": "Kept"})
    rows = sf.query_all(
        "SELECT Id, MasterRecordId, IsDeleted, Title FROM Contact ORDER BY LastName",
        include_deleted=True,
    )
    assert [(r["IsDeleted"], r["MasterRecordId"]) for r in rows["records"]] == [
        (False, None), (True, ids[0]), (True, ids[0]), (False, None)
    ]  # fmt: skip
    assert rows["records"][0]["Title"] == "Kept"


def test_recycle_bin_is_purged_after_15_days() -> None:
    now = [datetime(2025, 6, 1, 12, 0, tzinfo=UTC)]
    with SalesforceSandbox(clock=lambda: now[0], session_lifetime_s=60 * 86400) as sandbox:
        sf = sandbox.client()
        old = sf.Account.create({"Name": "Old"})["id"]
        sf.Account.delete(old)
        now[0] += timedelta(days=10)
        recent = sf.Account.create({"Name": "Recent"})["id"]
        sf.Account.delete(recent)
        now[0] += timedelta(days=6)  # "Old" has been in the bin 16 days, "Recent" 6
        rows = sf.query_all("SELECT Id FROM Account", include_deleted=True)["records"]
        assert [r["Id"] for r in rows] == [recent]
        with pytest.raises(SalesforceResourceNotFound) as caught:
            sf.Account.get(old)
        assert caught.value.content[0]["errorCode"] == "NOT_FOUND"  # gone, not just deleted
        window = sf.Account.deleted(now[0] - timedelta(days=14), now[0])
        assert [r["id"] for r in window["deletedRecords"]] == [recent]
        assert window["earliestDateAvailable"] == "2025-06-02T12:00:00.000+0000"
