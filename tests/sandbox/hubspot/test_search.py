"""CRM search through the SDK: the 10,000-result cap, slicing by hs_object_id, incremental
windows on the last-modified property, filter rules and limits, index lag."""

from __future__ import annotations

import json
import time

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import ApiException, PublicObjectSearchRequest
from hubspot.crm.contacts import PublicObjectSearchRequest as ContactSearch

from sandbox.hubspot import HubSpotSandbox
from tests.sandbox.hubspot.conftest import BIG_PORTAL_COMPANIES, sdk_client

ASC_BY_ID = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]


def search(client: HubSpot, **request):  # type: ignore[no-untyped-def]
    request.setdefault("limit", 200)
    return client.crm.companies.search_api.do_search(PublicObjectSearchRequest(**request))


def test_paging_past_10000_results_is_a_400(big_hubspot_portal: HubSpotSandbox) -> None:
    client = sdk_client(big_hubspot_portal)
    after, seen = None, 0
    with pytest.raises(ApiException) as caught:
        while True:
            page = search(client, sorts=ASC_BY_ID, after=after)
            assert page.total == BIG_PORTAL_COMPANIES  # total is not capped, paging is
            seen += len(page.results)
            after = page.paging.next.after
    assert seen == 10_000
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"


def test_reslicing_by_hs_object_id_reads_every_record_once(
    big_hubspot_portal: HubSpotSandbox,
) -> None:
    client = sdk_client(big_hubspot_portal)
    seen: list[str] = []
    last_id, slices = "0", 0
    while True:
        slices += 1
        after = None
        while True:
            page = search(
                client,
                filter_groups=[
                    {
                        "filters": [
                            {"propertyName": "hs_object_id", "operator": "GT", "value": last_id}
                        ]
                    }
                ],
                sorts=ASC_BY_ID,
                after=after,
            )
            seen += [r.id for r in page.results]
            if page.paging is None or int(page.paging.next.after) + 200 > 10_000:
                break  # done, or the next page would cross the cap: start a new slice
            after = page.paging.next.after
        if page.paging is None:
            break
        last_id = seen[-1]
    assert slices == 3
    assert len(seen) == BIG_PORTAL_COMPANIES
    assert set(seen) == set(big_hubspot_portal.ids("companies"))


def test_numeric_comparison_of_hs_object_id(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    ids = [hubspot_sandbox.create("companies", {"name": f"N{i}"})["id"] for i in range(12)]
    # As strings "9..." > "1..." would break this; HubSpot compares numerically.
    page = search(
        hubspot_client,
        filter_groups=[
            {"filters": [{"propertyName": "hs_object_id", "operator": "GTE", "value": ids[5]}]}
        ],
        sorts=ASC_BY_ID,
    )
    assert [r.id for r in page.results] == ids[5:]


def test_incremental_search_on_last_modified(hubspot_sandbox: HubSpotSandbox) -> None:
    client = sdk_client(hubspot_sandbox)
    old_company = hubspot_sandbox.create("companies", {"name": "Old"})
    old_contact = hubspot_sandbox.create("contacts", {"email": "old@x.test"})
    time.sleep(0.01)
    cursor = int(time.time() * 1000)
    time.sleep(0.01)
    hubspot_sandbox.update("companies", old_company["id"], {"city": "Oslo"})
    new_company = hubspot_sandbox.create("companies", {"name": "New"})
    hubspot_sandbox.update("contacts", old_contact["id"], {"firstname": "Olga"})
    page = search(
        client,
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(cursor)}
                ]
            }
        ],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
    )
    assert [r.id for r in page.results] == [old_company["id"], new_company["id"]]
    window = search(
        client,
        filter_groups=[{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "BETWEEN",
                                     "value": str(cursor), "highValue": str(cursor + 60_000)}]}],
    )  # fmt: skip
    assert window.total == 2
    # Contacts use lastmodifieddate; the company property name finds nothing there.
    contacts = client.crm.contacts.search_api.do_search(
        ContactSearch(
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "GTE",
                            "value": str(cursor),
                        }
                    ]
                }
            ],
            limit=10,
        )
    )
    assert [r.id for r in contacts.results] == [old_contact["id"]]
    # The search defaults, the one without a value (lastname) answered as null.
    assert set(contacts.results[0].properties) == {
        "firstname", "lastname", "email", "lastmodifieddate", "hs_object_id", "createdate"
    }  # fmt: skip
    assert contacts.results[0].properties["lastname"] is None


def test_search_limits_are_enforced(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    hubspot_sandbox.create("companies", {"name": "A"})
    eq = {"propertyName": "name", "operator": "EQ", "value": "a"}
    cases = [
        {"limit": 201},
        {"sorts": [{"propertyName": "name"}, {"propertyName": "domain"}]},
        {"filter_groups": [{"filters": [eq]}] * 6},
        {"filter_groups": [{"filters": [eq] * 7}]},
        {"filter_groups": [{"filters": [eq] * 6}] * 3 + [{"filters": [eq]}]},
    ]
    for case in cases:
        with pytest.raises(ApiException) as caught:
            search(hubspot_client, **case)
        assert caught.value.status == 400, case
    ok = search(hubspot_client, filter_groups=[{"filters": [eq] * 6}] * 3, limit=200)
    assert ok.total == 1  # 18 filters is allowed; EQ on text ignores case


def test_operators(hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot) -> None:
    a = hubspot_sandbox.create(
        "companies", {"name": "Alpha", "numberofemployees": "9", "industry": "RETAIL"}
    )
    b = hubspot_sandbox.create("companies", {"name": "Beta", "numberofemployees": "120"})
    hubspot_sandbox.archive(
        "companies", hubspot_sandbox.create("companies", {"name": "Gone"})["id"]
    )

    def ids(*filters: dict) -> list[str]:
        return [
            r.id
            for r in search(
                hubspot_client, filter_groups=[{"filters": list(filters)}], sorts=ASC_BY_ID
            ).results
        ]

    assert ids({"propertyName": "numberofemployees", "operator": "GT", "value": "10"}) == [b["id"]]
    assert ids(
        {
            "propertyName": "numberofemployees",
            "operator": "BETWEEN",
            "value": "5",
            "highValue": "10",
        }
    ) == [a["id"]]
    assert ids({"propertyName": "industry", "operator": "HAS_PROPERTY"}) == [a["id"]]
    assert ids({"propertyName": "industry", "operator": "NOT_HAS_PROPERTY"}) == [b["id"]]
    assert ids({"propertyName": "name", "operator": "IN", "values": ["alpha", "beta"]}) == [
        a["id"],
        b["id"],
    ]
    assert (
        ids({"propertyName": "name", "operator": "IN", "values": ["Alpha"]}) == []
    )  # IN wants lowercase
    assert ids({"propertyName": "name", "operator": "NOT_IN", "values": ["alpha"]}) == [b["id"]]
    assert ids({"propertyName": "name", "operator": "NEQ", "value": "alpha"}) == [b["id"]]
    assert ids({"propertyName": "name", "operator": "LT", "value": "b"}) == [a["id"]]
    assert (
        ids({"propertyName": "name", "operator": "EQ", "value": "gone"}) == []
    )  # archived never found


def test_search_lags_writes(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(search_index_lag_s=0.5)
    client = sdk_client(sandbox)
    sandbox.create("companies", {"name": "Fresh"})
    assert search(client).total == 0
    assert len(client.crm.companies.get_all()) == 1  # reads see it at once
    time.sleep(0.55)
    assert search(client).total == 1
