"""Associations v4 routes between contacts and companies: default and labeled create,
list (paged), delete, and the batch read / associate-default / create / archive /
labels-archive verbs.

Batch read takes up to 1,000 inputs (HubSpot's limit since 2025-02-10) and, like HubSpot,
reports ids without associations as errors in a 207.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.hubspot import bodies
from sandbox.hubspot.api_common import (
    ApiContext,
    int_param,
    json_response,
    object_type_of,
    read_body,
)
from sandbox.hubspot.associations import TYPE_IDS, UNLABELED, kinds_for, specs_json
from sandbox.hubspot.errors import HubSpotError, batch_error, not_found, validation_error
from sandbox.hubspot.properties import OBJECT_TYPE_IDS
from sandbox.hubspot.sources import API

MAX_BATCH_READ = 1_000
MAX_BATCH_WRITE = 2_000
MAX_LIST_PAGE = 500
SINGULAR = {"companies": "company", "contacts": "contact"}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _types(request: Request, from_key: str, to_key: str) -> tuple[str, str]:
    from_type = object_type_of(request.path_params[from_key])
    to_type = object_type_of(request.path_params[to_key])
    if from_type == to_type:
        raise HubSpotError(
            400,
            f"No association types exist between {from_type} and {to_type}.",
            category="VALIDATION_ERROR",
        )
    return from_type, to_type


def _id(raw: Any) -> int:
    try:
        return int(str(raw))
    except ValueError:
        raise not_found() from None


def _live(ctx: ApiContext, object_type: str, object_id: int) -> None:
    record = ctx.store.tables[object_type].resolve(object_id, follow_merges=False)
    if record is None or record.archived:
        raise HubSpotError(
            404, f"No {SINGULAR[object_type]} with id {object_id} exists.", category="OBJECT_NOT_FOUND",
            context={"id": [str(object_id)]},
        )  # fmt: skip


def _default_results(
    from_type: str, to_type: str, from_id: int, to_id: int
) -> list[dict[str, Any]]:
    # HubSpot answers a default association with both directions of the unlabeled type.
    return [
        {"from": {"id": str(a)}, "to": {"id": str(b)},
         "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TYPE_IDS[(t1, t2)][UNLABELED]}}
        for (t1, a), (t2, b) in (((from_type, from_id), (to_type, to_id)), ((to_type, to_id), (from_type, from_id)))
    ]  # fmt: skip


async def create_default(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, to_type = _types(request, "from_type", "to_type")
    from_id, to_id = _id(request.path_params["from_id"]), _id(request.path_params["to_id"])
    with ctx.store.lock:
        _live(ctx, from_type, from_id)
        _live(ctx, to_type, to_id)
        ctx.store.associate(from_type, from_id, to_type, to_id, {UNLABELED}, source=API)
    results = _default_results(from_type, to_type, from_id, to_id)
    return json_response(
        {
            "status": "COMPLETE",
            "results": results,
            "startedAt": _now_iso(),
            "completedAt": _now_iso(),
        }
    )


async def create_labeled(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, to_type = _types(request, "object_type", "to_type")
    from_id, to_id = _id(request.path_params["object_id"]), _id(request.path_params["to_id"])
    specs = await read_body(request, bodies.ASSOCIATION_SPECS)
    if not isinstance(specs, list) or not specs:
        raise validation_error("Expected a non-empty list of association types.")
    try:
        type_ids = [int(spec["associationTypeId"]) for spec in specs]
    except (KeyError, TypeError, ValueError):
        raise validation_error("Each association type needs an associationTypeId.") from None
    kinds = kinds_for(from_type, to_type, type_ids)
    if kinds is None:
        raise validation_error(
            f"Invalid association type ids {type_ids} from {from_type} to {to_type}."
        )
    with ctx.store.lock:
        _live(ctx, from_type, from_id)
        _live(ctx, to_type, to_id)
        all_kinds = ctx.store.associate(from_type, from_id, to_type, to_id, kinds, source=API)
    labels = [
        spec["label"] for spec in specs_json(from_type, to_type, all_kinds) if "label" in spec
    ]
    return json_response(
        {"fromObjectTypeId": OBJECT_TYPE_IDS[from_type], "fromObjectId": str(from_id),
         "toObjectTypeId": OBJECT_TYPE_IDS[to_type], "toObjectId": str(to_id), "labels": labels},
        201,
    )  # fmt: skip


async def archive_pair(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, _to_type = _types(request, "object_type", "to_type")
    from_id, to_id = _id(request.path_params["object_id"]), _id(request.path_params["to_id"])
    ctx.store.disassociate(from_type, from_id, to_id, None, source=API)
    return Response(status_code=204)


def _associated(
    ctx: ApiContext, from_type: str, to_type: str, from_id: int
) -> list[dict[str, Any]]:
    index = ctx.store.associations
    rows = []
    for other in index.neighbours(from_type, from_id):
        target = ctx.store.tables[to_type].records.get(other)
        if target is None or target.archived:
            continue
        kinds = index.kinds(*index.key(from_type, from_id, other))
        rows.append(
            {"toObjectId": str(other), "associationTypes": specs_json(from_type, to_type, kinds)}
        )
    return rows


async def list_associations(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, to_type = _types(request, "object_type", "to_type")
    from_id = _id(request.path_params["object_id"])
    limit = int_param(request, "limit", MAX_LIST_PAGE)
    if not 1 <= limit <= MAX_LIST_PAGE:
        raise validation_error(f"limit must be between 1 and {MAX_LIST_PAGE}; got {limit}.")
    after = int_param(request, "after", 0)
    with ctx.store.lock:
        _live(ctx, from_type, from_id)
        rows = [
            row
            for row in _associated(ctx, from_type, to_type, from_id)
            if int(row["toObjectId"]) >= after
        ]
    body: dict[str, Any] = {"results": rows[:limit]}
    if len(rows) > limit:
        body["paging"] = {"next": {"after": rows[limit]["toObjectId"]}}
    return json_response(body)


def _batch_inputs(body: Any, maximum: int) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: expected an object with an inputs list.")
    if len(body["inputs"]) > maximum:
        raise validation_error(f"Too many inputs: {len(body['inputs'])}; the maximum is {maximum}.")
    return body["inputs"]


async def batch_read(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, to_type = _types(request, "from_type", "to_type")
    started = _now_iso()
    inputs = _batch_inputs(await read_body(request, bodies.V4_READ), MAX_BATCH_READ)
    results, errors = [], []
    with ctx.store.lock:
        for item in inputs:
            raw_id = str(item.get("id")) if isinstance(item, dict) else ""
            rows = (
                _associated(ctx, from_type, to_type, int(raw_id))
                if raw_id.isascii() and raw_id.isdigit()
                else []
            )
            if rows:
                results.append({"from": {"id": raw_id}, "to": rows})
            else:
                errors.append(batch_error(
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {raw_id}.",
                    {"fromObjectId": [raw_id]},
                ))  # fmt: skip
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _now_iso(),
    }
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return json_response(body, 207 if errors else 200)


def _pairs(inputs: list[Any]) -> list[tuple[int, int, Any]]:
    try:
        return [(_id(i["from"]["id"]), _id(i["to"]["id"]), i) for i in inputs]
    except (KeyError, TypeError):
        raise validation_error("Each input needs from.id and to.id.") from None


async def batch_associate_default(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, to_type = _types(request, "from_type", "to_type")
    started = _now_iso()
    pairs = _pairs(_batch_inputs(await read_body(request, bodies.V4_DEFAULT), MAX_BATCH_WRITE))
    results = []
    with ctx.store.lock:
        for from_id, to_id, _item in pairs:
            _live(ctx, from_type, from_id)
            _live(ctx, to_type, to_id)
        for from_id, to_id, _item in pairs:
            ctx.store.associate(from_type, from_id, to_type, to_id, {UNLABELED}, source=API)
            results += _default_results(from_type, to_type, from_id, to_id)
    return json_response(
        {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()}
    )


async def batch_create(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, to_type = _types(request, "from_type", "to_type")
    started = _now_iso()
    pairs = _pairs(_batch_inputs(await read_body(request, bodies.V4_MULTI_POST), MAX_BATCH_WRITE))
    results = []
    with ctx.store.lock:
        for from_id, to_id, item in pairs:
            kinds = _kinds_of(from_type, to_type, item)
            _live(ctx, from_type, from_id)
            _live(ctx, to_type, to_id)
            all_kinds = ctx.store.associate(from_type, from_id, to_type, to_id, kinds, source=API)
            labels = [s["label"] for s in specs_json(from_type, to_type, all_kinds) if "label" in s]
            results.append({"fromObjectTypeId": OBJECT_TYPE_IDS[from_type], "fromObjectId": str(from_id),
                            "toObjectTypeId": OBJECT_TYPE_IDS[to_type], "toObjectId": str(to_id), "labels": labels})  # fmt: skip
    return json_response(
        {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()},
        201,
    )


def _kinds_of(from_type: str, to_type: str, item: dict[str, Any]) -> set[str]:
    type_ids = [int(spec.get("associationTypeId", 0)) for spec in item.get("types") or []]
    kinds = kinds_for(from_type, to_type, type_ids) if type_ids else None
    if kinds is None:
        raise validation_error(
            f"Invalid association type ids {type_ids} from {from_type} to {to_type}."
        )
    return kinds


async def batch_archive_labels(ctx: ApiContext, request: Request, _: str) -> Response:
    """Remove only the given association types of each pair (``BatchInputPublicAssociation
    MultiPost``); removing the unlabeled type removes the association, as it does alone."""
    from_type, to_type = _types(request, "from_type", "to_type")
    pairs = _pairs(_batch_inputs(await read_body(request, bodies.V4_MULTI_POST), MAX_BATCH_WRITE))
    with ctx.store.lock:
        plan = [
            (from_id, to_id, _kinds_of(from_type, to_type, item)) for from_id, to_id, item in pairs
        ]
        for from_id, to_id, kinds in plan:
            ctx.store.disassociate(from_type, from_id, to_id, kinds, source=API)
    return Response(status_code=204)


async def batch_archive(ctx: ApiContext, request: Request, _: str) -> Response:
    from_type, _to_type = _types(request, "from_type", "to_type")
    inputs = _batch_inputs(await read_body(request, bodies.V4_ARCHIVE), MAX_BATCH_WRITE)
    for item in inputs:
        try:
            from_id = _id(item["from"]["id"])
            to_ids = [_id(to["id"]) for to in item["to"]]
        except (KeyError, TypeError):
            raise validation_error("Each input needs from.id and a to list of ids.") from None
        for to_id in to_ids:
            ctx.store.disassociate(from_type, from_id, to_id, None, source=API)
    return Response(status_code=204)
