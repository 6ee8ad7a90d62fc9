"""Salesforce scans against the sandbox over TLS: one queryAll per pass ordered by
(SystemModstamp, Id), a cursor per 2,000-row batch, deletions and merges reported,
getDeleted for what the recycle bin lost, and a clean stop at the daily reserve."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from connectors.base import Cursor, Page
from connectors.errors import BudgetExhausted
from connectors.salesforce import SalesforceConnector
from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import memory_budget, sf_connector


def _ids(pages: list[Page]) -> list[str]:
    return [r.external_id for page in pages for r in page.records]


def _live(sandbox: SalesforceSandbox, name: str = "Account") -> set[str]:
    return {r["Id"] for r in sandbox.records(name, include_deleted=False)}


def _drain_restarting(connector: SalesforceConnector, cursor: Cursor | None,
                      full: bool = False) -> list[Page]:  # fmt: skip
    pages: list[Page] = []
    while True:
        page = next(iter(connector.scan("account", cursor=cursor, full=full)))
        pages.append(page)
        cursor = page.cursor
        if page.done:
            return pages


def test_full_scan_reads_2000_per_call_and_resumes_from_each_cursor(
    sf_sandbox: SalesforceSandbox,
) -> None:
    sf_sandbox.seed(generate_companies(4_100, seed=1))
    connector = sf_connector(sf_sandbox)
    pages = list(connector.scan("account", full=True))
    assert [len(p.records) for p in pages] == [2000, 2000, 100]
    assert [p.done for p in pages] == [False, False, True]
    assert connector.counter.calls["queryAll"] == 1 and connector.counter.calls["queryMore"] == 2
    ids = _ids(pages)
    assert len(ids) == len(set(ids)) == 4_100 and set(ids) == _live(sf_sandbox)
    restarted = _ids(_drain_restarting(connector, None, full=True))
    assert Counter(restarted).most_common(1)[0][1] == 1 and set(restarted) == set(ids)


def test_incremental_scan_after_edits_returns_exactly_the_changed_records(
    sf_sandbox: SalesforceSandbox,
) -> None:
    ids = sf_sandbox.seed(generate_companies(300, seed=2))
    time.sleep(1.0)  # the query bound is whole seconds: rows in the cursor's second come again
    marker = sf_sandbox.create("Account", {"Name": "Marker AS"})
    connector = sf_connector(sf_sandbox, overlap_s=0.0, get_deleted=False)
    first = list(connector.scan("account"))
    cursor = first[-1].cursor
    assert first[-1].done and len(_ids(first)) == 301
    bound = first[-1].records[-1].modified_at.replace(microsecond=0)
    reread = {r.external_id for p in first for r in p.records if r.modified_at >= bound}
    assert reread == {marker}
    time.sleep(0.02)
    edited = ids[5:9]
    for account_id in edited:
        sf_sandbox.update("Account", account_id, {"Phone": "+47 22 00 00 00"})
    made = sf_sandbox.create("Account", {"Name": "Fresh AS"})
    second = list(connector.scan("account", cursor=cursor))
    assert set(_ids(second)) - reread == {*edited, made}
    assert all(r.properties["Phone"] == "+47 22 00 00 00" for p in second for r in p.records
               if r.external_id in edited)  # fmt: skip


def test_deletions_and_merges_come_back_from_the_recycle_bin(
    sf_sandbox: SalesforceSandbox,
) -> None:
    ids = sf_sandbox.seed(generate_companies(20, seed=3))
    connector = sf_connector(sf_sandbox)
    cursor = list(connector.scan("account"))[-1].cursor
    deleted, master, loser = ids[0], ids[1], ids[2]
    sf_sandbox.delete("Account", deleted)
    sf_sandbox.merge("Account", master, [loser])
    records = {
        r.external_id: r for p in connector.scan("account", cursor=cursor) for r in p.records
    }
    assert records[deleted].archived and records[deleted].merged_into is None
    assert records[loser].archived and records[loser].merged_into == master
    assert not records[master].archived
    assert connector.counter.calls["getDeleted"] == 1
    assert Counter(r.external_id for r in records.values())[deleted] == 1  # not twice


def test_get_deleted_reports_records_gone_from_the_recycle_bin(
    sf_sandbox: SalesforceSandbox,
) -> None:
    ids = sf_sandbox.seed(generate_companies(5, seed=4))
    connector = sf_connector(sf_sandbox)
    cursor = list(connector.scan("account"))[-1].cursor
    sf_sandbox.delete("Account", ids[0])
    store = sf_sandbox.org.store
    with store.lock:  # the recycle bin is emptied: only the delete log remembers
        del store.records["Account"][ids[0]]
    pages = list(connector.scan("account", cursor=cursor))
    [gone] = [r for p in pages for r in p.records if r.external_id == ids[0]]
    assert gone.archived and gone.properties == {}


def test_a_full_scan_stops_cleanly_at_the_daily_reserve_and_resumes(
    make_sf_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    sandbox = make_sf_sandbox(daily_api_limit=100)
    sandbox.seed(generate_companies(4_100, seed=5))
    # The REST pass's batches against the reserve: no COUNT() to choose a bulk read first.
    connector = sf_connector(sandbox, setup=False, bulk_threshold=0)
    sandbox.set_api_usage(94)  # the first batch leaves 5 of 100: the 5% reserve
    scan = iter(connector.scan("account", full=True))
    first = next(scan)
    assert len(first.records) == 2000
    with pytest.raises(BudgetExhausted) as caught:
        next(scan)
    assert caught.value.code == "DAILY_BUDGET"
    assert connector.fetch("account", [first.records[0].external_id])  # the reserve is usable
    sandbox.set_api_usage(0)
    fresh = sf_connector(sandbox, setup=False, budget=memory_budget("salesforce"))
    rest = list(fresh.scan("account", cursor=first.cursor, full=True))
    ids = _ids([first, *rest])
    assert len(ids) == len(set(ids)) == 4_100
