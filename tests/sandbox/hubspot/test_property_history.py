"""Property history says who made each change, as HubSpot's ``ValueWithTimestamp`` does:
an app's API write is ``INTEGRATION`` with the app's id as ``sourceId``, a person's edit in
HubSpot (the sandbox's admin routes) is ``CRM_UI`` with the user, seeded data ``IMPORT``."""

from __future__ import annotations

import httpx
from hubspot import HubSpot
from hubspot.crm.companies import SimplePublicObjectInput, SimplePublicObjectInputForCreate

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.auth import OAUTH_APP_ID, PRIVATE_APP_ID
from sandbox.hubspot.sources import SANDBOX_USER_ID
from sandbox.seed import generate_companies
from tests.sandbox.hubspot.conftest import sdk_client


def oauth_client(sandbox: HubSpotSandbox) -> HubSpot:
    creds = sandbox.credentials
    tokens = HubSpot(host=sandbox.url).oauth.tokens_api.create(
        grant_type="refresh_token", client_id=creds.client_id,
        client_secret=creds.client_secret, refresh_token=creds.refresh_token,
    )  # fmt: skip
    return sdk_client(sandbox, tokens.access_token)


def history(client: HubSpot, company_id: str) -> list[dict[str, object]]:
    read = client.crm.companies.basic_api.get_by_id(company_id, properties_with_history=["name"])
    return [
        {"value": h.value, "sourceType": h.source_type, "sourceId": h.source_id,
         "updatedByUserId": h.updated_by_user_id}
        for h in read.properties_with_history["name"]
    ]  # fmt: skip


def test_each_change_names_its_source(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    api = hubspot_client.crm.companies.basic_api
    created = api.create(SimplePublicObjectInputForCreate(properties={"name": "By private app"}))
    oauth_client(hubspot_sandbox).crm.companies.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"name": "By OAuth app"})
    )
    # The admin route stands for a person editing the record in HubSpot.
    edited = httpx.patch(
        f"{hubspot_sandbox.url}/__sandbox/hubspot/objects/companies/{created.id}",
        json={"properties": {"name": "By a user"}},
    )
    assert edited.status_code == 200

    assert history(hubspot_client, created.id) == [
        {"value": "By a user", "sourceType": "CRM_UI", "sourceId": f"userId:{SANDBOX_USER_ID}",
         "updatedByUserId": SANDBOX_USER_ID},
        {"value": "By OAuth app", "sourceType": "INTEGRATION", "sourceId": str(OAUTH_APP_ID),
         "updatedByUserId": None},
        {"value": "By private app", "sourceType": "INTEGRATION", "sourceId": str(PRIVATE_APP_ID),
         "updatedByUserId": None},
    ]  # fmt: skip


def test_batch_read_and_seeded_history(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    hubspot_sandbox.seed(generate_companies(1, seed=3))
    seeded_id = hubspot_sandbox.ids("companies")[0]
    made_by_ui = hubspot_sandbox.create("companies", {"name": "Typed in"})["id"]
    response = httpx.post(
        f"{hubspot_sandbox.url}/crm/v3/objects/companies/batch/read",
        json={"inputs": [{"id": seeded_id}, {"id": made_by_ui}], "properties": [],
              "propertiesWithHistory": ["name"]},
        headers={"Authorization": f"Bearer {hubspot_sandbox.access_token}"},
    )  # fmt: skip
    entries = {r["id"]: r["propertiesWithHistory"]["name"] for r in response.json()["results"]}
    assert entries[seeded_id][0]["sourceType"] == "IMPORT"
    assert "sourceId" not in entries[seeded_id][0]
    assert entries[made_by_ui][0]["sourceType"] == "CRM_UI"
    assert entries[made_by_ui][0]["updatedByUserId"] == SANDBOX_USER_ID
