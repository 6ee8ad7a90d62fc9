"""Single-record sObject resources: get, create, update, delete, get and upsert by
external id.

Each function takes the store and the request's parts and returns ``(status, body)``;
HTTP concerns (auth, limits, faults, headers) live in :mod:`sandbox.salesforce.rest`.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, not_found
from .schema import FieldDef, ObjectDef
from .store import OrgStore, Record
from .values import to_json

# Upsert answers 200 with a body for an update from API 46.0 on, 204 before.
UPSERT_BODY_SINCE = 46.0


def record_url(object_name: str, record_id: str, version: str) -> str:
    return f"/services/data/v{version}/sobjects/{object_name}/{record_id}"


def record_json(
    obj: ObjectDef, record: Record, version: str, fields: Iterable[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(obj.name, record["Id"], version)}
    }
    for name in fields if fields is not None else obj.fields:
        body[name] = to_json(record[name])
    return body


def _field_list(obj: ObjectDef, fields_param: str | None) -> list[str] | None:
    if not fields_param:
        return None
    names = []
    for raw in fields_param.split(","):
        definition = obj.field(raw.strip())
        if definition is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{raw.strip()}' on sobject of type {obj.name}",
            )
        names.append(definition.name)
    return names


def require_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of SObject from START_ARRAY value or request may be "
            "missing a required field",
        )
    return body


def get(
    store: OrgStore, object_name: str, record_id: str, version: str, fields_param: str | None
) -> tuple[int, Any]:
    obj = store.object(object_name)
    fields = _field_list(obj, fields_param)
    with store.lock:
        record = store.get_live(object_name, record_id)
    return 200, record_json(obj, record, version, fields)


def create(store: OrgStore, object_name: str, body: Any) -> tuple[int, Any]:
    record_id = store.create(object_name, require_object(body))
    return 201, {"id": record_id, "success": True, "errors": []}


def update(
    store: OrgStore,
    object_name: str,
    record_id: str,
    body: Any,
    if_unmodified_since: str | None = None,
) -> tuple[int, Any]:
    data = dict(require_object(body))
    sent_id = data.pop("Id", None)
    if sent_id is not None and sent_id not in (record_id, record_id[:15]):
        raise ApiError(
            400, "INVALID_FIELD", "The Id field should not be specified in the sobject data."
        )
    since = None if if_unmodified_since is None else http_date(if_unmodified_since)
    store.update(object_name, record_id, data, unmodified_since=since)
    return 204, None


def http_date(value: str) -> datetime:
    """An ``If-Unmodified-Since`` value; one that is not an HTTP date is a 400, as
    Salesforce answers an invalid conditional header on a PATCH."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(
            400, "INVALID_HEADER_VALUE", f"If-Unmodified-Since is not an HTTP date: {value!r}"
        )
    return moment.astimezone(UTC)


def delete(store: OrgStore, object_name: str, record_id: str) -> tuple[int, Any]:
    store.delete(object_name, record_id)
    return 204, None


def delete_by_external_id(
    store: OrgStore, object_name: str, field_name: str, value: str, version: str
) -> tuple[int, Any]:
    definition = external_id_field(store.object(object_name), field_name)
    with store.lock:
        ids = store.find_by_external_id(object_name, definition.name, value)
        if len(ids) > 1:
            raise _multiple(object_name, ids, version)
        if not ids:
            raise not_found()
    store.delete(object_name, ids[0])
    return 204, None


def external_id_field(obj: ObjectDef, name: str) -> FieldDef:
    definition = obj.field(name)
    if definition is None or not (definition.external_id or definition.name == "Id"):
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {name}",
        )
    return definition


def _multiple(object_name: str, ids: list[str], version: str) -> ApiError:
    return ApiError(
        300,
        "MULTIPLE_CHOICES",
        "more than one record found for external id",
        body=[record_url(object_name, record_id, version) for record_id in ids],
    )


def get_by_external_id(
    store: OrgStore,
    object_name: str,
    field_name: str,
    value: str,
    version: str,
    fields_param: str | None,
) -> tuple[int, Any]:
    obj = store.object(object_name)
    definition = external_id_field(obj, field_name)
    fields = _field_list(obj, fields_param)
    with store.lock:
        ids = store.find_by_external_id(object_name, definition.name, value)
        if len(ids) > 1:
            raise _multiple(object_name, ids, version)
        if not ids:
            raise not_found()
        record = store.records[object_name][ids[0]]
    return 200, record_json(obj, record, version, fields)


def upsert(
    store: OrgStore,
    object_name: str,
    field_name: str,
    value: str,
    body: Any,
    version: str,
    *,
    update_only: bool = False,
) -> tuple[int, Any]:
    """Upsert by external id; ``update_only`` (``?updateOnly=true``) refuses to create."""
    obj = store.object(object_name)
    definition = external_id_field(obj, field_name)
    data = require_object(body)
    if update_only:
        with store.lock:
            if not store.find_by_external_id(object_name, definition.name, value):
                raise not_found()
    for key in data:
        if key.lower() == "id":
            raise ApiError(
                400, "INVALID_FIELD", "The Id field should not be specified in the sobject data."
            )
        if key.lower() == definition.name.lower():
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Unable to create/update fields: {definition.name}. The external ID field "
                "used in the URL must not be specified in the request body.",
                [definition.name],
            )
    try:
        record_id, created = store.upsert(object_name, definition.name, value, data)
    except ApiError as error:
        if error.status == 300:
            raise _multiple(object_name, error.body(), version) from None
        raise
    if not created and float(version) < UPSERT_BODY_SINCE:
        return 204, None
    return (201 if created else 200), {
        "id": record_id,
        "success": True,
        "errors": [],
        "created": created,
    }
