"""Bulk API 2.0 query jobs: through simple-salesforce's ``sf.bulk2`` and over raw HTTP.

The CSV must say what the REST query says for the same SOQL (nulls empty, booleans
``true``/``false``, parent fields under dotted names); results page by ``Sforce-Locator``;
``queryAll`` includes the recycle bin; errors come in Salesforce's error shape; and every
request is one API call.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.shapes import BULK_QUERY_JOB, ERROR_LIST, SF_DATETIME

SOQL = "SELECT Id, LastName, Email, Phone, IsDeleted, CreatedDate, Account.Name FROM Contact"


class Raw:
    """Bulk API 2.0 over plain requests, with the sandbox's certificate and a session."""

    def __init__(self, sandbox: SalesforceSandbox) -> None:
        self.http = sandbox.http_session()
        self.http.headers["Authorization"] = f"Bearer {sandbox.access_token()}"
        self.base = f"{sandbox.instance_url}/services/data/v59.0/jobs/query"

    def create(self, soql: str, **options: Any) -> requests.Response:
        return self.http.post(self.base, json={"operation": "query", "query": soql, **options})

    def get(self, job_id: str) -> requests.Response:
        return self.http.get(f"{self.base}/{job_id}")

    def complete(self, soql: str, **options: Any) -> str:
        job_id = str(self.create(soql, **options).json()["id"])
        while self.get(job_id).json()["state"] != "JobComplete":
            pass
        return job_id

    def results(self, job_id: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.base}/{job_id}/results", params=params)


@pytest.fixture
def raw(sf_sandbox: SalesforceSandbox) -> Iterator[Raw]:
    client = Raw(sf_sandbox)
    yield client
    client.http.close()


