"""Unique property values of one portal: contact ``email`` and custom properties created
with ``hasUniqueValue``.

Only live records hold a value (an archived contact's email can be used again, as on
HubSpot). A duplicate contact email is HubSpot's 409 CONFLICT ("Contact already exists.
Existing ID: ..."). For a duplicate custom unique value HubSpot's exact answer is not
documented; the sandbox answers 400 VALIDATION_ERROR in HubSpot's property-error format.
The store holds the lock while calling these methods.
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.hubspot.errors import HubSpotError, property_errors
from sandbox.hubspot.records import Record

SINGULAR = {"companies": "company", "contacts": "contact"}


def _key(name: str, value: str) -> str:
    # HubSpot treats email case-insensitively; custom unique values are compared as given.
    return value.lower() if name == "email" else value


class UniqueValues:
    def __init__(self) -> None:
        self._indexes: dict[tuple[str, str], dict[str, int]] = {("contacts", "email"): {}}

    def index(self, object_type: str, name: str) -> dict[str, int]:
        return self._indexes.setdefault((object_type, name), {})

    def holder(self, object_type: str, name: str, value: str) -> int | None:
        index = self._indexes.get((object_type, name))
        return None if index is None else index.get(_key(name, value))

    def add_property(self, object_type: str, name: str, records: Iterable[Record]) -> None:
        index = self.index(object_type, name)
        for record in records:
            if record.props.get(name):
                index[_key(name, record.props[name])] = record.id

    def check(self, object_type: str, properties: dict[str, str], own_id: int | None) -> None:
        """Raise HubSpot's error if a value is held by another live record."""
        for (index_type, name), index in self._indexes.items():
            value = properties.get(name)
            if index_type != object_type or not value:
                continue
            holder = index.get(_key(name, value))
            if holder is None or holder == own_id:
                continue
            if object_type == "contacts" and name == "email":
                raise HubSpotError(
                    409, f"Contact already exists. Existing ID: {holder}", category="CONFLICT"
                )
            message = (
                f"A {SINGULAR[object_type]} with {name} = {value} already exists "
                f"(ID {holder}); {name} must be unique."
            )
            raise property_errors(
                [{"name": name, "error": "INVALID_UNIQUE_VALUE", "message": message}]
            )

    def add(self, object_type: str, record: Record) -> None:
        for (index_type, name), index in self._indexes.items():
            if index_type == object_type and record.props.get(name):
                index[_key(name, record.props[name])] = record.id

    def discard(self, object_type: str, record: Record) -> None:
        for (index_type, name), index in self._indexes.items():
            value = record.props.get(name)
            if index_type == object_type and value and index.get(_key(name, value)) == record.id:
                del index[_key(name, value)]
