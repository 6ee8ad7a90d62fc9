"""The JSON shapes of HubSpot's request bodies, and the one check every route runs on a body
before it reads a field, so a wrongly typed field is a 400 naming that field, never a crash.

HubSpot reads request bodies with Jackson, whose defaults the shapes follow: a scalar is
accepted where another scalar is expected (``"id": 12`` reads as the string ``"12"``, an
integer field takes ``"279"``), ``null`` reads as absent, and a container where a scalar is
expected, or a scalar where a container is expected, is "Invalid input JSON" (400
VALIDATION_ERROR). Unknown fields are ignored, as HubSpot ignores them. Shapes check types
only; which fields are required, and what values mean, stays with the routes.

The shapes mirror the request schemas of the specs in ``sandbox/specs/hubspot/`` (named next
to each constant below); they must not be looser than what the routes then index into.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from sandbox.hubspot.errors import HubSpotError, validation_error


class Shape(ABC):
    """What one JSON value must look like."""

    expected = "a value"

    @abstractmethod
    def problem(self, value: Any) -> Mismatch | None:
        """The first mismatch inside ``value``, or None."""


@dataclass(frozen=True)
class Mismatch:
    path: str  # e.g. ".inputs[0].idProperty", relative to the value checked
    expected: str
    found: Any

    def under(self, prefix: str) -> Mismatch:
        return Mismatch(prefix + self.path, self.expected, self.found)


@dataclass(frozen=True)
class Text(Shape):
    """A string field: any JSON scalar (Jackson coerces numbers and booleans to strings)."""

    expected = "a string"

    def problem(self, value: Any) -> Mismatch | None:
        return Mismatch("", self.expected, value) if isinstance(value, (list, dict)) else None


INT32 = range(-(2**31), 2**31)  # every integer in HubSpot's request schemas is an int32


@dataclass(frozen=True)
class Integer(Shape):
    """An int32 field: a JSON integer, or a string of digits, in range."""

    expected = "a 32-bit integer"

    def problem(self, value: Any) -> Mismatch | None:
        number = _as_int(value)
        if number is None or number not in INT32:
            return Mismatch("", self.expected, value)
        return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = value.strip() if isinstance(value, str) else ""
    digits = text[1:] if text.startswith("-") else text
    return int(text) if digits.isascii() and digits.isdigit() else None


@dataclass(frozen=True)
class Boolean(Shape):
    expected = "a boolean"

    def problem(self, value: Any) -> Mismatch | None:
        if isinstance(value, bool) or value in ("true", "false"):
            return None
        return Mismatch("", self.expected, value)


@dataclass(frozen=True)
class ListOf(Shape):
    item: Shape
    expected = "an array"

    def problem(self, value: Any) -> Mismatch | None:
        if not isinstance(value, list):
            return Mismatch("", self.expected, value)
        for index, item in enumerate(value):
            # A null inside a list is never meaningful to HubSpot's readers; reject it.
            found = (
                self.item.problem(item)
                if item is not None
                else Mismatch("", self.item.expected, None)
            )
            if found is not None:
                return found.under(f"[{index}]")
        return None


@dataclass(frozen=True)
class MapOf(Shape):
    """A JSON object with free keys, e.g. ``properties: {name: value}``."""

    values: Shape
    expected = "an object"

    def problem(self, value: Any) -> Mismatch | None:
        if not isinstance(value, dict):
            return Mismatch("", self.expected, value)
        for key, item in value.items():
            found = _problem(self.values, item)
            if found is not None:
                return found.under(f".{key}")
        return None


@dataclass(frozen=True)
class Obj(Shape):
    """A JSON object with known fields; others are ignored."""

    fields: dict[str, Shape] = field(default_factory=dict)
    expected = "an object"

    def problem(self, value: Any) -> Mismatch | None:
        if not isinstance(value, dict):
            return Mismatch("", self.expected, value)
        for name, shape in self.fields.items():
            found = _problem(shape, value.get(name))
            if found is not None:
                return found.under(f".{name}")
        return None


@dataclass(frozen=True)
class OneOf(Shape):
    """Either shape (the first that fits); e.g. a sort given as ``"-name"`` or an object."""

    choices: tuple[Shape, ...]

    @property
    def expected(self) -> str:  # type: ignore[override]
        return " or ".join(choice.expected for choice in self.choices)

    def problem(self, value: Any) -> Mismatch | None:
        if any(_problem(choice, value) is None for choice in self.choices):
            return None
        return Mismatch("", self.expected, value)


def _problem(shape: Shape, value: Any) -> Mismatch | None:
    return None if value is None else shape.problem(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check(body: Any, shape: Shape) -> Any:
    """``body`` unchanged if it has ``shape``; else HubSpot's 400 naming the bad field."""
    found = shape.problem(body)
    if found is None:
        return body
    name = found.path.lstrip(".") or "the request body"
    message = f"Invalid input JSON: {name} must be {found.expected}, not {_kind(found.found)}."
    error: HubSpotError = validation_error(
        message, [{"message": message, "in": name, "code": "INVALID_TYPE"}]
    )
    raise error


# ---- the shapes of HubSpot's request bodies ------------------------------------------------

