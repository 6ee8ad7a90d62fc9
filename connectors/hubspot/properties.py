"""HubSpot property setup: crmsync's property group, the unique property that holds our id,
and the properties the field map uses.

``ensure_setup`` (run by ``crmsync connect``) creates what is missing, in crmsync's property
group, and is idempotent: a second run finds everything and creates nothing. A property that
exists with a type that cannot hold the value is reported, never changed: it may hold data
or be used by a workflow. ``available`` lists the properties once per
:data:`RECHECK_S` (one call per object type) so a sync reads and writes only those that
exist. What a list found is kept compact (the properties asked about, with their type),
in the caller's :data:`connectors.fields.FieldLists` when it gives one: a worker gives
every connector it builds for a connection the same. Calls go through
:class:`connectors.hubspot.api.HubSpotApi`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.errors import NotFound, Permanent
from connectors.fields import (
    FieldLists,
    FieldProblem,
    FieldReport,
    FieldSpec,
    Found,
    by_object,
    kept_or_read,
)
from connectors.hubspot.api import PROVIDER, HubSpotApi
from connectors.hubspot.records import OBJECT_TYPES, SEGMENTS

# crmsync's own properties sit in a property group of their own on each object type.
PROPERTY_GROUP = {"name": "crmsync", "label": "crmsync", "displayOrder": -1}
RECHECK_S = 900.0  # how long a sync trusts the property list it read

# How a value of each kind is created: (type, fieldType).
CREATE_AS = {
    "text": ("string", "text"),
    "email": ("string", "text"),
    "integer": ("number", "number"),
    "decimal": ("number", "number"),
    "percent": ("number", "number"),
    "boolean": ("bool", "booleancheckbox"),
    "choice": ("enumeration", "select"),
    "list": ("string", "textarea"),
    "json": ("string", "textarea"),
}
# The types an existing property may have and still hold a value of the kind.
HOLDS = {
    "text": {"string", "enumeration", "phone_number"},
    "email": {"string"},
    "integer": {"number"},
    "decimal": {"number"},
    "percent": {"number"},
    "boolean": {"bool", "enumeration", "string"},
    "choice": {"enumeration", "string"},
    "list": {"string", "enumeration"},
    "json": {"string"},
}
_BOOLEAN_OPTIONS = [
    {"label": "Yes", "value": "true", "displayOrder": 0},
    {"label": "No", "value": "false", "displayOrder": 1},
]


def property_body(spec: FieldSpec) -> dict[str, Any]:
    """The PropertyCreate body for a field of the map."""
    kind, field_type = CREATE_AS.get(spec.kind, CREATE_AS["text"])
    body: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label or spec.name,
        "description": "Synced with the customer directory by crmsync.",
        "type": kind,
        "fieldType": field_type,
        "groupName": PROPERTY_GROUP["name"],
    }
    if spec.kind == "boolean":
        body["options"] = _BOOLEAN_OPTIONS
    elif spec.kind == "choice":
        body["options"] = [
            {"label": choice.replace("_", " ").capitalize(), "value": choice, "displayOrder": i}
            for i, choice in enumerate(spec.choices)
        ]
    return body


def _needed(spec: FieldSpec) -> str:
    kind, field_type = CREATE_AS.get(spec.kind, CREATE_AS["text"])
    choices = f" with options {', '.join(spec.choices)}" if spec.choices else ""
    return f"a {kind} property ({field_type}){choices}"


class HubSpotProperties:
    def __init__(
        self, *, api: HubSpotApi, id_property: str, kept: FieldLists | None = None
    ) -> None:
        self.api = api
        self.id_property = id_property
        self._listed: FieldLists = {} if kept is None else kept

    def ensure_setup(self, fields: Sequence[FieldSpec]) -> FieldReport:
        """Create the group, our id property and the map's missing properties."""
        created: list[str] = []
        problems: list[FieldProblem] = []
        wanted = by_object(fields)
        for object_type in OBJECT_TYPES:
            segment = SEGMENTS[object_type]
            self._ensure_group(segment)
            specs = wanted.get(object_type, [])
            existing = self._list(segment, [spec.name for spec in specs], fresh=True)
            self._ensure_id_property(segment, existing.get(self.id_property))
            for spec in specs:
                found = existing.get(spec.name)
                if found is None:
                    body = property_body(spec)
                    self.api.call(
                        "properties.create",
                        lambda api, o, s=segment, b=body: api.sdk("crm.properties.core_api").create(
                            s, b, **o
                        ),
                    )
                    created.append(f"{segment}.{spec.name}")
                elif (problem := _problem(spec, found)) is not None:
                    problems.append(problem)
            self._listed.pop(segment, None)  # what was made is listed at the next read
        return FieldReport(created=tuple(created), problems=tuple(problems))

    def available(self, fields: Sequence[FieldSpec]) -> FieldReport:
        """The map's properties this portal lacks or cannot hold the value in (creates
        nothing). The property list is read again after :data:`RECHECK_S`."""
        problems: list[FieldProblem] = []
        for object_type, specs in by_object(fields).items():
            existing = self._list(SEGMENTS[object_type], [spec.name for spec in specs], fresh=False)
            for spec in specs:
                found = existing.get(spec.name)
                if found is None:
                    problems.append(
                        FieldProblem(object_type, SEGMENTS[object_type], spec.name, _needed(spec))
                    )
                elif (problem := _problem(spec, found)) is not None:
                    problems.append(problem)
        return FieldReport(problems=tuple(problems))

    def _list(self, segment: str, names: Sequence[str], *, fresh: bool) -> Found:
        """The properties of ``segment`` among ``names`` (and our id property), by name, with
        their ``type`` and ``hasUniqueValue``; listed again when the kept list is older
        than :data:`RECHECK_S`, did not ask about one of ``names``, or ``fresh`` is set."""

        def read(asked: frozenset[str]) -> Found:
            data = self.api.call(
                "properties.list",
                lambda api, o: api.sdk("crm.properties.core_api").get_all(segment, **o),
            ).data
            return {
                name: {"type": item.get("type"), "hasUniqueValue": bool(item.get("hasUniqueValue"))}
                for item in (data or {}).get("results") or []
                if (name := item.get("name")) in asked
            }

        asked = frozenset((*names, self.id_property))
        return kept_or_read(self._listed, segment, asked, read, fresh=fresh, max_age_s=RECHECK_S)

    def _ensure_id_property(self, segment: str, found: Mapping[str, Any] | None) -> None:
        name = self.id_property
        if found is None:
            body = {
                "name": name,
                "label": "crmsync id",
                "description": "The customer directory's id for this record (set by crmsync).",
                "type": "string",
                "fieldType": "text",
                "groupName": PROPERTY_GROUP["name"],
                "hasUniqueValue": True,
            }
            self.api.call(
                "properties.create",
                lambda api, o, s=segment, b=body: api.sdk("crm.properties.core_api").create(
                    s, b, **o
                ),
            )
        elif not found.get("hasUniqueValue"):
            raise Permanent(
                f"HubSpot {segment} property {name!r} exists but is not unique "
                "(hasUniqueValue); upserts need a unique property. Rename the option "
                "id_property or replace the property.",
                provider=PROVIDER,
                code="ID_PROPERTY_NOT_UNIQUE",
            )

    def _ensure_group(self, segment: str) -> None:
        groups = "crm.properties.groups_api"
        try:
            self.api.call(
                "properties.groups.get",
                lambda api, o: api.sdk(groups).get_by_name(segment, PROPERTY_GROUP["name"], **o),
            )
        except NotFound:
            self.api.call(
                "properties.groups.create",
                lambda api, o: api.sdk(groups).create(segment, dict(PROPERTY_GROUP), **o),
            )


def _problem(spec: FieldSpec, found: Mapping[str, Any]) -> FieldProblem | None:
    kind = str(found.get("type") or "")
    if kind in HOLDS.get(spec.kind, HOLDS["text"]):
        return None
    segment = SEGMENTS[spec.object_type]
    return FieldProblem(spec.object_type, segment, spec.name, _needed(spec), found=kind)
