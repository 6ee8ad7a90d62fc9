"""Every response the sandbox gives the SDK must validate against HubSpot's published
OpenAPI specs (sandbox/specs/hubspot/, with the one deviation ``specs.py`` explains), errors
included.

Requests and responses are captured at the ASGI boundary by a middleware wrapped around the
sandbox app (the SDK is untouched), then each response is validated with openapi-core
against the spec that owns its path. A deliberately wrong response must fail the same
validator, so this check can fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts import PublicGdprDeleteInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    BatchReadInputPropertyName,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyGroupUpdate,
    PropertyUpdate,
)
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import MissingData

from sandbox.hubspot import HubSpotSandbox, RateLimits
from sandbox.runner import ServerThread
from tests.sandbox.hubspot.specs import load_spec

SPEC_BY_PREFIX = (
    ("/crm/v3/objects/companies", "crm-companies-v3.json"),
    ("/crm/v3/objects/contacts", "crm-contacts-v3.json"),
    ("/crm/v4/", "crm-associations-v4.json"),
    ("/crm/v3/properties/", "crm-properties-v3.json"),
)
SPEC_HOST = "https://api.hubapi.com"  # the servers[0].url of every spec


@cache
def openapi(spec_file: str) -> OpenAPI:
    # HubSpot's specs declare error bodies as "*/*" with the Error schema; openapi-core has
    # no deserializer for a wildcard, so it is told that such bodies are JSON, which they are.
    config = Config(extra_media_type_deserializers={"*/*": json.loads})
    return OpenAPI.from_dict(load_spec(spec_file), config=config)


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    status: int
    content_type: str
    body: bytes


class Capture:
    """ASGI middleware that records every request line and response, untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record: dict[str, Any] = {"body": b""}

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
                record["content_type"] = headers.get("content-type", "")
            elif message["type"] == "http.response.body":
                record["body"] += message.get("body", b"")
                if not message.get("more_body", False):
                    # Recorded before the last byte leaves, so the client never sees a
                    # response that is not yet in the log.
                    self.exchanges.append(
                        Exchange(scope["method"], scope["path"], scope["query_string"].decode(),
                                 record["status"], record["content_type"], record["body"])
                    )  # fmt: skip
            await send(message)

        await self.app(scope, receive, capture)


def spec_for(path: str) -> str | None:
    return next((spec for prefix, spec in SPEC_BY_PREFIX if path.startswith(prefix)), None)


def violations(exchange: Exchange, spec_file: str) -> list[str]:
    request = MockRequest(
        SPEC_HOST, exchange.method.lower(), exchange.path, args=dict(parse_qsl(exchange.query))
    )
    media = exchange.content_type.split(";")[0] or "application/json"
    response = MockResponse(exchange.body, status_code=exchange.status, content_type=media)
    errors = openapi(spec_file).iter_response_errors(request, response)
    return [_describe(error) for error in errors if not _empty_as_declared(error, exchange)]


def _empty_as_declared(error: BaseException, exchange: Exchange) -> bool:
    # HubSpot's specs write 204 responses as `content: {}` (no media types); openapi-core
    # reads a present-but-empty content map as "a body is required". An empty 204 is what
    # the spec means; the status itself was already matched against the operation.
    return isinstance(error, MissingData) and exchange.status == 204 and exchange.body == b""


def _describe(error: BaseException) -> str:
    """The validator's error with the schema errors underneath it."""
    parts = [repr(error)]
    cause = error.__cause__
    while cause is not None:
        details = getattr(cause, "schema_errors", None)
        parts.append(repr(cause) if not details else "; ".join(e.message for e in details))
        cause = cause.__cause__
    return " <- ".join(parts)


@pytest.fixture
def captured() -> Iterator[tuple[HubSpotSandbox, Capture, HubSpot]]:
    sandbox = HubSpotSandbox(limits=RateLimits(per_interval=1000))
    capture = Capture(sandbox.app)
    server = ServerThread(capture).start()
    yield sandbox, capture, HubSpot(access_token=sandbox.access_token, host=server.url)
    server.stop()
    sandbox.stop()


