"""The rules a record must pass before it is written: known, writable fields of the
right type, required fields, lookups that point at live records of the right object, and
unique values.

Errors are the ones Salesforce gives, each naming its fields. The store calls these under
its lock; they read the store but never change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .ids import to_18
from .schema import FieldDef
from .values import coerce

if TYPE_CHECKING:
    from .store import OrgStore, Record

_FIELD_SECURITY = (
    "Please check the security settings of this field and verify that it is read/write for "
    "your profile or permission set."
)


def prepare(
    store: OrgStore, object_name: str, body: Mapping[str, Any], *, existing: Record | None
) -> dict[str, Any]:
    """Check a JSON body for create (``existing`` None) or update; return the changes."""
    obj = store.schema[object_name]
    changes: dict[str, Any] = {}
    readonly: list[str] = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        definition = obj.field(key)
        if definition is None:
            raise ApiError(
                400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}"
            )
        allowed = definition.createable if existing is None else definition.updateable
        if not allowed:
            readonly.append(definition.name)
            continue
        changes[definition.name] = coerce(
            definition, raw, restricted_picklists=store.restricted_picklists
        )
    if readonly:
        raise ApiError(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(readonly)}. {_FIELD_SECURITY}",
            readonly,
        )
    merged = {**(existing or {}), **changes}
    missing = [
        f.name
        for f in obj.fields.values()
        if not f.nillable and f.createable and f.name != "OwnerId" and merged.get(f.name) is None
    ]
    if missing:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )
    for name, value in changes.items():
        definition = obj.fields[name]
        if definition.type == "reference" and value is not None:
            changes[name] = check_reference(store, definition, value)
        if definition.unique and value is not None:
            check_unique(store, object_name, definition, value, existing)
    return changes


def check_reference(store: OrgStore, definition: FieldDef, value: str) -> str:
    normalized = to_18(value)
    if normalized is None:
        raise ApiError(
            400,
            "MALFORMED_ID",
            f"{definition.label}: id value of incorrect type: {value}",
            [definition.name],
        )
    if definition.reference_to == ("User",):
        return normalized
    target = definition.reference_to[0]
    if not normalized.startswith(store.schema[target].key_prefix):
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"{definition.label}: id value of incorrect type: {value}",
            [definition.name],
        )
    record = store.records[target].get(normalized)
    if record is None:
        raise ApiError(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            [definition.name],
        )
    if record["IsDeleted"]:
        raise ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [definition.name])
    return normalized


def check_unique(
    store: OrgStore, object_name: str, definition: FieldDef, value: Any, existing: Record | None
) -> None:
    holder = store.unique_index[(object_name, definition.name)].get(
        store.unique_key(definition, value)
    )
    if holder is not None and (existing is None or holder != existing["Id"]):
        raise ApiError(
            400,
            "DUPLICATE_VALUE",
            f"duplicate value found: {definition.name} duplicates value on record with "
            f"id: {holder}",
            [],
        )


# --- writes ----------------------------------------------------------------------
