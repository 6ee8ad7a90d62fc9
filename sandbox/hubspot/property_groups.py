"""Property groups of one portal (``/crm/v3/properties/{objectType}/groups``): every
property belongs to one, and HubSpot refuses a property whose group does not exist.

Each object type starts with its HubSpot-defined information group, which cannot be
archived. Shapes follow the properties v3 spec's ``PropertyGroup``,
``PropertyGroupCreate`` and ``PropertyGroupUpdate``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from typing import Any

from sandbox.hubspot.errors import HubSpotError, already_exists, validation_error

GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DEFAULT_GROUPS = {
    "companies": ("companyinformation", "Company information"),
    "contacts": ("contactinformation", "Contact information"),
}


@dataclass(frozen=True, kw_only=True)
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1
    hubspot_defined: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": False,
        }


def group_not_found(object_type: str, name: str) -> HubSpotError:
    return HubSpotError(
        404,
        f"Unable to find property group {name} for object type {object_type}.",
        category="OBJECT_NOT_FOUND",
        context={"groupName": [name]},
    )


class PropertyGroups:
    def __init__(self, object_types: tuple[str, ...]) -> None:
        self._lock = threading.Lock()
        self.by_type: dict[str, dict[str, PropertyGroup]] = {
            object_type: {
                DEFAULT_GROUPS[object_type][0]: PropertyGroup(
                    name=DEFAULT_GROUPS[object_type][0],
                    label=DEFAULT_GROUPS[object_type][1],
                    display_order=0,
                    hubspot_defined=True,
                )
            }
            for object_type in object_types
        }

    def all(self, object_type: str) -> list[PropertyGroup]:
        return list(self.by_type[object_type].values())

    def get(self, object_type: str, name: str) -> PropertyGroup | None:
        return self.by_type[object_type].get(name)

    def require(self, object_type: str, name: str) -> PropertyGroup:
        group = self.get(object_type, name)
        if group is None:
            raise group_not_found(object_type, name)
        return group

    def require_for_property(self, object_type: str, name: str) -> None:
        """A property may only be put in a group that exists (HubSpot refuses others)."""
        if self.get(object_type, name) is None:
            raise validation_error(
                f"Property group {name} does not exist for object type {object_type}.",
                [{"message": f"Property group {name} does not exist.", "in": "groupName",
                  "code": "PROPERTY_GROUP_DOESNT_EXIST"}],
            )  # fmt: skip

    def create(self, object_type: str, body: dict[str, Any]) -> PropertyGroup:
        missing = [key for key in ("name", "label") if not body.get(key)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not GROUP_NAME.match(name):
            raise validation_error(
                f"Property group name {name!r} is invalid: use lowercase letters, digits and "
                "underscores, starting with a letter."
            )
        order = body.get("displayOrder")
        group = PropertyGroup(
            name=name, label=str(body["label"]), display_order=-1 if order is None else int(order)
        )
        with self._lock:
            if name in self.by_type[object_type]:
                raise already_exists("Property group", name)
            self.by_type[object_type][name] = group
        return group

    def update(self, object_type: str, name: str, body: dict[str, Any]) -> PropertyGroup:
        with self._lock:
            group = self.require(object_type, name)
            changes: dict[str, Any] = {}
            if body.get("label") is not None:
                changes["label"] = str(body["label"])
            if body.get("displayOrder") is not None:
                changes["display_order"] = int(body["displayOrder"])
            group = replace(group, **changes)
            self.by_type[object_type][name] = group
            return group

    def archive(self, object_type: str, name: str, *, in_use: bool) -> None:
        with self._lock:
            group = self.require(object_type, name)
            if group.hubspot_defined:
                raise validation_error(
                    f"The HubSpot defined property group {name} can't be archived."
                )
            if in_use:
                raise validation_error(
                    f"Property group {name} still holds properties; move or archive them first."
                )
            del self.by_type[object_type][name]
