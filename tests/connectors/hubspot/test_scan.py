"""HubSpot scans against the sandbox: every record exactly once across pages, slices, ties,
resumes and HubSpot's 10,000-result search cap; incremental scans return what changed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from connectors.base import Cursor, Page
from connectors.errors import BudgetExhausted
from connectors.hubspot import HubSpotConnector
from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies
from tests.connectors.conftest import SEARCH_FROM_START, hubspot_connector, memory_budget

BIG = 10_250  # past the 10,000 results one search query may page through


def _ids(pages: list[Page]) -> list[str]:
    return [r.external_id for page in pages for r in page.records]


def _drain_restarting(connector: HubSpotConnector, object_type: str, cursor: Cursor | None,
                      full: bool = False) -> list[Page]:  # fmt: skip
    """Take one page, then start a new scan from its saved cursor, as a worker that is
    stopped after every page would."""
    pages: list[Page] = []
    while True:
        page = next(iter(connector.scan(object_type, cursor=cursor, full=full)))
        pages.append(page)
        cursor = page.cursor
        if page.done:
            return pages


@pytest.fixture(scope="module")
def big_portal() -> Iterator[HubSpotSandbox]:
    """10,250 companies seeded within a second or so: one modification window."""
    sandbox = HubSpotSandbox(limits=None)
    sandbox.seed(generate_companies(BIG, seed=5))
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_full_scan_lists_every_company_once_then_the_recycle_bin(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(450, seed=1))
    gone = hubspot_sandbox.ids("companies")[:3]
    for company_id in gone:
        hubspot_sandbox.archive("companies", company_id)
    connector = hubspot_connector(hubspot_sandbox)
    pages = list(connector.scan("company", full=True))
    assert all(len(page.records) <= 100 for page in pages)
    assert [page.done for page in pages] == [False] * (len(pages) - 1) + [True]
    live = [r.external_id for p in pages for r in p.records if not r.archived]
    archived = [r.external_id for p in pages for r in p.records if r.archived]
    assert sorted(live) == sorted(hubspot_sandbox.ids("companies"))
    assert len(live) == len(set(live)) == 447
    assert sorted(archived) == sorted(gone)
    assert connector.counter.calls["companies.list"] == 5 + 1  # 447 live + one recycle page


def test_full_scan_resumed_after_every_page_sees_each_contact_once(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(120, contacts_per_company=2, seed=2))
    connector = hubspot_connector(hubspot_sandbox)
    pages = _drain_restarting(connector, "contact", None, full=True)
    ids = _ids(pages)
    assert Counter(ids).most_common(1)[0][1] == 1
    assert sorted(ids) == sorted(hubspot_sandbox.ids("contacts"))
    record = pages[0].records[0]
    raw = hubspot_sandbox.get("contacts", record.external_id)
    assert raw is not None
    assert record.associations == (raw["properties"]["associatedcompanyid"],)
    assert record.modified_at.tzinfo is not None


def test_incremental_scan_slices_past_the_10000_search_cap(big_portal: HubSpotSandbox) -> None:
    connector = hubspot_connector(big_portal, setup=False)
    pages = list(connector.scan("company", cursor=SEARCH_FROM_START))
    ids = _ids(pages)
    assert len(ids) == BIG and len(set(ids)) == BIG
    assert set(ids) == set(big_portal.ids("companies"))
    stamps = [r.modified_at for p in pages for r in p.records]
    assert stamps == sorted(stamps)
    # Every call is a fresh slice (no offset), 200 results at a time.
    assert connector.counter.calls["companies.search"] <= BIG // 200 + 3


def test_incremental_scan_resumed_after_every_page_loses_nothing(
    big_portal: HubSpotSandbox,
) -> None:
    connector = hubspot_connector(big_portal, setup=False)
    ids = _ids(_drain_restarting(connector, "company", SEARCH_FROM_START))
    assert len(ids) == BIG and set(ids) == set(big_portal.ids("companies"))
    assert "companies.search" in connector.counter.calls


def test_a_timestamp_shared_by_more_than_a_page_is_drained_by_id(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    stamp = int(time.time() * 1000) - 60_000
    store = hubspot_sandbox.store
    same = [
        str(store.create("companies", {"name": f"Bulk {n}"}, source="IMPORT", when_ms=stamp).id)
        for n in range(450)
    ]
    later = [hubspot_sandbox.create("companies", {"name": f"Later {n}"})["id"] for n in range(5)]
    connector = hubspot_connector(hubspot_sandbox)
    for pages in (
        list(connector.scan("company", cursor=SEARCH_FROM_START)),
        _drain_restarting(connector, "company", SEARCH_FROM_START),
    ):
        ids = _ids(pages)
        assert Counter(ids).most_common(1)[0][1] == 1
        assert set(ids) == set(same) | set(later)


def test_incremental_scan_after_edits_returns_exactly_the_changed_records(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(300, seed=3))
    connector = hubspot_connector(hubspot_sandbox, overlap_s=0.0)
    first = list(connector.scan("company", cursor=SEARCH_FROM_START))
    cursor = first[-1].cursor
    assert first[-1].done and len(_ids(first)) == 300
    boundary = {  # records at exactly the cursor's time come again (>=): ties are re-read
        r.external_id
        for p in first
        for r in p.records
        if int(r.modified_at.timestamp() * 1000) == cursor["since_ms"]
    }
    time.sleep(0.01)
    edited = hubspot_sandbox.ids("companies")[10:15]
    for company_id in edited:
        hubspot_sandbox.update("companies", company_id, {"city": "Trondheim"})
    created = hubspot_sandbox.create("companies", {"name": "Fresh Ltd"})["id"]
    second = list(connector.scan("company", cursor=cursor))
    changed = set(_ids(second))
    assert changed - boundary == {*edited, created}
    assert all(r.properties["city"] == "Trondheim" for p in second for r in p.records
               if r.external_id in edited)  # fmt: skip


def test_default_overlap_rereads_recent_changes_and_the_set_is_the_same(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(50, seed=4))
    connector = hubspot_connector(hubspot_sandbox)  # five minutes of overlap
    first = list(connector.scan("company"))
    again = list(connector.scan("company", cursor=first[-1].cursor))
    assert set(_ids(again)) == set(_ids(first))  # duplicates, harmless for an idempotent caller


def test_a_record_edited_mid_scan_is_not_skipped(hubspot_sandbox: HubSpotSandbox) -> None:
    hubspot_sandbox.seed(generate_companies(700, seed=6))
    connector = hubspot_connector(hubspot_sandbox)
    scan = iter(connector.scan("company", cursor=SEARCH_FROM_START))
    first = next(scan)
    # An offset-paged scan would now skip one record: this one moves to the end.
    hubspot_sandbox.update("companies", first.records[0].external_id, {"city": "Bergen"})
    rest = list(scan)
    ids = _ids([first, *rest])
    assert set(ids) == set(hubspot_sandbox.ids("companies"))
    assert ids.count(first.records[0].external_id) == 2


def test_search_index_lag_is_covered_by_the_overlap(
    make_hubspot_sandbox: type[HubSpotSandbox],
) -> None:
    sandbox = make_hubspot_sandbox(search_index_lag_s=0.4)
    connector = hubspot_connector(sandbox, overlap_s=5.0)
    start = list(connector.scan("company"))[-1].cursor
    made = sandbox.create("companies", {"name": "Lagging Inc."})["id"]
    missed = list(connector.scan("company", cursor=start))
    assert made not in _ids(missed)  # not searchable yet
    time.sleep(0.5)
    caught = list(connector.scan("company", cursor=missed[-1].cursor))
    assert made in _ids(caught)


def test_contacts_carry_their_companies_primary_first_listed_or_searched_alike(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(30, contacts_per_company=1, seed=8))
    contact_id = hubspot_sandbox.ids("contacts")[0]
    primary = hubspot_sandbox.get("contacts", contact_id)["properties"]["associatedcompanyid"]
    other = hubspot_sandbox.ids("companies")[-1]
    hubspot_sandbox.associate(contact_id, other)
    # Another contact's primary company moves to one made after its first one.
    later = hubspot_sandbox.ids("contacts")[1]
    hubspot_sandbox.associate(later, other, primary=True)
    connector = hubspot_connector(hubspot_sandbox)
    listed = {r.external_id: r.associations for p in connector.scan("contact") for r in p.records}
    assert connector.counter.calls["contacts.list"] == 2  # live page, recycle bin
    assert "associations.batch.read" not in connector.counter.calls  # inline in the list
    searched = {
        r.external_id: r.associations
        for p in connector.scan("contact", cursor=SEARCH_FROM_START)
        for r in p.records
    }
    assert connector.counter.calls["associations.batch.read"] == 1  # one read per 1,000
    assert len(listed) == 30
    assert listed[contact_id] == (primary, other)
    assert listed[later][0] == other and len(listed[later]) == 2
    assert listed == searched


def test_a_scan_stops_cleanly_at_the_daily_reserve_and_resumes(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(250, seed=9))
    budget = memory_budget("hubspot", daily=100, daily_reserve=0.05)
    connector = hubspot_connector(hubspot_sandbox, budget=budget, setup=False)
    budget.observe_daily(used=94, limit=100)  # one bulk call left before the 5% reserve
    scan = iter(connector.scan("company", full=True))
    first = next(scan)
    with pytest.raises(BudgetExhausted):
        next(scan)
    assert connector.fetch("company", [first.records[0].external_id])  # the reserve is usable
    budget.observe_daily(used=0, limit=100)
    rest = list(connector.scan("company", cursor=first.cursor, full=True))
    ids = _ids([first, *rest])
    assert len(ids) == len(set(ids)) == 250


def test_a_first_pass_lists_and_its_cursor_starts_the_incremental_search(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(250, seed=12))
    gone = hubspot_sandbox.ids("companies")[0]
    hubspot_sandbox.archive("companies", gone)
    time.sleep(2.1)  # older than the listing's cursor: the Date header's second, less one
    connector = hubspot_connector(hubspot_sandbox, overlap_s=0.0, setup=False)
    first = list(connector.scan("company"))  # no cursor: a first sync
    assert [page.done for page in first] == [False, False, False, True]
    assert connector.counter.calls == {"companies.list": 4}  # 249 live in 3 pages + the bin
    live = [r.external_id for p in first for r in p.records if not r.archived]
    assert sorted(live) == sorted(hubspot_sandbox.ids("companies"))
    assert [r.external_id for p in first for r in p.records if r.archived] == [gone]
    edited = hubspot_sandbox.ids("companies")[5]
    hubspot_sandbox.update("companies", edited, {"city": "Tromsø"})
    second = list(connector.scan("company", cursor=first[-1].cursor))
    assert connector.counter.calls["companies.search"] >= 1
    assert _ids(second) == [edited]
    assert second[-1].done


def test_a_first_pass_stopped_after_every_page_resumes_its_listing(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.seed(generate_companies(120, contacts_per_company=2, seed=13))
    connector = hubspot_connector(hubspot_sandbox)
    pages = _drain_restarting(connector, "contact", None)
    ids = _ids(pages)
    assert Counter(ids).most_common(1)[0][1] == 1
    assert sorted(ids) == sorted(hubspot_sandbox.ids("contacts"))
    assert [page.done for page in pages] == [False] * (len(pages) - 1) + [True]
    assert "contacts.search" not in connector.counter.calls
