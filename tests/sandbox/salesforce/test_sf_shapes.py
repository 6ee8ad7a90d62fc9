"""Shape conformance: every body the sandbox sends validates against the documented shapes.

Bodies are captured at the HTTP boundary with a requests response hook on the client's
session; simple-salesforce itself is untouched.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from sandbox.salesforce import CustomField, SalesforceSandbox
from sandbox.salesforce.shapes import LIMIT_INFO_HEADER, SHAPES

_RULES: list[tuple[str | None, str, str]] = [
    # (method or None for any, path regex, shape)
    ("POST", r"^/services/oauth2/token$", "token"),
    (None, r"/jobs/query(/750[0-9A-Za-z]{15})?/?$", "bulk_query_job"),
    (None, r"/(query|queryAll)(/|$)", "query_page"),
    ("GET", r"/sobjects/\w+/updated/?$", "updated"),
    ("GET", r"/sobjects/\w+/deleted/?$", "deleted"),
    ("GET", r"/limits/?$", "limits"),
    (None, r"/composite/sobjects(/\w+/\w+)?/?$", "collection_results"),
    ("POST", r"/sobjects/\w+/?$", "save_result"),
    ("PATCH", r"/sobjects/\w+/\w+/.+$", "upsert_result"),
    ("GET", r"/sobjects/\w+/[0-9A-Za-z]{15,18}$", "record"),
    ("GET", r"/sobjects/\w+/\w+/.+$", "record"),
]


def shape_for(method: str, path: str, status: int) -> str | None:
    if path.startswith("/services/oauth2/") and status >= 400:
        return "oauth_error"
    if status >= 400:
        return "error_list"
    if status == 300:
        return "multiple_choices"
    if re.search(r"/jobs/query/\w+/results/?$", path):
        return None  # CSV, checked in test_sf_bulk_query
    for rule_method, pattern, shape in _RULES:
        if (rule_method is None or rule_method == method) and re.search(pattern, path):
            return shape
    return None


def check_response(response: requests.Response) -> str | None:
    """Validate one response; returns the shape name it was checked against."""
    path = response.request.path_url.split("?", 1)[0]
    method = response.request.method or "GET"
    is_rest = path.startswith("/services/data/v")
    header = response.headers.get("Sforce-Limit-Info")
    if is_rest and response.status_code != 401:
        assert header is not None and LIMIT_INFO_HEADER.match(header), (path, header)
    if response.status_code == 204:
        assert response.content == b""
        return None
    shape = shape_for(method, path, response.status_code)
    if shape is not None:
        jsonschema.validate(response.json(), SHAPES[shape])
    return shape


def checking_client(sandbox: SalesforceSandbox, seen: list[str]) -> Salesforce:
    sf = sandbox.client()

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        shape = check_response(response)
        if shape:
            seen.append(shape)

    sf.session.hooks["response"].append(hook)
    return sf


def _swallow(call: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(SalesforceError):
        call(*args, **kwargs)


def test_every_path_returns_documented_shapes() -> None:
    seen: list[str] = []
    legacy = CustomField(name="LegacyId__c", external_id=True, objects=("Account",))
    with SalesforceSandbox(custom_fields=[legacy], daily_api_limit=200) as sandbox:
        sf = checking_client(sandbox, seen)
        now = datetime.now(UTC)
        for n in range(450):
            sandbox.create("Account", {"Name": f"Shape {n}", "LegacyId__c": "L" if n < 2 else None})
        list(
            sf.query_all_iter(
                "SELECT Id, Name, CreatedDate FROM Account",
                headers={"Sforce-Query-Options": "batchSize=200"},
            )
        )
        created = sf.Account.create({"Name": "Created"})["id"]
        sf.Contact.create({"LastName": "Child", "AccountId": created})
        sf.query("SELECT Id, LastName, Account.Name, Account.CreatedDate FROM Contact")
        sf.Account.get(created)
        sf.Account.update(created, {"Phone": "1"})
        sf.Account.upsert("CrmsyncId__c/s-1", {"Name": "Upserted"})
        sf.Account.upsert("CrmsyncId__c/s-1", {"Name": "Upserted again"})
        sf.Account.get_by_custom_id("CrmsyncId__c", "s-1")
        sf.Account.delete(created)
        sf.query_all("SELECT Id, IsDeleted, MasterRecordId FROM Account", include_deleted=True)
        sf.Account.updated(now - timedelta(hours=1), now + timedelta(minutes=5))
        sf.Account.deleted(now - timedelta(hours=1), now + timedelta(minutes=5))
        sf.limits()
        list(sf.bulk2.Account.query("SELECT Id, Name FROM Account", max_records=100, wait=0))
        records = [
            {"attributes": {"type": "Account"}, "CrmsyncId__c": f"k{n}", "Name": f"K{n}"}
            for n in range(3)
        ]
        records.append(
            {"attributes": {"type": "Account"}, "CrmsyncId__c": "bad"}
        )  # create without Name
        sf.restful(
            "composite/sobjects/Account/CrmsyncId__c", method="PATCH", json={"records": records}
        )
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={
                "allOrNone": True,
                "records": [*records[3:], {"attributes": {"type": "Account"}, "Name": "ok"}],
            },
        )
        _swallow(sf.Account.upsert, "LegacyId__c/L", {"Phone": "2"})  # 300
        _swallow(sf.query, "SELECT Nope FROM Account")  # 400
        _swallow(sf.Account.get, created)  # 404 ENTITY_IS_DELETED
        _swallow(sf.Account.create, {"Phone": "no name"})  # 400 with fields
        with sandbox.http_session() as session:
            session.hooks["response"].append(
                lambda r, *a, **k: seen.append(check_response(r) or "")
            )
            credentials = sandbox.credentials
            form = {
                "grant_type": "refresh_token",
                "client_id": credentials.consumer_key,
                "refresh_token": credentials.refresh_token,
            }
            session.post(sandbox.token_url, data=form)
            session.post(sandbox.token_url, data={**form, "refresh_token": "bad"})
        sandbox.set_api_usage(200)
        _swallow(sf.limits)  # 403
        sandbox.expire_sessions()
        _swallow(sf.limits)  # 401
    assert set(SHAPES) <= set(seen), set(SHAPES) - set(seen)


@pytest.mark.parametrize(
    ("shape", "body"),
    [
        ("query_page", {"totalSize": 1, "done": False, "records": []}),  # no nextRecordsUrl
        ("query_page", {"totalSize": 1, "done": True, "records": [{"Id": "001"}]}),  # no attributes
        ("save_result", {"id": "001", "success": True, "errors": []}),  # short id
        ("upsert_result", {"id": "0015J0000000001AAA", "success": True, "errors": []}),  # no created
        ("collection_results", [{"success": False, "errors": [{"errorCode": "X", "message": "m"}]}]),
        ("updated", {"ids": [], "latestDateCovered": "2024-01-01T00:00:00Z"}),  # wrong format
        ("deleted", {"deletedRecords": [{"id": "0015J0000000001AAA"}], "earliestDateAvailable": "x", "latestDateCovered": "y"}),
        ("error_list", {"message": "m", "errorCode": "X"}),  # not a list
        ("limits", {"DailyApiRequests": {"Max": 5}}),
        ("token", {"access_token": "x", "instance_url": "http://h"}),
        ("bulk_query_job", {"id": "7505J0000000001AAA", "operation": "query", "state": "Done"}),
    ],
)  # fmt: skip
def test_wrong_shapes_are_rejected(shape: str, body: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, SHAPES[shape])


def _fake_response(
    method: str, path: str, status: int, body: bytes, headers: dict[str, str]
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers)
    response.request = requests.Request(method, f"https://127.0.0.1{path}").prepare()
    return response


def test_the_boundary_check_rejects_a_wrong_body_and_header() -> None:
    good = b'{"totalSize":0,"done":true,"records":[]}'
    path = "/services/data/v59.0/query/"
    assert (
        check_response(
            _fake_response("GET", path, 200, good, {"Sforce-Limit-Info": "api-usage=1/5"})
        )
        == "query_page"
    )
    with pytest.raises(jsonschema.ValidationError):
        check_response(
            _fake_response(
                "GET",
                path,
                200,
                b'{"totalSize":0,"records":[]}',
                {"Sforce-Limit-Info": "api-usage=1/5"},
            )
        )
    with pytest.raises(AssertionError):
        check_response(_fake_response("GET", path, 200, good, {}))


def test_wrong_limit_header_is_rejected() -> None:
    assert LIMIT_INFO_HEADER.match("api-usage=1/100000")
    assert LIMIT_INFO_HEADER.match("api-usage=25/5000; per-app-api-usage=17/250(appName=sample)")
    assert not LIMIT_INFO_HEADER.match("api-usage=1 of 100000")
