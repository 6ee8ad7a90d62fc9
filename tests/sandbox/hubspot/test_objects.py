"""Single-record and batch CRM object calls through the unchanged SDK, including the
errors HubSpot gives for bad input."""

from __future__ import annotations

import json

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.companies.exceptions import NotFoundException
from hubspot.crm.contacts import ApiException as ContactApiException
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput

from sandbox.hubspot import HubSpotSandbox
from sandbox.seed import generate_companies


def body_of(error: Exception) -> dict:
    return json.loads(error.body)  # type: ignore[attr-defined]


def test_create_get_update_archive_round_trip(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.companies.basic_api
    created = api.create(
        SimplePublicObjectInputForCreate(properties={"name": "Acme", "domain": "acme.test"})
    )
    assert created.id.isdigit()
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["createdate"].endswith("Z")
    fetched = api.get_by_id(created.id, properties=["name", "domain"])
    assert fetched.properties["name"] == "Acme"
    updated = api.update(created.id, SimplePublicObjectInput(properties={"name": "Acme Ltd"}))
    assert updated.properties["name"] == "Acme Ltd"
    assert updated.updated_at >= created.updated_at
    assert updated.properties["hs_lastmodifieddate"] >= created.properties["hs_lastmodifieddate"]
    api.archive(created.id)
    with pytest.raises(NotFoundException) as caught:
        api.get_by_id(created.id)
    assert body_of(caught.value)["category"] == "OBJECT_NOT_FOUND"
    archived = api.get_by_id(created.id, archived=True)
    assert archived.archived is True


def test_ids_increase_per_object_type(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.companies.basic_api
    ids = [
        int(api.create(SimplePublicObjectInputForCreate(properties={"name": f"C{i}"})).id)
        for i in range(5)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 5
    contact = hubspot_client.crm.contacts.basic_api.create(
        ContactInput(properties={"email": "x@y.test"})
    )
    assert contact.properties["lastmodifieddate"]  # contacts use lastmodifieddate
    assert "hs_lastmodifieddate" not in contact.properties


def test_unknown_property_is_a_validation_error(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.companies.basic_api
    with pytest.raises(ApiException) as caught:
        api.create(SimplePublicObjectInputForCreate(properties={"name": "Acme", "colour": "red"}))
    body = body_of(caught.value)
    assert caught.value.status == 400
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"]
    assert body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert body["errors"][0]["context"] == {"propertyName": ["colour"]}


def test_read_only_and_enumeration_values_are_checked(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.companies.basic_api
    with pytest.raises(ApiException) as caught:
        api.create(SimplePublicObjectInputForCreate(properties={"name": "A", "hs_object_id": "5"}))
    assert body_of(caught.value)["errors"][0]["code"] == "READ_ONLY_VALUE"
    with pytest.raises(ApiException) as caught:
        api.create(
            SimplePublicObjectInputForCreate(
                properties={"name": "A", "industry": "Computer Software"}
            )
        )
    assert body_of(caught.value)["errors"][0]["code"] == "INVALID_OPTION"
    ok = api.create(
        SimplePublicObjectInputForCreate(properties={"name": "A", "industry": "COMPUTER_SOFTWARE"})
    )
    assert ok.properties["industry"] == "COMPUTER_SOFTWARE"


def test_malformed_json_and_wrong_ids(hubspot_sandbox: HubSpotSandbox) -> None:
    headers = {
        "Authorization": f"Bearer {hubspot_sandbox.access_token}",
        "Content-Type": "application/json",
    }
    with httpx.Client(base_url=hubspot_sandbox.url, headers=headers) as client:
        response = client.post("/crm/v3/objects/companies", content=b'{"properties": {"name": ')
        assert response.status_code == 400
        assert response.json()["category"] == "VALIDATION_ERROR"
        assert client.get("/crm/v3/objects/companies/999").status_code == 404
        assert client.get("/crm/v3/objects/companies/not-a-number").status_code == 404
        assert (
            client.patch("/crm/v3/objects/companies/999", json={"properties": {}}).status_code
            == 404
        )
        assert client.get("/crm/v3/objects/widgets").status_code == 400


def test_contact_email_is_deduplicated_with_409(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.contacts.basic_api
    first = api.create(ContactInput(properties={"email": "Ann@Example.test"}))
    with pytest.raises(ContactApiException) as caught:
        api.create(ContactInput(properties={"email": "ann@example.test"}))
    assert caught.value.status == 409
    assert body_of(caught.value)["message"] == f"Contact already exists. Existing ID: {first.id}"
    assert body_of(caught.value)["category"] == "CONFLICT"


def test_get_by_unique_id_property(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    hubspot_sandbox.create_property("companies", "customer_ref", unique=True)
    hubspot_sandbox.create_property("companies", "note_text")
    created = hubspot_sandbox.create(
        "companies", {"name": "Ref", "customer_ref": "C-1", "note_text": "x"}
    )
    api = hubspot_client.crm.companies.basic_api
    assert api.get_by_id("C-1", id_property="customer_ref").id == created["id"]
    with pytest.raises(ApiException) as caught:
        api.get_by_id("x", id_property="note_text")
    assert caught.value.status == 400


def test_batch_read_returns_found_records_and_a_207_for_missing(hubspot_client: HubSpot) -> None:
    basic, batch = hubspot_client.crm.companies.basic_api, hubspot_client.crm.companies.batch_api
    ids = [
        basic.create(SimplePublicObjectInputForCreate(properties={"name": f"B{i}"})).id
        for i in range(3)
    ]
    result = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in [*ids, "12345"]],
            properties=["name"],
            properties_with_history=[],
        )
    )
    assert sorted(r.id for r in result.results) == sorted(ids)
    assert result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["12345"]}


def test_batch_limits_and_duplicates(hubspot_client: HubSpot) -> None:
    batch = hubspot_client.crm.companies.batch_api
    too_many = [{"properties": {"name": f"N{i}"}} for i in range(101)]
    with pytest.raises(ApiException) as caught:
        batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=too_many))
    assert caught.value.status == 400
    created = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=too_many[:100]))
    assert len(created.results) == 100 and created.status == "COMPLETE"
    first = created.results[0].id
    with pytest.raises(ApiException) as caught:
        batch.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    {"id": first, "properties": {"city": "A"}},
                    {"id": first, "properties": {"city": "B"}},
                ]
            )
        )
    assert "Duplicate IDs" in body_of(caught.value)["message"]
    updated = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": first, "properties": {"city": "Oslo"}}]
        )
    )
    assert updated.results[0].properties["city"] == "Oslo"
    batch.archive(
        BatchInputSimplePublicObjectId(inputs=[{"id": r.id} for r in created.results[:10]])
    )
    remaining = hubspot_client.crm.companies.get_all()
    assert len(remaining) == 90


