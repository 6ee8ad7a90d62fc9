"""``/crm/v3/owners`` through the unchanged hubspot-api-client: the seeded people, the
email filter, paging, single reads by owner and user id, and deactivated owners."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.owners import ApiException

from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import SALES_REPS


def test_the_portal_serves_its_seeded_owners(hubspot_client: HubSpot) -> None:
    page = hubspot_client.crm.owners.owners_api.get_page()
    assert [owner.email for owner in page.results] == [rep.email for rep in SALES_REPS]
    first = page.results[0]
    assert (first.first_name, first.last_name, first.type, first.archived) == (
        SALES_REPS[0].first_name,
        SALES_REPS[0].last_name,
        "PERSON",
        False,
    )
    assert isinstance(first.id, str) and isinstance(first.user_id, int)
    assert page.paging is None


def test_email_filters_to_one_owner_in_any_casing(hubspot_client: HubSpot) -> None:
    wanted = SALES_REPS[2]
    page = hubspot_client.crm.owners.owners_api.get_page(email=wanted.email.upper())
    assert [owner.email for owner in page.results] == [wanted.email]
    assert hubspot_client.crm.owners.owners_api.get_page(email="nobody@x.example").results == []


def test_pages_follow_the_after_cursor(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.owners.owners_api
    first = api.get_page(limit=3)
    assert len(first.results) == 3 and first.paging.next.after
    rest = api.get_page(limit=3, after=first.paging.next.after)
    assert [o.email for o in first.results + rest.results] == [r.email for r in SALES_REPS]
    assert rest.paging is None
    with pytest.raises(ApiException) as caught:
        api.get_page(limit=501)
    assert caught.value.status == 400


def test_one_owner_by_id_or_user_id_and_deactivated_ones(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    api = hubspot_client.crm.owners.owners_api
    added = hubspot_sandbox.add_owner("new.rep@crmsync.example", "New", "Rep")
    owner = api.get_by_id(added)
    assert owner.email == "new.rep@crmsync.example"
    assert api.get_by_id(str(owner.user_id), id_property="userId").id == added
    hubspot_sandbox.deactivate_owner(added)
    assert added not in [o.id for o in api.get_page().results]
    assert [o.id for o in api.get_page(archived=True).results] == [added]
    with pytest.raises(ApiException) as caught:
        api.get_by_id(added)
    assert caught.value.status == 404