def seed_contacts(sandbox: SalesforceSandbox, count: int) -> list[str]:
    account = sandbox.create("Account", {"Name": 'Bulk & Co, "Ltd"'})
    orphan = {"LastName": "Orphan", "Email": None}
    ids = [sandbox.create("Contact", orphan)]
    for n in range(1, count):
        fields = {"LastName": f"Row {n}", "Email": f"row{n}@example.com", "AccountId": account}
        ids.append(sandbox.create("Contact", fields))
    return ids


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_matches_the_rest_query(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    seed_contacts(sf_sandbox, 5)
    soql = SOQL + " ORDER BY Id"
    chunks = list(sf.bulk2.Contact.query(soql, wait=0))
    assert len(chunks) == 1
    got = rows(str(chunks[0]))
    header = ["Id", "LastName", "Email", "Phone", "IsDeleted", "CreatedDate", "Account.Name"]
    assert list(got[0]) == header
    expected = sf.query(soql)["records"]
    assert [r["Id"] for r in got] == [r["Id"] for r in expected]
    for row, record in zip(got, expected, strict=True):
        assert row["LastName"] == record["LastName"]
        assert row["Email"] == (record["Email"] or "")  # null is an empty string
        assert row["Phone"] == ""
        assert row["IsDeleted"] == "false"
        assert row["CreatedDate"] == record["CreatedDate"].replace("+0000", "Z")
        parent = record["Account"]
        assert row["Account.Name"] == (parent["Name"] if parent else "")
    assert got[1]["Account.Name"] == 'Bulk & Co, "Ltd"'  # quoting survives a round trip


def test_results_page_by_locator(sf_sandbox: SalesforceSandbox, raw: Raw) -> None:
    ids = seed_contacts(sf_sandbox, 5)
    job_id = raw.complete("SELECT Id FROM Contact ORDER BY Id")
    seen: list[str] = []
    locators: list[str] = []
    params: dict[str, Any] = {"maxRecords": 2}
    while True:
        answer = raw.results(job_id, **params)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/csv")
        assert "Sforce-Limit-Info" in answer.headers
        chunk = rows(answer.text)
        assert answer.text.startswith('"Id"\n')  # every set has the header row
        assert int(answer.headers["Sforce-NumberOfRecords"]) == len(chunk)
        seen += [r["Id"] for r in chunk]
        locator = answer.headers["Sforce-Locator"]
        locators.append(locator)
        if locator == "null":
            break
        params["locator"] = locator
    assert seen == sorted(ids)
    assert len(locators) == 3 and locators[-1] == "null"
    # A locator can be read again (the results are kept until the job is deleted).
    again = raw.results(job_id, maxRecords=2, locator=locators[0])
    assert [r["Id"] for r in rows(again.text)] == seen[2:4]


def test_sdk_pages_by_locator(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    ids = seed_contacts(sf_sandbox, 7)
    chunks = list(sf.bulk2.Contact.query("SELECT Id FROM Contact", max_records=3, wait=0))
    assert [len(rows(str(c))) for c in chunks] == [3, 3, 1]
    assert sorted(r["Id"] for c in chunks for r in rows(str(c))) == sorted(ids)


def test_query_all_includes_deleted_rows(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    ids = seed_contacts(sf_sandbox, 4)
    sf_sandbox.delete("Contact", ids[2])
    live = rows(str(next(sf.bulk2.Contact.query("SELECT Id, IsDeleted FROM Contact", wait=0))))
    every = rows(str(next(sf.bulk2.Contact.query_all("SELECT Id, IsDeleted FROM Contact", wait=0))))
    assert sorted(r["Id"] for r in live) == sorted(set(ids) - {ids[2]})
    assert sorted(r["Id"] for r in every) == sorted(ids)
    assert {r["Id"]: r["IsDeleted"] for r in every}[ids[2]] == "true"


def test_job_moves_through_its_states(sf_sandbox: SalesforceSandbox, raw: Raw) -> None:
    seed_contacts(sf_sandbox, 3)
    created = raw.create("SELECT Id FROM Contact")
    assert created.status_code == 200
    job = created.json()
    jsonschema.validate(job, BULK_QUERY_JOB)
    assert (job["state"], job["object"], job["operation"]) == ("UploadComplete", "Contact", "query")
    early = raw.results(job["id"])
    assert early.status_code == 400
    jsonschema.validate(early.json(), ERROR_LIST)
    states = []
    for _ in range(3):
        info = raw.get(job["id"]).json()
        jsonschema.validate(info, BULK_QUERY_JOB)
        states.append(info["state"])
    assert states == ["InProgress", "JobComplete", "JobComplete"]
    assert info["numberRecordsProcessed"] == 3
    assert info["systemModstamp"] >= info["createdDate"]


def test_delimiter_and_line_ending(sf_sandbox: SalesforceSandbox, raw: Raw) -> None:
    seed_contacts(sf_sandbox, 2)
    job_id = raw.complete(
        "SELECT LastName, Email FROM Contact ORDER BY LastName",
        columnDelimiter="PIPE",
        lineEnding="CRLF",
    )
    assert raw.get(job_id).json()["columnDelimiter"] == "PIPE"
    text = raw.results(job_id).text
    assert text == '"LastName"|"Email"\r\n"Orphan"|""\r\n"Row 1"|"row1@example.com"\r\n'


def test_abort_and_delete(sf_sandbox: SalesforceSandbox, raw: Raw) -> None:
    seed_contacts(sf_sandbox, 2)
    job_id = raw.create("SELECT Id FROM Contact").json()["id"]
    assert raw.http.delete(f"{raw.base}/{job_id}").status_code == 400  # still running
    aborted = raw.http.patch(f"{raw.base}/{job_id}", json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert raw.get(job_id).json()["state"] == "Aborted"
    again = raw.http.patch(f"{raw.base}/{job_id}", json={"state": "Aborted"})
    assert again.status_code == 400
    assert raw.results(job_id).status_code == 400
    deleted = raw.http.delete(f"{raw.base}/{job_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    gone = raw.get(job_id)
    assert gone.status_code == 404
    assert gone.json() == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Nothing", "INVALID_TYPE"),
        ("SELECT COUNT() FROM Contact", "API_ERROR"),
        ("SELECT Id FROM Contact OFFSET 5", "API_ERROR"),
    ],
)
def test_bad_queries_are_refused_at_creation(raw: Raw, soql: str, code: str) -> None:
    answer = raw.create(soql)
    assert answer.status_code == 400
    body = answer.json()
    jsonschema.validate(body, ERROR_LIST)
    assert body[0]["errorCode"] == code


def test_bad_job_definitions_and_locators(sf_sandbox: SalesforceSandbox, raw: Raw) -> None:
    seed_contacts(sf_sandbox, 3)
    for options in ({"operation": "delete"}, {"columnDelimiter": "DASH"}, {"contentType": "JSON"}):
        answer = raw.http.post(
            raw.base, json={"operation": "query", "query": "SELECT Id FROM Contact", **options}
        )
        assert answer.status_code == 400
        jsonschema.validate(answer.json(), ERROR_LIST)
    job_id = raw.complete("SELECT Id FROM Contact")
    for params in ({"locator": "not-a-locator"}, {"locator": "OTk5"}, {"maxRecords": "0"}):
        answer = raw.results(job_id, **params)
        assert answer.status_code == 400, params
        jsonschema.validate(answer.json(), ERROR_LIST)
    unknown = raw.results("7505J0000000999AAA")
    assert unknown.status_code == 404
    assert unknown.json()[0]["errorCode"] == "NOT_FOUND"


def test_every_request_is_one_api_call(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    seed_contacts(sf_sandbox, 5)
    before = sf_sandbox.api_usage
    chunks = list(sf.bulk2.Contact.query("SELECT Id FROM Contact", max_records=2, wait=0))
    # create, two polls (InProgress, JobComplete), three result sets
    assert len(chunks) == 3
    assert sf_sandbox.api_usage - before == 6
    calls = sf_sandbox.org.faults.calls
    assert calls["bulk2.query.create"] == 1
    assert calls["bulk2.query.get"] == 2
    assert calls["bulk2.query.results"] == 3


def test_failed_job_raises_in_the_sdk(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    seed_contacts(sf_sandbox, 2)
    sf_sandbox.fail_bulk_queries("Query timed out")
    with pytest.raises(SalesforceOperationError, match="Query timed out"):
        list(sf.bulk2.Contact.query("SELECT Id FROM Contact", wait=0))
    sf_sandbox.fail_bulk_queries(None)
    assert len(rows(str(next(sf.bulk2.Contact.query("SELECT Id FROM Contact", wait=0))))) == 2


def test_datetimes_are_written_in_utc_with_z(sf_sandbox: SalesforceSandbox, raw: Raw) -> None:
    seed_contacts(sf_sandbox, 1)
    job_id = raw.complete("SELECT SystemModstamp FROM Contact")
    (row,) = rows(raw.results(job_id).text)
    assert row["SystemModstamp"].endswith("Z")
    jsonschema.validate(row["SystemModstamp"].replace("Z", "+0000"), {"pattern": SF_DATETIME})
