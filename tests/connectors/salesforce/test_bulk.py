"""A full Salesforce pass read by one Bulk API 2.0 query job: the same pages, records and
cursors as the REST pass over the same org, a handful of calls, REST kept for incremental
passes and small objects, and a failed job that fails the pass."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from connectors.base import Page
from connectors.errors import Transient
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.bulk import csv_lines
from connectors.salesforce.connector import ACCOUNT_FIELDS
from sandbox.faults import FaultRule
from sandbox.salesforce import CustomField, SalesforceSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import sf_connector

CUSTOM = [
    CustomField(name="Archived__c", type="boolean", objects=("Account",)),
    CustomField(name="Payment_Terms_Days__c", type="double", objects=("Account",)),
    CustomField(name="Tax_Rate__c", type="percent", objects=("Account",)),
]
FIELDS = {"account": (*ACCOUNT_FIELDS, "Archived__c", "Payment_Terms_Days__c", "Tax_Rate__c")}
BULK = {"bulk_threshold": 100, "bulk_poll_s": 0.01}


@pytest.fixture
def org(make_sf_sandbox: Any) -> SalesforceSandbox:
    """2,600 accounts (some with custom values, some deleted, two merged away) and their
    contacts (some without an account)."""
    sandbox: SalesforceSandbox = make_sf_sandbox(custom_fields=CUSTOM)
    ids = sandbox.seed(generate_companies(2_600, contacts_per_company=1, seed=5))
    for n, account_id in enumerate(ids[:40]):
        custom = {"Archived__c": n % 2 == 0, "Payment_Terms_Days__c": 30, "Tax_Rate__c": 7.5}
        sandbox.update("Account", account_id, custom if n % 3 else {"Archived__c": True})
    for account_id in ids[40:45]:
        sandbox.delete("Account", account_id)
    sandbox.merge("Account", ids[50], [ids[51], ids[52]])
    sandbox.create("Contact", {"LastName": "Alone", "Email": None})
    return sandbox


def _records(pages: list[Page]) -> list[Any]:
    return [record for page in pages for record in page.records]


def _types(record: Any) -> dict[str, str]:
    return {name: type(value).__name__ for name, value in record.properties.items()}


def _pass(connector: SalesforceConnector, object_type: str, **scan: Any) -> list[Page]:
    return list(connector.scan(object_type, **scan))


@pytest.mark.parametrize("object_type", ["account", "contact"])
def test_bulk_pass_gives_the_rest_pages(org: SalesforceSandbox, object_type: str) -> None:
    rest = sf_connector(org, fields=FIELDS)
    bulk = sf_connector(org, fields=FIELDS, **BULK)
    expected = _pass(rest, object_type, full=True)
    before, counted = org.api_usage, bulk.counter.total
    got = _pass(bulk, object_type, full=True)
    calls = org.api_usage - before
    assert bulk.counter.calls.get("queryMore", 0) == 0  # no REST batch was read
    assert _records(got) == _records(expected)  # same records, same values
    assert [_types(r) for r in _records(got)] == [_types(r) for r in _records(expected)]
    assert got == expected  # same pages and cursors
    assert len(got) == 2 and [p.done for p in got] == [False, True]
    # COUNT(), the job, two status polls, one results set: 5 calls, as the counter says.
    assert calls == 5
    assert bulk.counter.total - counted == calls
    assert org.org.faults.calls["bulk2.query.results"] == 1


def test_bulk_values_have_the_rest_types(org: SalesforceSandbox) -> None:
    bulk = sf_connector(org, fields=FIELDS, **BULK)
    records = {r.external_id: r for r in _records(_pass(bulk, "account", full=True))}
    archived = [r for r in records.values() if r.archived]
    assert len(archived) == 7 and sum(1 for r in archived if r.merged_into) == 2
    custom = [r.properties for r in records.values() if r.properties["Payment_Terms_Days__c"]]
    assert custom and all(p["Payment_Terms_Days__c"] == 30.0 for p in custom)
    assert {type(p["Archived__c"]) for p in custom} == {bool}
    assert all(isinstance(p["Tax_Rate__c"], float) for p in custom)
    some = next(iter(records.values())).properties
    assert some["SystemModstamp"].endswith("+0000") and some["IsDeleted"] in (True, False)


def test_a_full_pass_resumes_from_a_bulk_page_cursor(org: SalesforceSandbox) -> None:
    bulk = sf_connector(org, fields=FIELDS, **BULK)
    everything = _pass(bulk, "account", full=True)
    first = everything[0]
    rest_of_it = _pass(bulk, "account", cursor=first.cursor, full=True)
    assert _records([first, *rest_of_it]) == _records(everything)
    assert bulk.counter.calls["bulk2.query"] == 1  # the resumed pass reads by REST


def test_incremental_passes_and_small_objects_stay_on_rest(org: SalesforceSandbox) -> None:
    bulk = sf_connector(org, fields=FIELDS, **BULK)
    done = _pass(bulk, "account")[-1].cursor  # a first pass: bulk
    assert bulk.counter.calls["bulk2.query"] == 1
    _pass(bulk, "account", cursor=done)  # incremental: REST
    assert bulk.counter.calls["bulk2.query"] == 1
    big = sf_connector(org, fields=FIELDS, bulk_threshold=2_593)  # live accounts: REST
    _pass(big, "account", full=True)
    assert big.counter.calls.get("bulk2.query", 0) == 0
    assert big.counter.calls["query"] == 1  # COUNT()
    assert big.counter.calls["queryAll"] == 1
    off = sf_connector(org, fields=FIELDS, bulk_threshold=0)
    _pass(off, "account", full=True)
    assert "query" not in off.counter.calls  # no COUNT() either
    assert off.counter.calls["queryAll"] == 1


def test_a_failed_job_fails_the_pass(org: SalesforceSandbox) -> None:
    bulk = sf_connector(org, fields=FIELDS, **BULK)
    org.fail_bulk_queries("Query timed out: too many retries")
    with pytest.raises(Transient, match="Query timed out") as failed:
        _pass(bulk, "account", full=True)
    assert failed.value.code == "BULK_JOB_FAILED"


def test_results_cut_off_halfway_fail_the_pass(org: SalesforceSandbox) -> None:
    bulk = sf_connector(org, fields=FIELDS, **BULK)
    bulk.bulk.result_records = 500  # six result sets for 2,601 contacts
    pages = bulk.scan("contact", full=True)
    first = next(pages)
    assert len(first.records) == 2_000
    org.org.faults.add(FaultRule(endpoint="bulk2.query.results", status=503))
    # The sixth set fails; taking it again cannot work (the job's reader is gone), so the
    # pass fails instead of ending "done" with rows missing.
    with pytest.raises(Transient) as failed:
        for page in pages:
            assert not page.done
    assert failed.value.code == "BULK_RESULTS_INTERRUPTED"


@pytest.mark.parametrize(
    "text",
    [
        '"Id","BillingStreet"\n"001","Main St 1\nBuilding 2"\n"002","Straße 3"\n',
        '"Id","Name"\r\n"001","A ""quoted"" name"\r\n"002",""\r\n',  # CRLF rows
        '"Id","Name"\n"001","line\u2028separator\x0bvertical tab"\n"002","no end"',
        '"Id"\n',  # a header, no rows
        "",
    ],
)
def test_result_sets_read_line_by_line_as_a_stringio_reads_them(text: str) -> None:
    assert list(csv.reader(csv_lines(text))) == list(csv.reader(io.StringIO(text)))
