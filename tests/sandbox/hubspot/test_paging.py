"""Listing through the SDK's basic_api.get_page and get_all, with HubSpot's page cap."""

from __future__ import annotations

import pytest
from hubspot.crm.companies import ApiException

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.seeding import INDUSTRY_MAP
from sandbox.seed import generate_companies
from tests.sandbox.hubspot.conftest import BIG_PORTAL_COMPANIES, sdk_client


def test_get_page_walks_25000_companies_each_exactly_once(
    big_hubspot_portal: HubSpotSandbox,
) -> None:
    api = sdk_client(big_hubspot_portal).crm.companies.basic_api
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = api.get_page(limit=100, after=after)
        pages += 1
        assert len(page.results) <= 100
        seen += [company.id for company in page.results]
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    assert len(seen) == BIG_PORTAL_COMPANIES
    assert len(set(seen)) == BIG_PORTAL_COMPANIES
    assert set(seen) == set(big_hubspot_portal.ids("companies"))
    assert pages == BIG_PORTAL_COMPANIES // 100


def test_page_larger_than_100_is_rejected(big_hubspot_portal: HubSpotSandbox) -> None:
    api = sdk_client(big_hubspot_portal).crm.companies.basic_api
    with pytest.raises(ApiException) as caught:
        api.get_page(limit=101)
    assert caught.value.status == 400
    assert '"category":"VALIDATION_ERROR"' in caught.value.body


def test_get_all_returns_every_company_with_requested_properties(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox()
    sandbox.seed(generate_companies(1_234, seed=11))  # not a multiple of the page size
    companies = sdk_client(sandbox).crm.companies.get_all(properties=["industry", "country"])
    assert sorted(company.id for company in companies) == sorted(sandbox.ids("companies"))
    assert len(companies) == 1_234
    sample = companies[0].properties
    assert sample["industry"] in INDUSTRY_MAP.values()  # HubSpot's enum values, not labels
    assert {"industry", "country", "hs_object_id", "createdate", "hs_lastmodifieddate"} <= set(
        sample
    )
    assert "name" not in sample  # only asked-for properties plus the ones always returned


def test_default_list_properties_follow_the_object_type(hubspot_sandbox: HubSpotSandbox) -> None:
    company = hubspot_sandbox.create(
        "companies", {"name": "Acme", "domain": "acme.test", "city": "Oslo"}
    )
    hubspot_sandbox.create(
        "contacts", {"email": "a@acme.test", "firstname": "A"}, company_id=company["id"]
    )
    client = sdk_client(hubspot_sandbox)
    listed_company = client.crm.companies.basic_api.get_page().results[0]
    listed_contact = client.crm.contacts.basic_api.get_page().results[0]
    assert set(listed_company.properties) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }
    assert set(listed_contact.properties) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    # A default property without a value is answered as null, not left out.
    assert listed_contact.properties["lastname"] is None


def test_archived_listing_shows_only_the_recycle_bin(hubspot_sandbox: HubSpotSandbox) -> None:
    kept = hubspot_sandbox.create("companies", {"name": "Kept"})
    gone = hubspot_sandbox.create("companies", {"name": "Gone"})
    api = sdk_client(hubspot_sandbox).crm.companies.basic_api
    api.archive(gone["id"])
    assert [c.id for c in api.get_page().results] == [kept["id"]]
    archived = api.get_page(archived=True).results
    assert [c.id for c in archived] == [gone["id"]]
    assert archived[0].archived is True and archived[0].archived_at is not None
    hubspot_sandbox.restore("companies", gone["id"])
    assert {c.id for c in api.get_page().results} == {kept["id"], gone["id"]}


def test_contacts_list_with_their_companies_and_the_last_full_page_has_no_next(
    make_hubspot_sandbox,  # type: ignore[no-untyped-def]
) -> None:
    sandbox = make_hubspot_sandbox()
    sandbox.seed(generate_companies(200, contacts_per_company=1, seed=12))
    contact_id = sandbox.ids("contacts")[0]
    primary = sandbox.get("contacts", contact_id)["properties"]["associatedcompanyid"]
    other = sandbox.ids("companies")[-1]
    sandbox.associate(contact_id, other)
    api = sdk_client(sandbox).crm.contacts.basic_api
    pages = []
    afters: list[str | None] = [None]
    while True:  # exactly two full pages: the second says there is no next one
        page = api.get_page(limit=100, after=afters[-1], properties=["email"],
                            associations=["companies"], archived=False)  # fmt: skip
        pages.append(page)
        if page.paging is None:
            break
        afters.append(page.paging.next.after)
    assert [len(p.results) for p in pages] == [100, 100]
    assert afters[1] == pages[1].results[0].id  # ``after``: where the next page starts
    first = pages[0].results[0]
    assert first.id == contact_id and set(first.properties) >= {"email", "lastmodifieddate"}
    links = [(item.id, item.type) for item in first.associations["companies"].results]
    assert (primary, "contact_to_company") in links  # the primary, named so in v3
    assert (primary, "contact_to_company_unlabeled") in links
    assert (other, "contact_to_company_unlabeled") in links
    assert (other, "contact_to_company") not in links
