"""sObject Collections: create, update, delete, retrieve and upsert up to 200 records in
one call (``/composite/sobjects``).

Every record is checked before any is written, so ``allOrNone: true`` can roll back the
whole call: the failing records carry their own errors and the rest carry
``ALL_OR_NONE_OPERATION_ROLLED_BACK``. Per-record errors use ``statusCode`` (not
``errorCode``), and the call answers 200 whatever happened to the records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ApiError
from .ids import to_18
from .sobjects import external_id_field, record_json
from .store import OrgStore

MAX_RECORDS = 200

_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}

# A planned write: run under the store lock once every record has passed its checks.
PlanResult = tuple[str, list[tuple[str, str, str]]]
Plan = Callable[[], tuple[str, list[tuple[str, str, str]]]]  # -> (id, change events)


def _records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(
            400, "JSON_PARSER_ERROR", "Required field 'records' is missing or not a list"
        )
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    return records, bool(body.get("allOrNone", False))


def _record_type(store: OrgStore, record: Any) -> str:
    attributes = record.get("attributes") if isinstance(record, dict) else None
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if name not in store.schema:
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    return str(name)


def _finish(
    store: OrgStore, outcomes: list[Plan | ApiError], all_or_none: bool, *, upsert: bool = False
) -> list[dict[str, Any]]:
    """Run the plans (or none, if all-or-none failed) and build results in order."""
    failed = any(isinstance(o, ApiError) for o in outcomes)
    results: list[dict[str, Any]] = []
    events = []
    with store.lock:
        for outcome in outcomes:
            if isinstance(outcome, ApiError):
                results.append({"success": False, "errors": [outcome.as_record_error()]})
            elif failed and all_or_none:
                results.append({"success": False, "errors": [dict(_ROLLED_BACK)]})
            else:
                record_id, changes = outcome()
                events.extend(changes)
                result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
                if upsert:
                    result["created"] = changes[0][2] == "created"
                results.append(result)
    store.notify(events)
    return results


def _unique_keys(store: OrgStore, object_name: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    keys = []
    for definition in store.schema[object_name].fields.values():
        if definition.unique:
            value = next((v for k, v in data.items() if k.lower() == definition.name.lower()), None)
            if value not in (None, ""):
                text = str(value)
                keys.append((definition.name, text if definition.case_sensitive else text.lower()))
    return keys


def create(store: OrgStore, body: Any) -> tuple[int, Any]:
    records, all_or_none = _records(body)
    outcomes: list[Plan | ApiError] = []
    seen: set[tuple[str, str, str]] = set()
    with store.lock:
        for record in records:
            try:
                object_name = _record_type(store, record)
                if any(key.lower() == "id" for key in record):
                    raise ApiError(
                        400,
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "cannot specify Id in an insert call",
                    )
                changes = store.prepare(object_name, record, existing=None)
                for field_name, key in _unique_keys(store, object_name, record):
                    if (object_name, field_name, key) in seen:
                        raise ApiError(
                            400, "DUPLICATE_VALUE", f"duplicate value found: {field_name}", []
                        )
                    seen.add((object_name, field_name, key))
            except ApiError as error:
                outcomes.append(error)
                continue

            def plan(
                object_name: str = object_name, changes: dict[str, Any] = changes
            ) -> PlanResult:
                record_id = store.insert(object_name, changes)
                return record_id, [(object_name, record_id, "created")]

            outcomes.append(plan)
        return 200, _finish(store, outcomes, all_or_none)


def update(store: OrgStore, body: Any) -> tuple[int, Any]:
    records, all_or_none = _records(body)
    outcomes: list[Plan | ApiError] = []
    with store.lock:
        for record in records:
            try:
                object_name = _record_type(store, record)
                data = {k: v for k, v in record.items() if k.lower() != "id"}
                raw_id = next((v for k, v in record.items() if k.lower() == "id"), None)
                if not raw_id:
                    raise ApiError(
                        400, "MISSING_ARGUMENT", "Id not specified in an update call", []
                    )
                existing = store.find(object_name, str(raw_id))
                if existing is None:
                    raise ApiError(
                        400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []
                    )
                if existing["IsDeleted"]:
                    raise ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [])
                changes = store.prepare(object_name, data, existing=existing)
            except ApiError as error:
                outcomes.append(error)
                continue

            def plan(
                object_name: str = object_name, record_id: str = existing["Id"],
                changes: dict[str, Any] = changes,
            ) -> PlanResult:  # fmt: skip
                store.apply(object_name, store.records[object_name][record_id], changes)
                return record_id, [(object_name, record_id, "updated")]

            outcomes.append(plan)
        return 200, _finish(store, outcomes, all_or_none)


def delete(store: OrgStore, ids_param: str | None, all_or_none: bool) -> tuple[int, Any]:
    ids = [i for i in (ids_param or "").split(",") if i]
    if len(ids) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    outcomes: list[Plan | ApiError] = []
    with store.lock:
        for raw_id in ids:
            normalized = to_18(raw_id)
            object_name = next(
                (
                    n
                    for n, o in store.schema.items()
                    if normalized and normalized.startswith(o.key_prefix)
                ),
                None,
            )
            record = store.find(object_name, raw_id) if object_name else None
            if object_name is None or record is None:
                outcomes.append(
                    ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
                )
                continue
            if record["IsDeleted"]:
                outcomes.append(ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", []))
                continue

            def plan(object_name: str = object_name, record_id: str = record["Id"]) -> PlanResult:
                current = store.records[object_name][record_id]
                if current["IsDeleted"]:  # the same id twice, or a contact of a deleted account
                    return record_id, []
                return record_id, store.delete_locked(object_name, current)

            outcomes.append(plan)
        results = _finish(store, outcomes, all_or_none)
    return 200, results


def retrieve(
    store: OrgStore, object_name: str, ids_param: str | None, fields_param: str | None, version: str
) -> tuple[int, Any]:
    obj = store.object(object_name)
    if not fields_param:
        raise ApiError(400, "MALFORMED_QUERY", "fields parameter is required")
    fields = []
    for raw in fields_param.split(","):
        definition = obj.field(raw.strip())
        if definition is None:
            raise ApiError(
                400, "INVALID_FIELD", f"No such column '{raw.strip()}' on entity '{obj.name}'"
            )
        fields.append(definition.name)
    ids = [i for i in (ids_param or "").split(",") if i]
    if len(ids) > 2000:
        raise ApiError(
            400, "EXCEEDED_ID_LIMIT", "cannot retrieve more than 2000 records in one call"
        )
    with store.lock:
        found = [store.find(object_name, raw) for raw in ids]
    return 200, [
        record_json(obj, record, version, fields) if record and not record["IsDeleted"] else None
        for record in found
    ]


def upsert(store: OrgStore, object_name: str, field_name: str, body: Any) -> tuple[int, Any]:
    obj = store.object(object_name)
    definition = external_id_field(obj, field_name)
    records, all_or_none = _records(body)
    values = []
    for record in records:
        value = None
        if isinstance(record, dict):
            value = next(
                (v for k, v in record.items() if k.lower() == definition.name.lower()), None
            )
        values.append(None if value is None else str(value).lower())
    outcomes: list[Plan | ApiError] = []
    with store.lock:
        for record, key in zip(records, values, strict=True):
            try:
                if _record_type(store, record) != object_name:
                    raise ApiError(
                        400, "INVALID_TYPE", "All records must be of the sObject type in the URL"
                    )
                if key is None:
                    raise ApiError(400, "MISSING_ARGUMENT", f"{definition.name} not specified", [])
                if values.count(key) > 1:
                    raise ApiError(
                        400, "DUPLICATE_EXTERNAL_ID",
                        f"Duplicate external id specified: {record[definition.name]}", [definition.name],
                    )  # fmt: skip
                if any(k.lower() == "id" for k in record):
                    raise ApiError(
                        400,
                        "INVALID_FIELD",
                        "The Id field should not be specified in the sobject data.",
                        [],
                    )
                matches = store.find_by_external_id(
                    object_name, definition.name, record[definition.name]
                )
                if len(matches) > 1:
                    raise ApiError(
                        300, "DUPLICATE_EXTERNAL_ID",
                        f"{definition.name}: more than one record found for external id field: {matches}",
                        [definition.name],
                    )  # fmt: skip
                existing = store.records[object_name][matches[0]] if matches else None
                changes = store.prepare(object_name, record, existing=existing)
            except ApiError as error:
                outcomes.append(error)
                continue
            outcomes.append(_upsert_plan(store, object_name, existing, changes))
        return 200, _finish(store, outcomes, all_or_none, upsert=True)


def _upsert_plan(
    store: OrgStore, object_name: str, existing: dict[str, Any] | None, changes: dict[str, Any]
) -> Plan:
    def plan() -> PlanResult:
        if existing is None:
            record_id = store.insert(object_name, changes)
            return record_id, [(object_name, record_id, "created")]
        store.apply(object_name, store.records[object_name][existing["Id"]], changes)
        return existing["Id"], [(object_name, existing["Id"], "updated")]

    return plan
