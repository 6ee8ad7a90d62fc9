"""CRM v3 batch routes for companies and contacts: read, create, update, upsert, archive.

HubSpot's rules kept here: at most 100 inputs; duplicate ids in one request are a 400;
merged-away ids resolve to the merge's new record on batch read (as on single GET/PATCH) but
not on batch update; batch read answers 207 with ``numErrors``/``errors`` for ids it cannot
find; upsert needs an ``idProperty`` that is a unique property and reports ``new`` per
record. Validation failures reject the
whole batch, except batch create inputs that all carry ``objectWriteTraceId``, which fail
one by one in a 207 as HubSpot documents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.hubspot import bodies
from sandbox.hubspot.api_common import ApiContext, bool_param, json_response, read_body
from sandbox.hubspot.api_objects import full_record, parse_associations, read_properties
from sandbox.hubspot.errors import HubSpotError, batch_error, validation_error
from sandbox.hubspot.records import Record
from sandbox.hubspot.sources import API

MAX_INPUTS = 100
MAX_HISTORY_INPUTS = 50  # a batch read that asks for property history
SINGULAR_UPPER = {"companies": "COMPANY", "contacts": "CONTACT"}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _inputs(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: expected an object with an inputs list.")
    inputs = body["inputs"]
    if len(inputs) > MAX_INPUTS:
        raise validation_error(
            f"Too many inputs: {len(inputs)}. Object API batch endpoints are limited to {MAX_INPUTS} inputs per request."
        )
    return inputs


def _ids(inputs: list[Any]) -> list[str]:
    try:
        ids = [str(item["id"]) for item in inputs]
    except (KeyError, TypeError):
        raise validation_error("Each input needs an id.") from None
    seen: set[str] = set()
    duplicates = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if duplicates:
        raise validation_error(
            f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique"
        )
    return ids


def _batch(
    results: list[dict[str, Any]], started: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _now_iso(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body


def _check_id_property(ctx: ApiContext, object_type: str, id_property: str | None) -> None:
    if (
        id_property
        and id_property != "hs_object_id"
        and not ctx.store.is_unique_property(object_type, id_property)
    ):
        raise validation_error(
            f"Unable to perform update/upsert by non-unique {object_type} property {id_property} "
            f"in portal ID {ctx.store.portal_id}"
        )


def _missing(object_type: str, verb: str, ids: list[str]) -> dict[str, Any]:
    return batch_error(
        "OBJECT_NOT_FOUND",
        f"Could not {verb} some {SINGULAR_UPPER[object_type]} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        {"ids": ids},
    )


async def batch_read(ctx: ApiContext, request: Request, object_type: str) -> Response:
    started = _now_iso()
    body = await read_body(request, bodies.BATCH_READ)
    ids = _ids(_inputs(body))
    id_property = body.get("idProperty")
    _check_id_property(ctx, object_type, id_property)
    names = read_properties(ctx, object_type, [str(n) for n in body.get("properties") or []])
    archived = bool_param(request, "archived")
    with_history = [str(n) for n in body.get("propertiesWithHistory") or []]
    if with_history and len(ids) > MAX_HISTORY_INPUTS:
        raise validation_error(
            "The maximum number of inputs supported in a batch request for property histories "
            f"is {MAX_HISTORY_INPUTS}. Please reduce the number of items and try again"
        )
    results, missing, answered = [], [], set()
    with ctx.store.lock:
        for record_id in ids:
            # An old id of a merge answers the merge's new record (once per response).
            record = ctx.store.get(
                object_type, record_id, archived=archived, id_property=id_property
            )
            if record is None:
                missing.append(record_id)
            elif record.id not in answered:
                answered.add(record.id)
                result = record.envelope(record.select(names))
                if with_history:
                    result["propertiesWithHistory"] = record.with_history(with_history)
                results.append(result)
    errors = [_missing(object_type, "get", missing)] if missing else None
    return json_response(_batch(results, started, errors), 207 if errors else 200)


async def batch_create(ctx: ApiContext, request: Request, object_type: str) -> Response:
    started = _now_iso()
    inputs = _inputs(await read_body(request, bodies.BATCH_CREATE))
    traced = bool(inputs) and all(
        isinstance(i, dict) and i.get("objectWriteTraceId") for i in inputs
    )
    store = ctx.store
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    with store.lock:
        prepared = []
        for item in inputs:
            if not isinstance(item, dict):
                raise validation_error("Each input needs properties.")
            try:
                properties = store.schema.validate_write(object_type, item.get("properties") or {})
                links = parse_associations(object_type, item.get("associations"))
            except HubSpotError as error:
                if not traced:
                    raise
                errors.append(_traced_error(error, item["objectWriteTraceId"]))
                continue
            prepared.append((item, properties, links))
        for item, properties, links in prepared:
            try:
                record = store.create(object_type, properties, source=API, associations=links)
            except HubSpotError as error:
                if not traced:
                    raise  # records created before the failure stay, as on HubSpot
                errors.append(_traced_error(error, item["objectWriteTraceId"]))
                continue
            result = full_record(record)
            if item.get("objectWriteTraceId"):
                result["objectWriteTraceId"] = str(item["objectWriteTraceId"])
            results.append(result)
    return json_response(_batch(results, started, errors), 207 if errors else 201)


def _traced_error(error: HubSpotError, trace_id: Any) -> dict[str, Any]:
    entry = batch_error(error.category, error.message, {"objectWriteTraceId": [str(trace_id)]})
    entry["errors"] = [e for e in error.errors or [] if isinstance(e, dict)]
    return entry


async def batch_update(ctx: ApiContext, request: Request, object_type: str) -> Response:
    started = _now_iso()
    inputs = _inputs(await read_body(request, bodies.BATCH_UPDATE))
    ids = _ids(inputs)
    store = ctx.store
    with store.lock:
        targets: list[tuple[Record, dict[str, str]]] = []
        missing = []
        for record_id, item in zip(ids, inputs, strict=True):
            id_property = item.get("idProperty")
            _check_id_property(ctx, object_type, id_property)
            properties = store.schema.validate_write(object_type, item.get("properties") or {})
            record = store.get(object_type, record_id, follow_merges=False, id_property=id_property)
            if record is None:
                missing.append(record_id)
            else:
                targets.append((record, properties))
        results = []
        for record, properties in targets:
            store.update(object_type, record, properties, source=API)
            results.append(full_record(record))
    errors = [_missing(object_type, "update", missing)] if missing else None
    return json_response(_batch(results, started, errors), 207 if errors else 200)


async def batch_upsert(ctx: ApiContext, request: Request, object_type: str) -> Response:
    started = _now_iso()
    inputs = _inputs(await read_body(request, bodies.BATCH_UPSERT))
    ids = _ids(inputs)
    store = ctx.store
    results = []
    with store.lock:
        plan: list[tuple[str, str, dict[str, str]]] = []
        for record_id, item in zip(ids, inputs, strict=True):
            id_property = item.get("idProperty")
            if not id_property:
                raise validation_error("idProperty is required for upsert.")
            if id_property == "hs_object_id" or not store.is_unique_property(
                object_type, id_property
            ):
                raise validation_error(
                    f"Unable to perform update/upsert by non-unique {object_type} property "
                    f"{id_property} in portal ID {store.portal_id}"
                )
            properties = store.schema.validate_write(object_type, item.get("properties") or {})
            plan.append((record_id, id_property, properties))
        for record_id, id_property, properties in plan:
            record = store.find_unique(object_type, id_property, record_id)
            if record is not None:
                store.update(object_type, record, properties, source=API)
                created = False
            else:
                properties = {**properties, id_property: record_id}
                record = store.create(object_type, properties, source=API)
                created = True
            result = full_record(record)
            result["new"] = created
            results.append(result)
    return json_response(_batch(results, started))


async def batch_archive(ctx: ApiContext, request: Request, object_type: str) -> Response:
    ids = _ids(_inputs(await read_body(request, bodies.BATCH_ARCHIVE)))
    with ctx.store.lock:
        for record_id in ids:
            record = ctx.store.get(object_type, record_id, follow_merges=False)
            if record is not None:
                ctx.store.archive(object_type, record, source=API)
    return Response(status_code=204)
