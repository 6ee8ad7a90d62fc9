"""Properties v3 routes: list, read and create property definitions, including custom
unique-identifier properties (``hasUniqueValue``) that batch upsert keys on."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox.hubspot import bodies
from sandbox.hubspot.api_common import ApiContext, json_response, read_body
from sandbox.hubspot.errors import HubSpotError, validation_error
from sandbox.hubspot.records import iso_ms
from sandbox.hubspot.store import now_ms


async def list_properties(ctx: ApiContext, request: Request, object_type: str) -> Response:
    results = [prop.to_json(iso_ms(prop.created_ms)) for prop in ctx.store.schema.all(object_type)]
    return json_response({"results": results})


async def get_property(ctx: ApiContext, request: Request, object_type: str) -> Response:
    name = request.path_params["property_name"]
    prop = ctx.store.schema.get(object_type, name)
    if prop is None:
        raise HubSpotError(
            404,
            f"Unable to find property {name} for object type {object_type}.",
            category="OBJECT_NOT_FOUND",
            context={"propertyName": [name]},
        )
    return json_response(prop.to_json(iso_ms(prop.created_ms)))


async def create_property(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.PROPERTY_CREATE)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected a property definition object.")
    prop = ctx.store.schema.create(object_type, body, now_ms())
    if prop.has_unique_value:
        ctx.store.add_unique_index(object_type, prop.name)
    return json_response(prop.to_json(iso_ms(prop.created_ms)), 201)