def test_batch_create_is_all_or_nothing_on_validation_errors(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    batch = HubSpot(
        access_token=hubspot_sandbox.access_token, host=hubspot_sandbox.url
    ).crm.companies.batch_api
    inputs = [{"properties": {"name": "Fine"}}, {"properties": {"name": "Bad", "nope": "1"}}]
    with pytest.raises(ApiException):
        batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert hubspot_sandbox.ids("companies") == []
    traced = [dict(item, objectWriteTraceId=f"t{i}") for i, item in enumerate(inputs)]
    result = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=traced))
    assert [r.properties["name"] for r in result.results] == ["Fine"]
    assert result.errors[0].context == {"objectWriteTraceId": ["t1"]}


def test_property_history(hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot) -> None:
    company = hubspot_sandbox.create("companies", {"name": "First name"})
    api = hubspot_client.crm.companies.basic_api
    api.update(company["id"], SimplePublicObjectInput(properties={"name": "Second name"}))
    read = api.get_by_id(company["id"], properties_with_history=["name"])
    history = read.properties_with_history["name"]
    assert [(h.value, h.source_type) for h in history] == [
        ("Second name", "INTEGRATION"),
        ("First name", "CRM_UI"),
    ]
    assert history[0].timestamp >= history[1].timestamp
    # With history, pages hold at most 50 records, which is what the SDK's get_all asks for.
    with pytest.raises(ApiException):
        api.get_page(limit=51, properties_with_history=["name"])
    hubspot_sandbox.seed(generate_companies(60, seed=2))
    everything = hubspot_client.crm.companies.get_all(properties_with_history=["name"])
    assert len(everything) == 61
    assert all(
        c.properties_with_history["name"][0].value == c.properties["name"] for c in everything[1:]
    )


def test_a_batch_read_with_property_history_takes_at_most_50_ids(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    hubspot_sandbox.seed(generate_companies(51, seed=3))
    ids = hubspot_sandbox.ids("companies")
    batch = hubspot_client.crm.companies.batch_api
    body = {"properties": [], "propertiesWithHistory": ["name"]}
    read = batch.read({**body, "inputs": [{"id": i} for i in ids[:50]]})
    assert len(read.results) == 50 and all(r.properties_with_history["name"] for r in read.results)
    with pytest.raises(ApiException) as caught:
        batch.read({**body, "inputs": [{"id": i} for i in ids]})
    assert caught.value.status == 400 and "property histories is 50" in caught.value.body
    assert (
        len(batch.read({"properties": ["name"], "inputs": [{"id": i} for i in ids]}).results) == 51
    )
