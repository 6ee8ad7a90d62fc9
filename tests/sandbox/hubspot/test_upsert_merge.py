"""Upsert on a unique custom property created through the properties API, and merges
(which make a new record, as HubSpot's merges do since its merge update)."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    SimplePublicObjectInput,
)
from hubspot.crm.properties import PropertyCreate

from sandbox.hubspot import HubSpotSandbox


def make_unique_property(client: HubSpot, name: str = "crmsync_id") -> None:
    created = client.crm.properties.core_api.create(
        "companies",
        PropertyCreate(name=name, label="crmsync id", type="string", field_type="text",
                       group_name="companyinformation", has_unique_value=True),
    )  # fmt: skip
    assert created.has_unique_value is True
    assert client.crm.properties.core_api.get_by_name("companies", name).name == name


def upsert(client: HubSpot, rows: list[tuple[str, str]], id_property: str = "crmsync_id"):  # type: ignore[no-untyped-def]
    inputs = [
        {"id": key, "idProperty": id_property, "properties": {"name": name}} for key, name in rows
    ]
    return client.crm.companies.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs)
    )


def test_upsert_twice_creates_once(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    make_unique_property(hubspot_client)
    rows = [(f"cust-{i}", f"Customer {i}") for i in range(50)]
    first = upsert(hubspot_client, rows)
    assert all(result.new for result in first.results)
    assert {r.properties["crmsync_id"] for r in first.results} == {key for key, _ in rows}
    second = upsert(hubspot_client, [*rows[:25], ("cust-new", "Brand new")])
    flags = {r.properties["crmsync_id"]: r.new for r in second.results}
    assert flags.pop("cust-new") is True
    assert not any(flags.values())
    assert len(hubspot_sandbox.ids("companies")) == 51
    by_key = {r.properties["crmsync_id"]: r.id for r in second.results}
    assert all(
        by_key[r.properties["crmsync_id"]] == r.id
        for r in first.results
        if r.properties["crmsync_id"] in by_key
    )


def test_upsert_needs_a_unique_id_property(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    hubspot_sandbox.create_property("companies", "plain_ref")
    for id_property in ("plain_ref", "hs_object_id", "name"):
        with pytest.raises(ApiException) as caught:
            upsert(hubspot_client, [("x", "X")], id_property=id_property)
        assert caught.value.status == 400
        assert "non-unique" in json.loads(caught.value.body)["message"]


def test_unique_values_are_enforced_on_create_and_update(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    make_unique_property(hubspot_client)
    upsert(hubspot_client, [("a", "A"), ("b", "B")])
    record_b = hubspot_sandbox.store.find_unique("companies", "crmsync_id", "b")
    assert record_b is not None
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.companies.basic_api.update(
            str(record_b.id), SimplePublicObjectInput(properties={"crmsync_id": "a"})
        )
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["context"] == {"propertyName": ["crmsync_id"]}


def test_merge_makes_a_new_record_that_both_old_ids_resolve_to(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    make_unique_property(hubspot_client)
    primary = hubspot_sandbox.create(
        "companies", {"name": "Acme", "domain": "acme.test", "crmsync_id": "7"}
    )
    other = hubspot_sandbox.create("companies", {"name": "ACME Inc", "city": "Oslo"})
    contact = hubspot_sandbox.create("contacts", {"email": "c@acme.test"}, company_id=other["id"])
    basic = hubspot_client.crm.companies.basic_api
    merged = basic.merge(
        PublicMergeInput(primary_object_id=primary["id"], object_id_to_merge=other["id"])
    )
    new_id = merged.id
    assert new_id not in (primary["id"], other["id"])
    assert int(new_id) > int(other["id"])
    assert merged.properties["hs_object_id"] == new_id
    assert merged.properties["hs_merged_object_ids"] == f"{primary['id']};{other['id']}"
    assert merged.properties["name"] == "Acme"  # the primary's values win
    assert merged.properties["city"] == "Oslo"  # blanks are filled from the other record
    assert merged.properties["crmsync_id"] == "7"  # unique values move with the primary's
    # Both old ids resolve to the new record on single GET and PATCH ...
    for old_id in (primary["id"], other["id"]):
        assert basic.get_by_id(old_id).id == new_id
    patched = basic.update(other["id"], SimplePublicObjectInput(properties={"phone": "+1 555"}))
    assert patched.id == new_id
    # ... on batch read (the new record once, however many old ids name it) ...
    read = hubspot_client.crm.companies.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": primary["id"]}, {"id": other["id"]}],
            properties=["name"],
            properties_with_history=[],
        )
    )
    assert [r.id for r in read.results] == [new_id] and read.status == "COMPLETE"
    # ... and in search by id ...
    found = hubspot_client.crm.companies.search_api.do_search(
        {"filterGroups": [{"filters": [
            {"propertyName": "hs_object_id", "operator": "EQ", "value": other["id"]}]}]}
    )  # fmt: skip
    assert [r.id for r in found.results] == [new_id]
    # ... but not in batch update, as HubSpot documents.
    updated = hubspot_client.crm.companies.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": other["id"], "properties": {"city": "X"}}]
        )
    )
    assert updated.results == [] and updated.num_errors == 1
    # Both old records are gone from listings; the new one carries the unique value, so
    # it answers an upsert on it; the other's contact moved to it.
    assert [c.id for c in hubspot_client.crm.companies.get_all()] == [new_id]
    assert hubspot_sandbox.store.find_unique("companies", "crmsync_id", "7").id == int(new_id)  # type: ignore[union-attr]
    moved = hubspot_sandbox.get("contacts", contact["id"])
    assert moved is not None
    assert moved["properties"]["associatedcompanyid"] == new_id
    assert moved["associations"]["companies"] == [{"id": new_id, "kinds": ["primary", "unlabeled"]}]
    # A later merge of the new record carries every id it took in.
    third = hubspot_sandbox.create("companies", {"name": "Acme Three"})
    again = basic.merge(PublicMergeInput(primary_object_id=third["id"], object_id_to_merge=new_id))
    assert again.properties["hs_merged_object_ids"].split(";") == [
        primary["id"],
        other["id"],
        third["id"],
        new_id,
    ]
    assert basic.get_by_id(primary["id"]).id == again.id


def test_contact_merge_keeps_the_primarys_company(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    first = hubspot_sandbox.create("companies", {"name": "First"})
    second = hubspot_sandbox.create("companies", {"name": "Second"})
    primary = hubspot_sandbox.create("contacts", {"email": "a@x.test"}, company_id=first["id"])
    other = hubspot_sandbox.create(
        "contacts", {"email": "b@x.test", "firstname": "Bo"}, company_id=second["id"]
    )
    merged = hubspot_client.crm.contacts.basic_api.merge(
        {"primaryObjectId": primary["id"], "objectIdToMerge": other["id"]}
    )
    raw = hubspot_sandbox.get("contacts", merged.id)
    assert raw is not None
    assert merged.id not in (primary["id"], other["id"])
    assert raw["properties"]["email"] == "a@x.test"
    assert raw["properties"]["firstname"] == "Bo"
    assert raw["properties"]["associatedcompanyid"] == first["id"]
    assert {"id": first["id"], "kinds": ["primary", "unlabeled"]} in raw["associations"][
        "companies"
    ]
    assert {"id": second["id"], "kinds": ["unlabeled"]} in raw["associations"]["companies"]
