"""Admin HTTP routes under ``/__sandbox/hubspot/``: what the demo and out-of-process tests
use to act as a HubSpot user, inspect raw state, set faults, read counters, manage the
webhook subscription and expire or revoke tokens. They need no token and are never rate limited,
faulted or counted, so they cannot disturb what a test measures.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.faults import FaultRule
from sandbox.hubspot.api_common import error_response, json_response, read_json
from sandbox.hubspot.errors import HubSpotError, validation_error
from sandbox.hubspot.webhooks import WebhookSubscription

if TYPE_CHECKING:
    from sandbox.hubspot.sandbox import HubSpotSandbox

PREFIX = "/__sandbox/hubspot"


def admin_routes(sandbox: HubSpotSandbox) -> list[BaseRoute]:
    def guarded(handler):  # type: ignore[no-untyped-def]
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except HubSpotError as error:
                return error_response(error)
            except (ValueError, TypeError, KeyError) as error:
                return error_response(validation_error(str(error)))

        return run

    async def credentials(request: Request) -> Response:
        return json_response({**asdict(sandbox.credentials), "portalId": sandbox.portal_id})

    async def create(request: Request) -> Response:
        body = await _object(request)
        company_id = body.get("companyId")
        record = sandbox.create(
            request.path_params["object_type"], body.get("properties") or {}, company_id=company_id
        )
        return json_response(record, 201)

    async def read(request: Request) -> Response:
        record = sandbox.get(request.path_params["object_type"], request.path_params["object_id"])
        if record is None:
            raise HubSpotError(404, "resource not found", category="OBJECT_NOT_FOUND")
        return json_response(record)

    async def update(request: Request) -> Response:
        body = await _object(request)
        p = request.path_params
        return json_response(
            sandbox.update(p["object_type"], p["object_id"], body.get("properties") or {})
        )

    async def archive(request: Request) -> Response:
        sandbox.archive(request.path_params["object_type"], request.path_params["object_id"])
        return Response(status_code=204)

    async def restore(request: Request) -> Response:
        return json_response(
            sandbox.restore(request.path_params["object_type"], request.path_params["object_id"])
        )

    async def merge(request: Request) -> Response:
        body = await _object(request)
        merged = sandbox.merge(
            request.path_params["object_type"], body["primaryObjectId"], body["objectIdToMerge"]
        )
        return json_response(merged)

    async def associate(request: Request) -> Response:
        p = request.path_params
        if request.method == "DELETE":
            sandbox.disassociate(p["contact_id"], p["company_id"])
            return Response(status_code=204)
        sandbox.associate(
            p["contact_id"], p["company_id"], primary=request.query_params.get("primary") == "true"
        )
        return Response(status_code=204)

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            rule = FaultRule(**await _object(request))
            sandbox.faults.add(rule)
            return json_response(asdict(rule), 201)
        if request.method == "DELETE":
            sandbox.faults.clear()
            return Response(status_code=204)
        return json_response({"rules": [asdict(rule) for rule in sandbox.faults.rules]})

    async def counters(request: Request) -> Response:
        if request.method == "DELETE":
            sandbox.faults.reset_counters()
            return Response(status_code=204)
        return json_response(sandbox.faults.snapshot())

    async def subscription(request: Request) -> Response:
        if request.method == "PUT":
            body = await _object(request)
            types = body.get("eventTypes")
            names = body.get("propertyNames")
            subscription = WebhookSubscription(
                target_url=body["targetUrl"],
                client_secret=body.get("clientSecret", "sandbox-client-secret"),
                app_id=int(body.get("appId", 1_000_001)),
                event_types=frozenset(types) if types is not None else None,
                property_names=frozenset(names) if names is not None else None,
            )
            sandbox.subscribe_webhooks(subscription)
        elif request.method == "DELETE":
            sandbox.subscribe_webhooks(None)
            return Response(status_code=204)
        current = sandbox.webhooks.subscription
        if current is None:
            return json_response({"subscription": None})
        return json_response(
            {"subscription": {"targetUrl": current.target_url, "appId": current.app_id,
                              "eventTypes": sorted(current.event_types) if current.event_types else None,
                              "propertyNames": sorted(current.property_names) if current.property_names else None}}
        )  # fmt: skip

    async def flush(request: Request) -> Response:
        timeout = float(request.query_params.get("timeout", "10"))
        return json_response({"flushed": sandbox.flush_webhooks(timeout)})

    async def expire(request: Request) -> Response:
        sandbox.expire_tokens()
        return Response(status_code=204)

    async def revoke(request: Request) -> Response:
        sandbox.revoke_tokens()
        return Response(status_code=204)

    async def create_property(request: Request) -> Response:
        body = await _object(request)
        prop = sandbox.create_property(
            request.path_params["object_type"], body["name"], label=body.get("label"),
            unique=bool(body.get("hasUniqueValue")), type=body.get("type", "string"),
        )  # fmt: skip
        return json_response(prop, 201)

    objects = PREFIX + "/objects/{object_type}"
    table: list[tuple[str, Any, list[str]]] = [
        ("/credentials", credentials, ["GET"]),
        ("/objects/{object_type}", create, ["POST"]),
        ("/objects/{object_type}/merge", merge, ["POST"]),
        ("/objects/{object_type}/{object_id}", read, ["GET"]),
        ("/objects/{object_type}/{object_id}", update, ["PATCH"]),
        ("/objects/{object_type}/{object_id}", archive, ["DELETE"]),
        ("/objects/{object_type}/{object_id}/restore", restore, ["POST"]),
        ("/associations/{contact_id}/{company_id}", associate, ["PUT", "DELETE"]),
        ("/properties/{object_type}", create_property, ["POST"]),
        ("/faults", faults, ["GET", "POST", "DELETE"]),
        ("/counters", counters, ["GET", "DELETE"]),
        ("/webhooks/subscription", subscription, ["GET", "PUT", "DELETE"]),
        ("/webhooks/flush", flush, ["POST"]),
        ("/tokens/expire", expire, ["POST"]),
        ("/tokens/revoke", revoke, ["POST"]),
    ]
    del objects
    return [
        Route(PREFIX + path, guarded(handler), methods=methods) for path, handler, methods in table
    ]


async def _object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise validation_error("Expected a JSON object.")
    return body
