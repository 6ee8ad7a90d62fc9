"""Properties v3 routes: property definitions (list, read, create, update, archive, and the
batch read / create / archive verbs), including custom unique-identifier properties
(``hasUniqueValue``) that batch upsert keys on, and property groups.

Shapes follow ``sandbox/specs/hubspot/crm-properties-v3.json``. Batch read answers 207 with
an error per name it cannot find; batch create creates what it can and reports the rest in
a 207 (only a body of the wrong shape refuses the whole batch).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.hubspot import bodies
from sandbox.hubspot.api_common import ApiContext, bool_param, json_response, read_body
from sandbox.hubspot.errors import HubSpotError, batch_error, validation_error
from sandbox.hubspot.properties import PropertyDef, property_not_found
from sandbox.hubspot.store import now_ms

MAX_BATCH_INPUTS = 100


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _created(ctx: ApiContext, object_type: str, body: dict[str, Any]) -> PropertyDef:
    prop = ctx.store.schema.create(object_type, body, now_ms())
    if prop.has_unique_value:
        ctx.store.add_unique_index(object_type, prop.name)
    return prop


def _inputs(body: dict[str, Any]) -> list[Any]:
    inputs = body.get("inputs")
    if inputs is None:
        raise validation_error("Invalid input JSON: inputs is required.")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise validation_error(
            f"Too many inputs: {len(inputs)}; the maximum is {MAX_BATCH_INPUTS}."
        )
    return list(inputs)


def _batch(results: list[Any], errors: list[dict[str, Any]], started: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": [prop.to_json() for prop in results],
        "startedAt": started,
        "completedAt": _now_iso(),
    }
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return body


async def list_properties(ctx: ApiContext, request: Request, object_type: str) -> Response:
    schema = ctx.store.schema
    if bool_param(request, "archived"):
        props = list(schema.archived[object_type].values())
    else:
        props = schema.all(object_type)
    return json_response({"results": [prop.to_json() for prop in props]})


async def get_property(ctx: ApiContext, request: Request, object_type: str) -> Response:
    name = request.path_params["property_name"]
    prop = ctx.store.schema.get(object_type, name, archived=bool_param(request, "archived"))
    if prop is None:
        raise property_not_found(object_type, name)
    return json_response(prop.to_json())


async def create_property(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.PROPERTY_CREATE)
    return json_response(_created(ctx, object_type, body).to_json(), 201)


async def update_property(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.PROPERTY_UPDATE)
    name = request.path_params["property_name"]
    return json_response(ctx.store.schema.update(object_type, name, body, now_ms()).to_json())


async def archive_property(ctx: ApiContext, request: Request, object_type: str) -> Response:
    ctx.store.schema.archive(object_type, request.path_params["property_name"], now_ms())
    return Response(status_code=204)


async def batch_read(ctx: ApiContext, request: Request, object_type: str) -> Response:
    started = _now_iso()
    body = await read_body(request, bodies.PROPERTY_BATCH_READ)
    archived = body.get("archived") in (True, "true")
    results, missing = [], []
    for item in _inputs(body):
        name = str(item.get("name"))
        prop = ctx.store.schema.get(object_type, name, archived=archived)
        if prop is None:
            missing.append(name)
        else:
            results.append(prop)
    errors = []
    if missing:
        errors.append(
            batch_error(
                "OBJECT_NOT_FOUND",
                f"Unable to find properties {missing} for object type {object_type}.",
                {"propertyName": missing},
            )
        )
    return json_response(_batch(results, errors, started), 207 if errors else 200)


async def batch_create(ctx: ApiContext, request: Request, object_type: str) -> Response:
    started = _now_iso()
    body = await read_body(request, bodies.PROPERTY_BATCH_CREATE)
    results, errors = [], []
    for item in _inputs(body):
        try:
            results.append(_created(ctx, object_type, item))
        except HubSpotError as error:
            name = str(item.get("name"))
            errors.append(batch_error(error.category, error.message, {"name": [name]}))
    return json_response(_batch(results, errors, started), 207 if errors else 201)


async def batch_archive(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.PROPERTY_BATCH_ARCHIVE)
    names = [str(item.get("name")) for item in _inputs(body)]
    for name in names:
        if ctx.store.schema.get(object_type, name) is None:
            raise property_not_found(object_type, name)
    for name in names:
        ctx.store.schema.archive(object_type, name, now_ms())
    return Response(status_code=204)


# ---- property groups ------------------------------------------------------------------------


async def list_groups(ctx: ApiContext, request: Request, object_type: str) -> Response:
    groups = ctx.store.schema.groups.all(object_type)
    return json_response({"results": [group.to_json() for group in groups]})


async def get_group(ctx: ApiContext, request: Request, object_type: str) -> Response:
    group = ctx.store.schema.groups.require(object_type, request.path_params["group_name"])
    return json_response(group.to_json())


async def create_group(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.GROUP_CREATE)
    return json_response(ctx.store.schema.groups.create(object_type, body).to_json(), 201)


async def update_group(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.GROUP_UPDATE)
    name = request.path_params["group_name"]
    return json_response(ctx.store.schema.groups.update(object_type, name, body).to_json())


async def archive_group(ctx: ApiContext, request: Request, object_type: str) -> Response:
    name = request.path_params["group_name"]
    schema = ctx.store.schema
    schema.groups.archive(object_type, name, in_use=schema.in_group(object_type, name))
    return Response(status_code=204)
