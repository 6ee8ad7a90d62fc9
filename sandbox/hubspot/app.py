"""The Starlette app of one sandbox portal: HubSpot's routes, the OAuth token endpoint and
the admin routes, with HubSpot-shaped 404/405 answers for anything else.

Routes are matched in order, so a literal segment (``/groups``, ``/batch/read``,
``/gdpr-delete``) must come before the ``{name}`` route it would otherwise fall into.
A crash in a route is a sandbox bug; it still answers HubSpot's error body (500
INTERNAL_ERROR) rather than a plain-text page, so a client sees the shape it would see."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.hubspot import api_associations as assoc
from sandbox.hubspot import api_batch as batch
from sandbox.hubspot import api_objects as objects
from sandbox.hubspot import api_properties as properties
from sandbox.hubspot import owners
from sandbox.hubspot.admin import admin_routes
from sandbox.hubspot.api_common import ApiContext, endpoint, error_response, json_response
from sandbox.hubspot.errors import HubSpotError

if TYPE_CHECKING:
    from sandbox.hubspot.sandbox import HubSpotSandbox

OBJECTS = "/crm/v3/objects/{object_type}"
V4_OBJECT = "/crm/v4/objects/{object_type}/{object_id}/associations"
V4_BATCH = "/crm/v4/associations/{from_type}/{to_type}/batch"
PROPERTIES = "/crm/v3/properties/{object_type}"


def api_routes(ctx: ApiContext) -> list[BaseRoute]:
    def route(path: str, key: str, handler, methods: list[str], **options) -> Route:  # type: ignore[no-untyped-def]
        return Route(path, endpoint(ctx, key, partial(handler, ctx), **options), methods=methods)

    untyped = {"typed_by": None}
    return [
        route("/crm/v3/owners/", "owners.list", owners.list_owners, ["GET"], **untyped),
        route("/crm/v3/owners", "owners.list", owners.list_owners, ["GET"], **untyped),
        route("/crm/v3/owners/{owner_id}", "owners.get", owners.get_owner, ["GET"], **untyped),
        route(OBJECTS, "{type}.list", objects.list_objects, ["GET"]),
        route(OBJECTS, "{type}.create", objects.create_object, ["POST"]),
        route(OBJECTS + "/search", "{type}.search", objects.search_objects, ["POST"], search=True),
        route(OBJECTS + "/merge", "{type}.merge", objects.merge_objects, ["POST"]),
        route(OBJECTS + "/gdpr-delete", "{type}.gdpr_delete", objects.gdpr_delete, ["POST"]),
        route(OBJECTS + "/batch/read", "{type}.batch.read", batch.batch_read, ["POST"]),
        route(OBJECTS + "/batch/create", "{type}.batch.create", batch.batch_create, ["POST"]),
        route(OBJECTS + "/batch/update", "{type}.batch.update", batch.batch_update, ["POST"]),
        route(OBJECTS + "/batch/upsert", "{type}.batch.upsert", batch.batch_upsert, ["POST"]),
        route(OBJECTS + "/batch/archive", "{type}.batch.archive", batch.batch_archive, ["POST"]),
        route(OBJECTS + "/{object_id}", "{type}.get", objects.get_object, ["GET"]),
        route(OBJECTS + "/{object_id}", "{type}.update", objects.update_object, ["PATCH"]),
        route(OBJECTS + "/{object_id}", "{type}.archive", objects.archive_object, ["DELETE"]),
        route("/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}",
              "associations.create.default", assoc.create_default, ["PUT"], **untyped),
        route(V4_OBJECT + "/{to_type}/{to_id}", "associations.create", assoc.create_labeled, ["PUT"], **untyped),
        route(V4_OBJECT + "/{to_type}/{to_id}", "associations.archive", assoc.archive_pair, ["DELETE"], **untyped),
        route(V4_OBJECT + "/{to_type}", "associations.list", assoc.list_associations, ["GET"], **untyped),
        route(V4_BATCH + "/read", "associations.batch.read", assoc.batch_read, ["POST"], **untyped),
        route(V4_BATCH + "/associate/default", "associations.batch.associate_default",
              assoc.batch_associate_default, ["POST"], **untyped),
        route(V4_BATCH + "/create", "associations.batch.create", assoc.batch_create, ["POST"], **untyped),
        route(V4_BATCH + "/archive", "associations.batch.archive", assoc.batch_archive, ["POST"], **untyped),
        route(V4_BATCH + "/labels/archive", "associations.batch.labels_archive",
              assoc.batch_archive_labels, ["POST"], **untyped),
        route(PROPERTIES, "properties.list", properties.list_properties, ["GET"]),
        route(PROPERTIES, "properties.create", properties.create_property, ["POST"]),
        route(PROPERTIES + "/groups", "properties.groups.list", properties.list_groups, ["GET"]),
        route(PROPERTIES + "/groups", "properties.groups.create", properties.create_group, ["POST"]),
        route(PROPERTIES + "/groups/{group_name}", "properties.groups.get", properties.get_group, ["GET"]),
        route(PROPERTIES + "/groups/{group_name}", "properties.groups.update", properties.update_group, ["PATCH"]),
        route(PROPERTIES + "/groups/{group_name}", "properties.groups.archive", properties.archive_group, ["DELETE"]),
        route(PROPERTIES + "/batch/read", "properties.batch.read", properties.batch_read, ["POST"]),
        route(PROPERTIES + "/batch/create", "properties.batch.create", properties.batch_create, ["POST"]),
        route(PROPERTIES + "/batch/archive", "properties.batch.archive", properties.batch_archive, ["POST"]),
        route(PROPERTIES + "/{property_name}", "properties.get", properties.get_property, ["GET"]),
        route(PROPERTIES + "/{property_name}", "properties.update", properties.update_property, ["PATCH"]),
        route(PROPERTIES + "/{property_name}", "properties.archive", properties.archive_property, ["DELETE"]),
    ]  # fmt: skip


def build_app(ctx: ApiContext, sandbox: HubSpotSandbox) -> Starlette:
    async def token(request: Request) -> Response:
        # The token endpoint is not rate limited or faulted: it is how a client recovers.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        try:
            return json_response(ctx.auth.exchange(form))
        except HubSpotError as error:
            return error_response(error)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if status == 405:
            return error_response(
                HubSpotError(405, "HTTP method not allowed", category="METHOD_NOT_ALLOWED")
            )
        return error_response(HubSpotError(404, "resource not found", category="OBJECT_NOT_FOUND"))

    async def internal_error(request: Request, exc: Exception) -> Response:
        return error_response(HubSpotError(500, "internal error", category="INTERNAL_ERROR"))

    routes = api_routes(ctx)
    routes.append(Route("/oauth/v1/token", token, methods=["POST"]))
    routes += admin_routes(sandbox)
    return Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_found, Exception: internal_error},
    )
