"""sObject resources through simple-salesforce: CRUD, validation errors, upsert by
External ID, describe, replication windows and sObject Collections."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce, format_external_id
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sandbox.salesforce import CustomField, SalesforceSandbox
from sandbox.salesforce.ids import to_18

SF_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def test_create_get_update_delete(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    created = sf.Account.create(
        {"Name": "Acme GmbH", "Industry": "Technology", "NumberOfEmployees": 12}
    )
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18 and account_id.startswith("001")
    record = sf.Account.get(account_id)
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{account_id}",
    }
    assert record["Name"] == "Acme GmbH" and record["CrmsyncId__c"] is None
    assert SF_DATETIME.match(record["CreatedDate"]) and SF_DATETIME.match(record["SystemModstamp"])
    assert record["OwnerId"].startswith("005") and record["IsDeleted"] is False
    assert sf.Account.get(account_id[:15])["Id"] == account_id  # 15-character ids work too
    assert sf.Account.update(account_id, {"Phone": "+49 30 1234", "Website": ""}) == 204
    record = sf.Account.get(account_id)
    assert record["Phone"] == "+49 30 1234" and record["Website"] is None
    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.get(account_id)
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.update(account_id, {"Name": "x"})
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.get(str(to_18("0015J0000009999")))
    assert caught.value.content[0]["errorCode"] == "NOT_FOUND"
    sf_sandbox.undelete("Account", account_id)
    assert sf.Account.get(account_id)["IsDeleted"] is False


@pytest.mark.parametrize(
    ("data", "code", "fields"),
    [
        ({"FirstName": "Anna"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ({"LastName": "x" * 81}, "STRING_TOO_LONG", ["LastName"]),
        ({"LastName": "x", "AccountId": to_18("0035J0000000001")}, "FIELD_INTEGRITY_EXCEPTION", ["AccountId"]),
        ({"LastName": "x", "CreatedDate": "2024-01-01T00:00:00.000+0000"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["CreatedDate"]),
    ],
)  # fmt: skip
def test_record_errors_name_their_fields(
    sf: Salesforce, data: dict[str, str], code: str, fields: list[str]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create(data)
    assert caught.value.content == [
        {"message": caught.value.content[0]["message"], "errorCode": code, "fields": fields}
    ]


def test_unknown_field_and_bad_json(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "x", "Nope__c": 1})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert (
        "No such column 'Nope__c' on sobject of type Account" in caught.value.content[0]["message"]
    )
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "x", "NumberOfEmployees": "many"})
    assert caught.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("sobjects/Account/", method="POST", data="{not json")
    assert caught.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_upsert_by_external_id_creates_then_updates(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    assert sf.Account.upsert("CrmsyncId__c/cust-1", {"Name": "O'Brien & Co"}) == 201
    assert sf.Account.upsert("CrmsyncId__c/cust-1", {"Name": "O'Brien and Co"}) == 200
    response = sf.Account.upsert("CrmsyncId__c/cust-1", {"Phone": "1"}, raw_response=True)
    assert response.json()["created"] is False and response.json()["success"] is True
    assert len(sf_sandbox.records("Account")) == 1
    record = sf.Account.get_by_custom_id("CrmsyncId__c", "CUST-1")  # matching ignores case
    assert record["Name"] == "O'Brien and Co" and record["CrmsyncId__c"] == "cust-1"
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful(
            "sobjects/Account/CrmsyncId__c/none",
            method="PATCH",
            params={"updateOnly": "true"},
            json={"Name": "x"},
        )
    assert len(sf_sandbox.records("Account")) == 1
    odd = "a/b c%d"
    assert sf.Account.upsert(format_external_id("CrmsyncId__c", odd), {"Name": "Odd"}) == 201
    assert (
        sf.query("SELECT CrmsyncId__c FROM Account WHERE Name = 'Odd'")["records"][0][
            "CrmsyncId__c"
        ]
        == odd
    )


def test_delete_by_external_id(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    sf.Account.upsert("CrmsyncId__c/gone", {"Name": "Gone"})
    assert sf.Account.delete("CrmsyncId__c/gone") == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.delete("CrmsyncId__c/gone")
    assert sf_sandbox.records("Account")[0]["IsDeleted"] is True


def test_upsert_rejections(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.upsert("CrmsyncId__c/x", {"Name": "x", "Id": "0015J0000000001AAA"})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.upsert("CrmsyncId__c/x", {"Name": "x", "CrmsyncId__c": "x"})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.upsert("Name/x", {"Phone": "1"})
    assert caught.value.content[0]["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.upsert("CrmsyncId__c/y", {"Phone": "1"})  # a create needs Name
    assert caught.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    sf.Account.create({"Name": "A", "CrmsyncId__c": "dup"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "B", "CrmsyncId__c": "DUP"})
    assert caught.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
    assert sf_sandbox.records("Account", include_deleted=True).__len__() == 1


def test_non_unique_external_id_gives_300() -> None:
    legacy = CustomField(name="LegacyId__c", external_id=True, objects=("Account",))
    with SalesforceSandbox(custom_fields=[legacy, CustomField(name="VAT_Number__c")]) as sandbox:
        sf = sandbox.client()
        first = sf.Account.create({"Name": "A", "LegacyId__c": "L1", "VAT_Number__c": "DE123"})[
            "id"
        ]
        second = sf.Account.create({"Name": "B", "LegacyId__c": "L1"})["id"]
        with pytest.raises(SalesforceMoreThanOneRecord) as caught:
            sf.Account.upsert("LegacyId__c/L1", {"Phone": "1"})
        assert sorted(caught.value.content) == sorted(
            f"/services/data/v59.0/sobjects/Account/{i}" for i in (first, second)
        )
        assert sf.Account.get(first)["VAT_Number__c"] == "DE123"


def test_without_external_id_field() -> None:
    with SalesforceSandbox(with_external_id=False) as sandbox:
        sf = sandbox.client()
        with pytest.raises(SalesforceResourceNotFound):
            sf.Account.upsert("CrmsyncId__c/x", {"Name": "x"})
        names = {f["name"] for f in sf.Account.describe()["fields"]}
        assert "CrmsyncId__c" not in names


def test_describe(sf: Salesforce) -> None:
    describe = sf.Account.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["keyPrefix"] == "001"
    assert fields["CrmsyncId__c"]["externalId"] is True and fields["CrmsyncId__c"]["unique"] is True
    assert fields["Name"]["nillable"] is False and fields["Id"]["updateable"] is False
    assert "Technology" in [p["value"] for p in fields["Industry"]["picklistValues"]]
    assert fields["Industry"]["type"] == "picklist"
    contact_fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert contact_fields["LastName"]["nillable"] is False
    assert contact_fields["AccountId"]["referenceTo"] == ["Account"]
    assert {s["name"] for s in sf.describe()["sobjects"]} == {"Account", "Contact", "User"}
    user = sf.User.describe()
    assert user["keyPrefix"] == "005"
    assert {f["name"]: f["createable"] for f in user["fields"]}["Email"] is False


def test_updated_and_deleted_windows(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    now = datetime.now(UTC)
    kept = sf.Account.create({"Name": "Kept"})["id"]
    removed = sf.Account.create({"Name": "Removed"})["id"]
    sf.Account.delete(removed)
    start, end = now - timedelta(hours=1), now + timedelta(minutes=2)
    updated = sf.Account.updated(start, end)
    assert updated["ids"] == [kept]
    assert SF_DATETIME.match(updated["latestDateCovered"])
    deleted = sf.Account.deleted(start, end)
    assert [r["id"] for r in deleted["deletedRecords"]] == [removed]
    assert SF_DATETIME.match(deleted["deletedRecords"][0]["deletedDate"])
    assert SF_DATETIME.match(deleted["earliestDateAvailable"])
    assert sf.Account.updated(now - timedelta(days=29), now - timedelta(days=28))["ids"] == []
    for call, days in ((sf.Account.updated, 31), (sf.Account.deleted, 16)):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            call(now - timedelta(days=days), now)
        assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.updated(now, now - timedelta(hours=1))
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_system_update_bumps_only_system_modstamp(
    sf_sandbox: SalesforceSandbox, sf: Salesforce
) -> None:
    account_id = sf.Account.create({"Name": "Auto"})["id"]
    before = sf.Account.get(account_id)
    sf_sandbox.update("Account", account_id, {"Description": "set by a flow"}, system=True)
    after = sf.Account.get(account_id)
    assert after["SystemModstamp"] >= before["SystemModstamp"]
    assert after["LastModifiedDate"] == before["LastModifiedDate"]
    assert after["Description"] == "set by a flow"


def test_collections_create_update_delete(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    good = {"attributes": {"type": "Account"}, "Name": "Good"}
    bad = {"attributes": {"type": "Account"}, "Phone": "no name"}
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": [good, bad]}
    )
    assert results[0]["success"] is True and results[0]["id"].startswith("001")
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            }
        ],
    }
    rolled = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": [good, bad]}
    )
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert len(sf_sandbox.records("Account")) == 1
    first_id = results[0]["id"]
    updates = [{"attributes": {"type": "Account"}, "Id": first_id, "Phone": "42"}]
    assert sf.restful("composite/sobjects", method="PATCH", json={"records": updates})[0]["success"]
    assert sf.Account.get(first_id)["Phone"] == "42"
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": first_id, "allOrNone": "false"}
    )
    assert deleted == [{"id": first_id, "success": True, "errors": []}]
    too_many = [good] * 201
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": too_many})
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collections_upsert_by_external_id(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Account"}, "CrmsyncId__c": f"c-{n}", "Name": f"Customer {n}"}
        for n in range(200)
    ]
    body = {"allOrNone": False, "records": records}
    first = sf.restful("composite/sobjects/Account/CrmsyncId__c", method="PATCH", json=body)
    assert [r["created"] for r in first] == [True] * 200
    second = sf.restful("composite/sobjects/Account/CrmsyncId__c", method="PATCH", json=body)
    assert [r["created"] for r in second] == [False] * 200
    assert [r["id"] for r in second] == [r["id"] for r in first]  # in request order
    assert len(sf_sandbox.records("Account")) == 200
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(
            "composite/sobjects/Account/CrmsyncId__c",
            method="PATCH",
            json={"records": records + records[:1]},
        )
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    dupes = {
        "records": [
            records[0],
            {**records[0], "Name": "Other"},
            {"attributes": {"type": "Account"}, "Name": "no id"},
        ]
    }
    results = sf.restful("composite/sobjects/Account/CrmsyncId__c", method="PATCH", json=dupes)
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"


def test_concurrent_upserts_never_duplicate(sf_sandbox: SalesforceSandbox) -> None:
    clients = [sf_sandbox.client() for _ in range(6)]

    def work(sf: Salesforce) -> list[int]:
        return [sf.Account.upsert(f"CrmsyncId__c/k-{n}", {"Name": f"K{n}"}) for n in range(20)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = [s for result in pool.map(work, clients) for s in result]
    assert statuses.count(201) == 20 and statuses.count(200) == 100
    assert len(sf_sandbox.records("Account")) == 20


def test_picklists_are_unrestricted_unless_asked(sf: Salesforce) -> None:
    assert sf.Account.create({"Name": "A", "Industry": "Computer Software"})["success"]
    with SalesforceSandbox(restricted_picklists=True) as strict:
        strict_sf = strict.client()
        assert strict_sf.Account.create({"Name": "B", "Industry": "Technology"})["success"]
        with pytest.raises(SalesforceMalformedRequest) as caught:
            strict_sf.Account.create({"Name": "C", "Industry": "Computer Software"})
        assert caught.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_upsert_update_before_api_46_answers_204(sf_sandbox: SalesforceSandbox) -> None:
    old = sf_sandbox.client(version="45.0")
    assert old.Account.upsert("CrmsyncId__c/v45", {"Name": "Old API"}) == 201
    assert old.Account.upsert("CrmsyncId__c/v45", {"Name": "Old API 2"}) == 204
