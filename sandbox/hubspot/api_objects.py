"""CRM v3 object routes for companies and contacts: list, get, create, update, archive,
search and merge, at the paths hubspot-api-client 12 calls (``/crm/v3/objects/...``).

List pages are built from cached per-record JSON fragments joined as bytes, and ``after`` is
a bisect into sorted ids, so paging 25,000 records costs what the socket costs.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.hubspot import bodies
from sandbox.hubspot.api_common import (
    ApiContext,
    bool_param,
    int_param,
    json_response,
    list_param,
    raw_json_response,
    read_body,
)
from sandbox.hubspot.associations import TYPE_IDS, V3_NAMES, kinds_for
from sandbox.hubspot.errors import HubSpotError, not_found, validation_error
from sandbox.hubspot.properties import ALWAYS_RETURNED, DEFAULT_READ_PROPERTIES, OBJECT_TYPE_ALIASES
from sandbox.hubspot.records import Record, dumps
from sandbox.hubspot.sources import API

MAX_PAGE = 100
MAX_PAGE_WITH_HISTORY = 50  # HubSpot's smaller page when property history is asked for


def read_properties(ctx: ApiContext, object_type: str, requested: list[str]) -> tuple[str, ...]:
    if not requested:
        return DEFAULT_READ_PROPERTIES[object_type]
    names = tuple(dict.fromkeys(requested + list(ALWAYS_RETURNED[object_type])))
    return ctx.store.schema.known(object_type, names)


def full_record(record: Record) -> dict[str, Any]:
    """A record with every property it has, as create/update/merge answer."""
    return record.envelope(dict(record.props))


def association_block(
    ctx: ApiContext, object_type: str, record: Record, wanted: list[str]
) -> dict[str, Any]:
    block: dict[str, Any] = {}
    index = ctx.store.associations
    for segment in wanted:
        to_type = OBJECT_TYPE_ALIASES.get(segment)
        if to_type is None or to_type == object_type:
            continue  # HubSpot ignores association types that do not exist
        results = []
        for other_id in index.neighbours(object_type, record.id):
            pair = index.key(object_type, record.id, other_id)
            for kind in sorted(index.kinds(*pair)):
                results.append(
                    {"id": str(other_id), "type": V3_NAMES[(object_type, to_type)][kind]}
                )
        if results:
            block[to_type] = {"results": results}
    return block


def parse_associations(object_type: str, raw: Any) -> list[tuple[str, int, set[str]]]:
    """``associations`` of a create input as (to type, to id, kinds)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation_error("associations must be a list.")
    links = []
    for item in raw:
        try:
            to_id = int(item["to"]["id"])
            type_ids = [int(spec["associationTypeId"]) for spec in item["types"]]
        except (KeyError, TypeError, ValueError):
            raise validation_error(
                "Each association needs to.id and types[].associationTypeId."
            ) from None
        to_type = "companies" if object_type == "contacts" else "contacts"
        kinds = kinds_for(object_type, to_type, type_ids)
        if kinds is None:
            valid = sorted(TYPE_IDS[(object_type, to_type)].values())
            raise validation_error(
                f"Invalid association type ids {type_ids} from {object_type}; valid ids are {valid}."
            )
        links.append((to_type, to_id, kinds))
    return links


async def list_objects(ctx: ApiContext, request: Request, object_type: str) -> Response:
    limit = int_param(request, "limit", 10)
    with_history = list_param(request, "propertiesWithHistory")
    maximum = MAX_PAGE_WITH_HISTORY if with_history else MAX_PAGE
    if not 1 <= limit <= maximum:
        raise validation_error(f"limit must be between 1 and {maximum}; got {limit}.")
    raw_after = request.query_params.get("after")
    after = None
    if raw_after:
        if not (raw_after.isascii() and raw_after.isdigit()):
            raise validation_error(f"Invalid after value {raw_after!r}.")
        after = int(raw_after)
    archived = bool_param(request, "archived")
    names = read_properties(ctx, object_type, list_param(request, "properties"))
    wanted_associations = list_param(request, "associations")
    store = ctx.store
    with store.lock:
        records, next_after = store.tables[object_type].page(after, limit, archived=archived)
        if wanted_associations or with_history:
            parts = []
            for record in records:
                item = record.envelope(record.select(names))
                if with_history:
                    item["propertiesWithHistory"] = record.with_history(with_history)
                block = association_block(ctx, object_type, record, wanted_associations)
                if block:
                    item["associations"] = block
                parts.append(dumps(item))
        else:
            parts = [record.fragment(names) for record in records]
    body = b'{"results":[' + b",".join(parts) + b"]"
    if next_after is not None:
        link = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?after={next_after}"
        body += b',"paging":{"next":' + dumps({"after": str(next_after), "link": link}) + b"}"
    return raw_json_response(body + b"}")