ID = Text()
STRINGS = ListOf(Text())
PROPERTY_VALUES = MapOf(Text())
OBJECT_ID = Obj({"id": ID})  # PublicObjectId / SimplePublicObjectId
ASSOCIATION_SPEC = Obj({"associationCategory": Text(), "associationTypeId": Integer()})
ASSOCIATION_SPECS = ListOf(ASSOCIATION_SPEC)

# crm-{companies,contacts}-v3: SimplePublicObjectInputForCreate, SimplePublicObjectInput.
OBJECT_CREATE = Obj(
    {
        "properties": PROPERTY_VALUES,
        "associations": ListOf(Obj({"to": OBJECT_ID, "types": ASSOCIATION_SPECS})),
        "objectWriteTraceId": Text(),
    }
)
OBJECT_UPDATE = Obj({"properties": PROPERTY_VALUES, "objectWriteTraceId": Text()})
# PublicMergeInput; PublicGdprDeleteInput.
MERGE = Obj({"primaryObjectId": ID, "objectIdToMerge": ID})
GDPR_DELETE = Obj({"objectId": ID, "idProperty": Text()})
# PublicObjectSearchRequest (sorts: the SDK sends objects, HubSpot also takes "-name").
FILTER = Obj(
    {
        "propertyName": Text(),
        "operator": Text(),
        "value": Text(),
        "highValue": Text(),
        "values": STRINGS,
    }
)
SEARCH = Obj(
    {
        "filterGroups": ListOf(Obj({"filters": ListOf(FILTER)})),
        "sorts": ListOf(OneOf((Text(), Obj({"propertyName": Text(), "direction": Text()})))),
        "properties": STRINGS,
        "query": Text(),
        "limit": Integer(),
        "after": Integer(),
    }
)
# BatchReadInputSimplePublicObjectId, BatchInputSimplePublicObjectBatchInputForCreate,
# BatchInputSimplePublicObjectBatchInput, BatchInputSimplePublicObjectBatchInputUpsert,
# BatchInputSimplePublicObjectId.
BATCH_READ = Obj(
    {
        "inputs": ListOf(OBJECT_ID),
        "properties": STRINGS,
        "propertiesWithHistory": STRINGS,
        "idProperty": Text(),
    }
)
BATCH_CREATE = Obj({"inputs": ListOf(OBJECT_CREATE)})
BATCH_UPDATE = Obj(
    {
        "inputs": ListOf(
            Obj(
                {
                    "id": ID,
                    "idProperty": Text(),
                    "properties": PROPERTY_VALUES,
                    "objectWriteTraceId": Text(),
                }
            )
        )
    }
)
BATCH_UPSERT = BATCH_UPDATE
BATCH_ARCHIVE = Obj({"inputs": ListOf(OBJECT_ID)})

# crm-associations-v4: the body of a labeled create (a list of AssociationSpec),
# BatchInputPublicFetchAssociationsBatchRequest, BatchInputPublicDefaultAssociationMultiPost,
# BatchInputPublicAssociationMultiPost (create and labels/archive),
# BatchInputPublicAssociationMultiArchive.
V4_READ = Obj({"inputs": ListOf(Obj({"id": ID, "after": Text()}))})
V4_DEFAULT = Obj({"inputs": ListOf(Obj({"from": OBJECT_ID, "to": OBJECT_ID}))})
V4_MULTI_POST = Obj(
    {"inputs": ListOf(Obj({"from": OBJECT_ID, "to": OBJECT_ID, "types": ASSOCIATION_SPECS}))}
)
V4_ARCHIVE = Obj({"inputs": ListOf(Obj({"from": OBJECT_ID, "to": ListOf(OBJECT_ID)}))})

# crm-properties-v3: PropertyCreate, PropertyUpdate, BatchReadInputPropertyName,
# BatchInputPropertyCreate, BatchInputPropertyName, PropertyGroupCreate, PropertyGroupUpdate.
OPTION = Obj(
    {
        "label": Text(),
        "value": Text(),
        "description": Text(),
        "displayOrder": Integer(),
        "hidden": Boolean(),
    }
)
_PROPERTY_FIELDS: dict[str, Shape] = {
    "name": Text(),
    "label": Text(),
    "type": Text(),
    "fieldType": Text(),
    "groupName": Text(),
    "description": Text(),
    "options": ListOf(OPTION),
    "displayOrder": Integer(),
    "hasUniqueValue": Boolean(),
    "hidden": Boolean(),
    "formField": Boolean(),
    "externalOptions": Boolean(),
    "calculationFormula": Text(),
    "referencedObjectType": Text(),
    "dataSensitivity": Text(),
}
PROPERTY_CREATE = Obj(_PROPERTY_FIELDS)
PROPERTY_UPDATE = Obj(
    {key: shape for key, shape in _PROPERTY_FIELDS.items() if key not in ("name", "hasUniqueValue")}
)
PROPERTY_BATCH_READ = Obj(
    {"inputs": ListOf(Obj({"name": Text()})), "archived": Boolean(), "dataSensitivity": Text()}
)
PROPERTY_BATCH_CREATE = Obj({"inputs": ListOf(PROPERTY_CREATE)})
PROPERTY_BATCH_ARCHIVE = Obj({"inputs": ListOf(Obj({"name": Text()}))})
GROUP_CREATE = Obj({"name": Text(), "label": Text(), "displayOrder": Integer()})
GROUP_UPDATE = Obj({"label": Text(), "displayOrder": Integer()})
