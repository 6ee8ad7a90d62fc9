"""Wrongly typed JSON bodies get HubSpot's 400 VALIDATION_ERROR naming the field, on every
route family (objects, batch, search, associations v4, properties), never a 500.

The bodies go over raw HTTP, because the SDK's models would refuse to build most of them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.hubspot import HubSpotSandbox

CASES: list[tuple[str, str, Any, str]] = [
    # (path, method, body, field the message must name)
    ("/crm/v3/objects/companies/batch/update", "POST",
     {"inputs": [{"id": "1", "idProperty": ["domain"], "properties": {}}]}, "inputs[0].idProperty"),
    ("/crm/v3/objects/companies/batch/read", "POST",
     {"inputs": [{"id": "1"}], "idProperty": ["domain"]}, "idProperty"),
    ("/crm/v3/objects/contacts/batch/upsert", "POST",
     {"inputs": [{"id": "a@b.c", "idProperty": ["email"], "properties": {}}]},
     "inputs[0].idProperty"),
    ("/crm/v3/objects/companies/batch/read", "POST",
     {"inputs": [{"id": "1"}], "properties": False}, "properties"),
    ("/crm/v3/objects/companies/search", "POST",
     {"filterGroups": [{"filters": [{"propertyName": "name", "operator": {"x": 1}}]}]},
     "filterGroups[0].filters[0].operator"),
    ("/crm/v4/associations/contacts/companies/batch/create", "POST",
     {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"},
                  "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": {}}]}]},
     "inputs[0].types[0].associationTypeId"),
    # More of the same class.
    ("/crm/v3/objects/companies", "POST", {"properties": ["name"]}, "properties"),
    ("/crm/v3/objects/companies", "POST", {"properties": {"name": {"a": 1}}}, "properties.name"),
    ("/crm/v3/objects/companies", "POST",
     {"properties": {"name": "x"}, "associations": {"to": 1}}, "associations"),
    ("/crm/v3/objects/companies/search", "POST", {"limit": "ten"}, "limit"),
    ("/crm/v3/objects/companies/search", "POST", {"sorts": [["name"]]}, "sorts[0]"),
    ("/crm/v3/objects/companies/search", "POST", {"filterGroups": {"filters": []}}, "filterGroups"),
    ("/crm/v3/objects/companies/batch/create", "POST", {"inputs": [None]}, "inputs[0]"),
    ("/crm/v3/objects/companies/batch/archive", "POST", {"inputs": [{"id": [1]}]}, "inputs[0].id"),
    ("/crm/v3/objects/companies/merge", "POST",
     {"primaryObjectId": {"id": 1}, "objectIdToMerge": "2"}, "primaryObjectId"),
    ("/crm/v3/objects/contacts/gdpr-delete", "POST", {"objectId": ["1"]}, "objectId"),
    ("/crm/v4/objects/contacts/1/associations/companies/2", "PUT",
     [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": [1]}], "[0].associationTypeId"),
    ("/crm/v4/associations/contacts/companies/batch/read", "POST", {"inputs": [{"id": {}}]},
     "inputs[0].id"),
    ("/crm/v4/associations/contacts/companies/batch/archive", "POST",
     {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"}}]}, "inputs[0].to"),
    ("/crm/v4/associations/contacts/companies/batch/labels/archive", "POST",
     {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"}, "types": {}}]}, "inputs[0].types"),
    ("/crm/v3/properties/companies", "POST",
     {"name": "x", "label": "X", "type": "string", "fieldType": "text", "groupName": "companyinformation",
      "options": "A,B"}, "options"),
    ("/crm/v3/properties/companies/name", "PATCH", {"label": ["Name"]}, "label"),
    ("/crm/v3/properties/companies/batch/read", "POST", {"inputs": "name"}, "inputs"),
    ("/crm/v3/properties/companies/groups", "POST", {"name": "g", "label": "G", "displayOrder": "first"},
     "displayOrder"),
    ("/crm/v3/objects/companies", "POST", ["not", "an", "object"], "the request body"),
]  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with HubSpotSandbox(limits=None) as started:
        yield started


@pytest.mark.parametrize(("path", "method", "body", "field"), CASES)
def test_wrongly_typed_field_is_a_validation_error(
    sandbox: HubSpotSandbox, path: str, method: str, body: Any, field: str
) -> None:
    response = httpx.request(
        method,
        sandbox.url + path,
        json=body,
        headers={"Authorization": f"Bearer {sandbox.access_token}"},
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert error["status"] == "error"
    assert error["category"] == "VALIDATION_ERROR"
    assert field in error["message"]
    assert error["correlationId"]
    assert error["errors"][0]["in"] == field


def test_a_crash_answers_hubspots_error_shape(sandbox: HubSpotSandbox) -> None:
    """A bug in a route is a 500 with HubSpot's body, not a plain-text page."""
    original = sandbox.store.schema.all
    sandbox.store.schema.all = lambda object_type: 1 / 0  # type: ignore[assignment,method-assign]
    try:
        response = httpx.get(
            sandbox.url + "/crm/v3/properties/companies",
            headers={"Authorization": f"Bearer {sandbox.access_token}"},
        )
    finally:
        sandbox.store.schema.all = original  # type: ignore[method-assign]

    assert response.status_code == 500
    assert response.json()["category"] == "INTERNAL_ERROR"


def test_non_ascii_digits_are_not_ids(sandbox: HubSpotSandbox) -> None:
    """``"²".isdigit()`` is true in Python but ``int("²")`` fails: such ids are refused or
    not found, never a crash."""
    auth = {"Authorization": f"Bearer {sandbox.access_token}"}
    listed = httpx.get(sandbox.url + "/crm/v3/objects/companies?after=%C2%B2", headers=auth)
    assert listed.status_code == 400
    read = httpx.post(
        sandbox.url + "/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": "²"}]},
        headers=auth,
    )
    assert read.status_code == 207
    assert (
        httpx.post(
            sandbox.url + "/crm/v3/objects/companies/search",
            json={"limit": "²"},
            headers=auth,
        ).status_code
        == 400
    )