def lookup(
    ctx: ApiContext, request: Request, object_type: str, *, archived: bool = False
) -> Record:
    id_property = request.query_params.get("idProperty")
    if (
        id_property
        and not ctx.store.is_unique_property(object_type, id_property)
        and id_property != "hs_object_id"
    ):
        raise validation_error(
            f"Unable to perform lookup by non-unique {object_type} property {id_property} "
            f"in portal ID {ctx.store.portal_id}"
        )
    record = ctx.store.get(
        object_type, request.path_params["object_id"], archived=archived, id_property=id_property
    )
    if record is None:
        raise not_found()
    return record


async def get_object(ctx: ApiContext, request: Request, object_type: str) -> Response:
    names = read_properties(ctx, object_type, list_param(request, "properties"))
    wanted = list_param(request, "associations")
    with ctx.store.lock:
        record = lookup(ctx, request, object_type, archived=bool_param(request, "archived"))
        body = record.envelope(record.select(names))
        with_history = list_param(request, "propertiesWithHistory")
        if with_history:
            body["propertiesWithHistory"] = record.with_history(with_history)
        if wanted:
            block = association_block(ctx, object_type, record, wanted)
            if block:
                body["associations"] = block
    return json_response(body)


async def create_object(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.OBJECT_CREATE)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object with properties.")
    properties = ctx.store.schema.validate_write(object_type, body.get("properties") or {})
    links = parse_associations(object_type, body.get("associations"))
    record = ctx.store.create(object_type, properties, source=API, associations=links)
    return json_response(full_record(record), 201)


async def update_object(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.OBJECT_UPDATE)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object with properties.")
    properties = ctx.store.schema.validate_write(object_type, body.get("properties") or {})
    with ctx.store.lock:
        record = lookup(ctx, request, object_type)
        ctx.store.update(object_type, record, properties, source=API)
        return json_response(full_record(record))


async def archive_object(ctx: ApiContext, request: Request, object_type: str) -> Response:
    with ctx.store.lock:
        record = ctx.store.get(object_type, request.path_params["object_id"], follow_merges=False)
        if record is not None:
            ctx.store.archive(object_type, record, source=API)
        elif ctx.store.get(object_type, request.path_params["object_id"], archived=True) is None:
            raise not_found()
    return Response(status_code=204)


async def gdpr_delete(ctx: ApiContext, request: Request, object_type: str) -> Response:
    """Permanently delete a contact (crm-contacts-v3 ``PublicGdprDeleteInput``). By email,
    an unknown address is not an error: HubSpot blocklists it instead (not emulated)."""
    if object_type != "contacts":
        raise not_found()  # only contacts have a GDPR delete
    body = await read_body(request, bodies.GDPR_DELETE)
    if body.get("objectId") is None:
        raise validation_error("objectId is required.")
    object_id, id_property = str(body["objectId"]), body.get("idProperty")
    if id_property is not None and not ctx.store.is_unique_property(object_type, str(id_property)):
        raise validation_error(
            f"Unable to perform lookup by non-unique {object_type} property {id_property} "
            f"in portal ID {ctx.store.portal_id}"
        )
    with ctx.store.lock:
        found = [
            ctx.store.get(object_type, object_id, archived=archived, follow_merges=False,
                          id_property=None if id_property is None else str(id_property))
            for archived in (False, True)
        ]  # fmt: skip
        record = found[0] or found[1]
        if record is None:
            if id_property == "email":
                return Response(status_code=204)
            raise not_found()
        ctx.store.purge(object_type, record, source=API)
    return Response(status_code=204)


async def search_objects(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.SEARCH)
    return json_response(ctx.search.search(object_type, body))


async def merge_objects(ctx: ApiContext, request: Request, object_type: str) -> Response:
    body = await read_body(request, bodies.MERGE)
    if (
        not isinstance(body, dict)
        or not body.get("primaryObjectId")
        or not body.get("objectIdToMerge")
    ):
        raise validation_error("primaryObjectId and objectIdToMerge are required.")
    store = ctx.store
    with store.lock:
        primary = store.get(object_type, str(body["primaryObjectId"]), follow_merges=False)
        other = store.get(object_type, str(body["objectIdToMerge"]), follow_merges=False)
        if primary is None or other is None:
            missing = body["primaryObjectId"] if primary is None else body["objectIdToMerge"]
            raise HubSpotError(
                404, f"Object {missing} not found.", category="OBJECT_NOT_FOUND",
                context={"id": [str(missing)]},
            )  # fmt: skip
        return json_response(full_record(store.merge(object_type, primary, other, source=API)))