def drive(sandbox: HubSpotSandbox, client: HubSpot) -> None:
    """A broad tour of the API, successes and failures, through the SDK."""
    companies, contacts = client.crm.companies, client.crm.contacts
    assoc = client.crm.associations.v4
    attempt = _attempt

    client.crm.properties.core_api.create(
        "companies", PropertyCreate(name="ext_id", label="Ext", type="string", field_type="text",
                                    group_name="companyinformation", has_unique_value=True),
    )  # fmt: skip
    client.crm.properties.core_api.get_by_name("companies", "ext_id")
    client.crm.properties.core_api.get_all("contacts")
    attempt(lambda: client.crm.properties.core_api.get_by_name("companies", "missing_prop"))

    a = companies.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"name": "A", "industry": "RETAIL"})
    )
    b = companies.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"name": "B", "domain": "b.test"})
    )
    created = companies.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[{"properties": {"name": f"Batch {i}"}} for i in range(5)]))  # fmt: skip
    companies.basic_api.get_page(limit=2, properties=["name", "industry"])
    companies.basic_api.get_page(limit=100, associations=["contacts"])
    companies.basic_api.get_by_id(a.id, properties=["name"], associations=["contacts"])
    companies.basic_api.update(a.id, SimplePublicObjectInput(properties={"city": "Oslo"}))
    companies.basic_api.get_by_id(a.id, properties_with_history=["city", "name"])
    companies.basic_api.get_page(limit=50, properties_with_history=["name"])
    companies.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": a.id}, {"id": "1"}], properties=["name"], properties_with_history=[]))  # fmt: skip
    companies.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": created.results[0].id, "properties": {"phone": "1"}}]))  # fmt: skip
    companies.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[{"id": "x-1", "idProperty": "ext_id", "properties": {"name": "Up"}}]))  # fmt: skip
    companies.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "name", "operator": "EQ", "value": "a"}]}],
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}], limit=1, properties=["name"]))  # fmt: skip
    companies.search_api.do_search(PublicObjectSearchRequest(limit=1))
    # A merge makes a new record: the rest goes on with it.
    a = companies.basic_api.merge(PublicMergeInput(primary_object_id=a.id, object_id_to_merge=b.id))
    companies.batch_api.archive(
        BatchInputSimplePublicObjectId(inputs=[{"id": created.results[1].id}])
    )
    companies.basic_api.archive(created.results[2].id)
    companies.basic_api.get_page(archived=True)

    c = contacts.basic_api.create(ContactCreate(properties={"email": "c@x.test", "firstname": "C"}))
    contacts.basic_api.get_page()
    assoc.basic_api.create_default("contacts", c.id, "companies", a.id)
    assoc.basic_api.create("contacts", c.id, "companies", created.results[3].id,
                           [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)])  # fmt: skip
    assoc.basic_api.get_page("contacts", c.id, "companies")
    assoc.batch_api.get_page("contacts", "companies", BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[{"id": c.id}, {"id": "5"}]))  # fmt: skip
    assoc.batch_api.create_default("companies", "contacts", BatchInputPublicDefaultAssociationMultiPost(
        inputs=[{"from": {"id": created.results[4].id}, "to": {"id": c.id}}]))  # fmt: skip
    assoc.basic_api.archive("contacts", c.id, "companies", a.id)
    assoc.batch_api.archive_labels("contacts", "companies", BatchInputPublicAssociationMultiPost(
        inputs=[{"from": {"id": c.id}, "to": {"id": created.results[3].id},
                 "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]))  # fmt: skip
    properties = client.crm.properties
    properties.groups_api.create("contacts", PropertyGroupCreate(name="crmsync", label="Sync"))
    properties.groups_api.get_all("contacts")
    properties.groups_api.update("contacts", "crmsync", PropertyGroupUpdate(label="Synced"))
    properties.batch_api.create("contacts", BatchInputPropertyCreate(inputs=[
        PropertyCreate(name="tier", label="Tier", type="string", field_type="text", group_name="crmsync")]))  # fmt: skip
    properties.core_api.update("contacts", "tier", PropertyUpdate(label="Customer tier"))
    properties.batch_api.read("contacts", BatchReadInputPropertyName(
        inputs=[{"name": "tier"}, {"name": "missing_prop"}], archived=False))  # fmt: skip

    # Errors: 400s, 404s, a 409 and a 429, each with HubSpot's error body.
    attempt(lambda: companies.basic_api.get_page(limit=101))
    attempt(
        lambda: companies.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"nope": "1"})
        )
    )
    attempt(lambda: companies.basic_api.get_by_id("999"))
    attempt(
        lambda: companies.search_api.do_search(PublicObjectSearchRequest(limit=100, after="9950"))
    )
    attempt(lambda: contacts.basic_api.create(ContactCreate(properties={"email": "C@x.test"})))
    attempt(lambda: assoc.basic_api.create_default("contacts", c.id, "companies", "42"))
    contacts.basic_api.purge(PublicGdprDeleteInput(object_id=c.id))
    for _ in range(6):
        attempt(lambda: companies.search_api.do_search(PublicObjectSearchRequest(limit=1)))


def _attempt(call: Any) -> None:
    try:
        call()
    except Exception as error:  # the SDK raises on purpose here; the response is what counts
        assert getattr(error, "status", 0) >= 400, error


def test_every_response_conforms_to_hubspots_specs(
    captured: tuple[HubSpotSandbox, Capture, HubSpot],
) -> None:
    sandbox, capture, client = captured
    drive(sandbox, client)
    checked, problems = 0, []
    statuses = set()
    for exchange in capture.exchanges:
        spec = spec_for(exchange.path)
        if spec is None:
            continue
        checked += 1
        statuses.add(exchange.status)
        problems += [
            f"{exchange.method} {exchange.path} -> {exchange.status}: {p}"
            for p in violations(exchange, spec)
        ]
    assert problems == []
    assert checked >= 40
    assert {200, 201, 204, 207, 400, 404, 409, 429} <= statuses


def test_the_validator_rejects_wrong_shapes(
    captured: tuple[HubSpotSandbox, Capture, HubSpot],
) -> None:
    sandbox, capture, client = captured
    sandbox.create("companies", {"name": "Shape"})
    client.crm.companies.basic_api.get_page()
    good = capture.exchanges[-1]
    assert violations(good, "crm-companies-v3.json") == []
    page = json.loads(good.body)
    no_id = json.loads(good.body)
    del no_id["results"][0]["id"]
    listed_properties = json.loads(good.body)
    listed_properties["results"][0]["properties"] = list(page["results"][0]["properties"].items())
    bad_error = {"message": "no category and no correlationId"}
    cases = [
        (
            Exchange("GET", good.path, "", 200, "application/json", json.dumps(no_id).encode()),
            "missing id",
        ),
        (
            Exchange(
                "GET",
                good.path,
                "",
                200,
                "application/json",
                json.dumps(listed_properties).encode(),
            ),
            "list",
        ),
        (
            Exchange("GET", good.path, "", 400, "application/json", json.dumps(bad_error).encode()),
            "error",
        ),
    ]
    for exchange, label in cases:
        assert violations(exchange, "crm-companies-v3.json"), label
