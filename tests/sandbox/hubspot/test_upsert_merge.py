"""Upsert on a unique custom property created through the properties API, and merges."""

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


def test_merge_keeps_the_survivor_and_redirects_only_single_reads(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    primary = hubspot_sandbox.create("companies", {"name": "Acme", "domain": "acme.test"})
    other = hubspot_sandbox.create("companies", {"name": "ACME Inc", "city": "Oslo"})
    contact = hubspot_sandbox.create("contacts", {"email": "c@acme.test"}, company_id=other["id"])
    basic = hubspot_client.crm.companies.basic_api
    merged = basic.merge(
        PublicMergeInput(primary_object_id=primary["id"], object_id_to_merge=other["id"])
    )
    assert merged.id == primary["id"]
    assert merged.properties["hs_merged_object_ids"] == other["id"]
    assert merged.properties["name"] == "Acme"  # the survivor's values win
    assert merged.properties["city"] == "Oslo"  # blanks are filled from the merged record
    # The old id resolves on single GET and PATCH ...
    assert basic.get_by_id(other["id"]).id == primary["id"]
    patched = basic.update(other["id"], SimplePublicObjectInput(properties={"phone": "+1 555"}))
    assert patched.id == primary["id"]
    # ... but not in batch read or batch update.
    read = hubspot_client.crm.companies.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": other["id"]}], properties=[], properties_with_history=[]
        )
    )
    assert read.results == [] and read.errors[0].context == {"ids": [other["id"]]}
    updated = hubspot_client.crm.companies.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": other["id"], "properties": {"city": "X"}}]
        )
    )
    assert updated.results == [] and updated.num_errors == 1
    # The merged record is gone from listings; its contact moved to the survivor.
    assert [c.id for c in hubspot_client.crm.companies.get_all()] == [primary["id"]]
    moved = hubspot_sandbox.get("contacts", contact["id"])
    assert moved is not None
    assert moved["properties"]["associatedcompanyid"] == primary["id"]
    assert moved["associations"]["companies"] == [
        {"id": primary["id"], "kinds": ["primary", "unlabeled"]}
    ]
