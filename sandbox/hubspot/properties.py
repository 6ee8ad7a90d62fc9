"""The property schema of one portal: HubSpot's default company and contact properties
plus custom properties created through the properties API.

It knows each property's type (what search compares and how), which ones are read-only,
which enumeration values are allowed, and which custom properties carry ``hasUniqueValue``
(the only ones HubSpot accepts as an upsert ``idProperty``), and the property groups they
belong to. Custom properties can be updated (``PropertyUpdate``) and archived; HubSpot's
own have ``readOnlyDefinition`` and cannot. It validates write payloads; it stores no
records.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.hubspot.errors import HubSpotError, already_exists, property_errors, validation_error
from sandbox.hubspot.property_groups import DEFAULT_GROUPS, PropertyGroups
from sandbox.hubspot.records import iso_ms

OBJECT_TYPES = ("companies", "contacts")
OBJECT_TYPE_IDS = {"companies": "0-2", "contacts": "0-1"}
# Path segments HubSpot accepts for the same object type.
OBJECT_TYPE_ALIASES = {
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
}
LAST_MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}

# What list/get/batch read return when no ``properties`` are asked for, and what search
# returns by default (HubSpot's search guide, default-property table).
DEFAULT_READ_PROPERTIES = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
}
DEFAULT_SEARCH_PROPERTIES = {
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "lastmodifieddate",
        "hs_object_id",
        "createdate",
    ),
}
# Always returned, whatever ``properties`` asks for.
ALWAYS_RETURNED = {
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("createdate", "lastmodifieddate", "hs_object_id"),
}
# Free-text ``query`` in search looks at these.
QUERY_PROPERTIES = {
    "companies": ("name", "domain", "website", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
}

# Internal values of HubSpot's company ``industry`` enumeration (a subset of the ~150).
INDUSTRY_VALUES = (
    "ACCOUNTING", "AIRLINES_AVIATION", "APPAREL_FASHION", "ARCHITECTURE_PLANNING", "AUTOMOTIVE",
    "BANKING", "BIOTECHNOLOGY", "BUILDING_MATERIALS", "CHEMICALS", "COMPUTER_HARDWARE",
    "COMPUTER_SOFTWARE", "CONSTRUCTION", "CONSUMER_GOODS", "DEFENSE_SPACE", "EDUCATION_MANAGEMENT",
    "ENTERTAINMENT", "FINANCIAL_SERVICES", "FOOD_BEVERAGES", "FOOD_PRODUCTION",
    "GOVERNMENT_ADMINISTRATION", "HOSPITAL_HEALTH_CARE", "HOSPITALITY", "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE", "INTERNET", "LEGAL_SERVICES", "LOGISTICS_AND_SUPPLY_CHAIN", "MANAGEMENT_CONSULTING",
    "MARKETING_AND_ADVERTISING", "MEDIA_PRODUCTION", "MEDICAL_DEVICES", "PHARMACEUTICALS",
    "REAL_ESTATE", "RETAIL", "TELECOMMUNICATIONS", "TEXTILES", "TRANSPORTATION_TRUCKING_RAILROAD",
    "UTILITIES", "WHOLESALE",
)  # fmt: skip

PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# The properties v3 spec's PropertyCreate.type enum.
PROPERTY_TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")


@dataclass(frozen=True, kw_only=True)
class PropertyOption:
    value: str
    label: str
    description: str = ""
    display_order: int = -1
    hidden: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "description": self.description,
            "displayOrder": self.display_order,
            "hidden": self.hidden,
        }


def _options(values: tuple[str, ...]) -> tuple[PropertyOption, ...]:
    return tuple(
        PropertyOption(value=value, label=_label(value), display_order=index)
        for index, value in enumerate(values)
    )


def _options_from_json(raw: Any) -> tuple[PropertyOption, ...]:
    """``OptionInput`` items (types already checked at the route)."""
    options = []
    for index, item in enumerate(raw or []):
        if item.get("value") is None or item.get("label") is None:
            raise validation_error(f"options[{index}] needs a label and a value.")
        order = item.get("displayOrder")
        options.append(
            PropertyOption(
                value=str(item["value"]),
                label=str(item["label"]),
                description=str(item.get("description") or ""),
                display_order=index if order is None else int(order),
                hidden=item.get("hidden") in (True, "true"),
            )
        )
    return tuple(options)


@dataclass(frozen=True, kw_only=True)
class PropertyDef:
    name: str
    label: str
    type: str = "string"  # string | number | datetime | date | enumeration | bool
    field_type: str = "text"
    group_name: str = "companyinformation"
    description: str = ""
    options: tuple[PropertyOption, ...] = ()
    has_unique_value: bool = False
    read_only: bool = False
    hubspot_defined: bool = True
    display_order: int = -1
    hidden: bool = False
    created_ms: int = 0
    updated_ms: int = 0
    archived_ms: int | None = None

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)

    def to_json(self) -> dict[str, Any]:
        body = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [option.to_json() for option in self.options],
            "displayOrder": self.display_order,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "dataSensitivity": "non_sensitive",
            "archived": self.archived_ms is not None,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(max(self.updated_ms, self.created_ms)),
        }
        if self.archived_ms is not None:
            body["archivedAt"] = iso_ms(self.archived_ms)
        return body


def _label(value: str) -> str:
    return value.replace("_", " ").title()


def _defaults(object_type: str) -> dict[str, PropertyDef]:
    group = DEFAULT_GROUPS[object_type][0]
    text = [
        "address", "city", "state", "zip", "country", "phone", "website", "description",
    ]  # fmt: skip
    if object_type == "companies":
        text += ["name", "domain", "address2", "hs_additional_domains"]
        numbers = ["numberofemployees", "annualrevenue"]
    else:
        text += ["firstname", "lastname", "email", "mobilephone", "jobtitle", "company"]
        numbers = ["associatedcompanyid"]
    defs = [PropertyDef(name=name, label=_label(name), group_name=group) for name in text]
    defs += [
        PropertyDef(
            name=name, label=_label(name), type="number", field_type="number", group_name=group
        )
        for name in numbers
    ]
    defs += [
        PropertyDef(name="hs_object_id", label="Record ID", type="number", field_type="number",
                    group_name=group, read_only=True),
        PropertyDef(name="createdate", label="Create Date", type="datetime", field_type="date",
                    group_name=group),
        PropertyDef(name=LAST_MODIFIED[object_type], label="Last Modified Date", type="datetime",
                    field_type="date", group_name=group, read_only=True),
        PropertyDef(name="hs_merged_object_ids", label="Merged Record IDs", type="enumeration",
                    field_type="checkbox", group_name=group, read_only=True),
    ]  # fmt: skip
    if object_type == "companies":
        defs.append(
            PropertyDef(name="industry", label="Industry", type="enumeration", field_type="select",
                        group_name=group, options=_options(INDUSTRY_VALUES))
        )  # fmt: skip
    return {prop.name: prop for prop in defs}


@dataclass
class PropertySchema:
    """Property definitions per object type; custom ones can be added at run time."""

    by_type: dict[str, dict[str, PropertyDef]] = field(
        default_factory=lambda: {
            object_type: _defaults(object_type) for object_type in OBJECT_TYPES
        }
    )

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.groups = PropertyGroups(OBJECT_TYPES)
        self.archived: dict[str, dict[str, PropertyDef]] = {t: {} for t in OBJECT_TYPES}

    def get(self, object_type: str, name: str, *, archived: bool = False) -> PropertyDef | None:
        return (self.archived if archived else self.by_type)[object_type].get(name)

    def in_group(self, object_type: str, group_name: str) -> bool:
        return any(p.group_name == group_name for p in self.by_type[object_type].values())

    def all(self, object_type: str) -> list[PropertyDef]:
        return list(self.by_type[object_type].values())

    def known(self, object_type: str, names: tuple[str, ...]) -> tuple[str, ...]:
        """The names that are properties of the type: HubSpot leaves out a requested
        property that does not exist, and answers one without a value as null."""
        defined = self.by_type[object_type]
        return tuple(name for name in names if name in defined)

    def unique_names(self, object_type: str) -> list[str]:
        return [p.name for p in self.by_type[object_type].values() if p.has_unique_value]

    def create(self, object_type: str, body: dict[str, Any], now_ms: int) -> PropertyDef:
        missing = [
            key for key in ("name", "label", "type", "fieldType", "groupName") if not body.get(key)
        ]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not PROPERTY_NAME.match(name):
            raise validation_error(
                f"Property name {name!r} is invalid: use lowercase letters, digits and underscores, "
                "starting with a letter."
            )
        if body["type"] not in PROPERTY_TYPES:
            raise validation_error(f"Invalid property type {body['type']!r}.")
        self.groups.require_for_property(object_type, str(body["groupName"]))
        prop = PropertyDef(
            name=name,
            label=str(body["label"]),
            type=str(body["type"]),
            field_type=str(body["fieldType"]),
            group_name=str(body["groupName"]),
            description=str(body.get("description") or ""),
            options=_options_from_json(body.get("options")),
            has_unique_value=body.get("hasUniqueValue") in (True, "true"),
            hubspot_defined=False,
            display_order=-1 if body.get("displayOrder") is None else int(body["displayOrder"]),
            hidden=body.get("hidden") in (True, "true"),
            created_ms=now_ms,
            updated_ms=now_ms,
        )
        with self._lock:
            if name in self.by_type[object_type]:
                raise already_exists("Property", name)
            self.by_type[object_type][name] = prop
        return prop

    def update(self, object_type: str, name: str, body: dict[str, Any], now_ms: int) -> PropertyDef:
        """A partial update (``PropertyUpdate``): the fields given replace the old ones."""
        with self._lock:
            prop = self._custom(object_type, name, "its definition is read only")
            changes: dict[str, Any] = {"updated_ms": now_ms}
            for key, attribute in (("label", "label"), ("fieldType", "field_type"),
                                   ("description", "description")):  # fmt: skip
                if body.get(key) is not None:
                    changes[attribute] = str(body[key])
            if body.get("type") is not None:
                if body["type"] not in PROPERTY_TYPES:
                    raise validation_error(f"Invalid property type {body['type']!r}.")
                changes["type"] = str(body["type"])
            if body.get("groupName") is not None:
                self.groups.require_for_property(object_type, str(body["groupName"]))
                changes["group_name"] = str(body["groupName"])
            if body.get("options") is not None:
                changes["options"] = _options_from_json(body["options"])
            if body.get("displayOrder") is not None:
                changes["display_order"] = int(body["displayOrder"])
            if body.get("hidden") is not None:
                changes["hidden"] = body["hidden"] in (True, "true")
            prop = replace(prop, **changes)
            self.by_type[object_type][name] = prop
            return prop

    def archive(self, object_type: str, name: str, now_ms: int) -> None:
        """Move a custom property to the archive: it can no longer be written or listed."""
        with self._lock:
            prop = self._custom(object_type, name, "it can't be archived")
            del self.by_type[object_type][name]
            self.archived[object_type][name] = replace(prop, archived_ms=now_ms)

    def _custom(self, object_type: str, name: str, refusal: str) -> PropertyDef:
        """A live property a client may change: not HubSpot's own (``refusal`` says why)."""
        prop = self.by_type[object_type].get(name)
        if prop is None:
            raise property_not_found(object_type, name)
        if prop.hubspot_defined:
            raise validation_error(f"{name} is a HubSpot defined property; {refusal}.")
        return prop

    def validate_write(
        self, object_type: str, properties: Any, *, allow_read_only: bool = False
    ) -> dict[str, str]:
        """The payload as HubSpot stores it (every value a string, ``None`` -> ``""``), or a
        400 naming each bad property, as HubSpot reports them all at once."""
        if not isinstance(properties, dict):
            raise validation_error("Invalid input JSON: `properties` must be an object.")
        schema = self.by_type[object_type]
        problems: list[dict[str, str]] = []
        clean: dict[str, str] = {}
        for name, raw in properties.items():
            prop = schema.get(name)
            if prop is None:
                message = f'Property "{name}" does not exist'
                problems.append(
                    {"name": name, "error": "PROPERTY_DOESNT_EXIST", "message": message}
                )
                continue
            if prop.read_only and not allow_read_only:
                message = f"{name} is a read only property; its value cannot be set."
                problems.append({"name": name, "error": "READ_ONLY_VALUE", "message": message})
                continue
            value = "" if raw is None else (str(raw).lower() if isinstance(raw, bool) else str(raw))
            problem = _check_value(prop, value)
            if problem:
                problems.append({"name": name, "error": problem[0], "message": problem[1]})
                continue
            clean[name] = value
        if problems:
            raise property_errors(problems)
        return clean


def _check_value(prop: PropertyDef, value: str) -> tuple[str, str] | None:
    if value == "":
        return None
    if prop.type == "number":
        try:
            float(value)
        except ValueError:
            return "INVALID_LONG" if prop.name.endswith("id") else "INVALID_NUMBER", (
                f"{value} was not a valid number."
            )
    selectable = prop.type == "enumeration" and prop.options and prop.field_type == "select"
    if selectable and value not in prop.option_values:
        shown = ", ".join(prop.option_values[:10])
        return "INVALID_OPTION", f"{value} was not one of the allowed options: [{shown}, ...]"
    return None


def property_not_found(object_type: str, name: str) -> HubSpotError:
    return HubSpotError(
        404,
        f"Unable to find property {name} for object type {object_type}.",
        category="OBJECT_NOT_FOUND",
        context={"propertyName": [name]},
    )
