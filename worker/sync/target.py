"""What the sync needs to know about one connection, loaded once per job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from sqlalchemy.orm import Session

from connectors.fields import FieldSpec
from customers.errors import NotFound
from customers.fields import CONTACT_LIMITS, CUSTOMER_LIMITS
from customers.sync_state import Connection
from mappings import ObjectMap, Rule, load_map
from mappings.fields import Kind, local_field
from mappings.spec import FieldMap

# CRM object types per provider, parents first: contacts attach to an already synced parent.
# As in connectors.registry.PROVIDERS (a test keeps them equal), without loading the SDKs.
OBJECT_TYPES = {"hubspot": ("company", "contact"), "salesforce": ("account", "contact")}
PARENT_TYPE = {"hubspot": "company", "salesforce": "account"}


# The kind of CRM field a transform writes, when the local field's own kind does not say.
_TRANSFORM_KINDS = {
    "email": Kind.EMAIL,
    "integer": Kind.INTEGER,
    "decimal": Kind.DECIMAL,
    "boolean": Kind.BOOLEAN,
    "list": Kind.LIST,
    "json": Kind.JSON,
}
_LIMITS = {"customer": CUSTOMER_LIMITS, "contact": CONTACT_LIMITS}


def field_spec(object_map: ObjectMap, entry: FieldMap) -> FieldSpec:
    """What the CRM needs to hold one map entry: its name, the kind of value, a label."""
    name = entry.local[0]
    found = local_field(object_map.local_type, name) if len(entry.local) == 1 else None
    if found is not None and found.transform == entry.transform:
        kind, choices, label = found.kind, found.choices, found.label
    else:
        kind, choices = _TRANSFORM_KINDS.get(entry.transform, Kind.TEXT), ()
        label = found.label if found is not None else entry.key.replace("_", " ").capitalize()
    length = entry.max_length or _LIMITS[object_map.local_type].get(name) or 255
    return FieldSpec(
        object_type=object_map.object_type,
        name=entry.remote,
        kind=kind.value,
        label=label,
        choices=choices,
        length=min(length, 255),
    )


def field_specs(maps: Mapping[str, ObjectMap]) -> list[FieldSpec]:
    """Every CRM field the maps sync, for ``ensure_setup`` and ``prepare``."""
    specs: list[FieldSpec] = []
    for object_map in maps.values():
        specs.extend(field_spec(object_map, entry) for entry in object_map.synced)
    return specs


@lru_cache(maxsize=64)
def _load_map(provider: str, object_type: str, override: str | None) -> ObjectMap:
    """Maps are read once per process (every job builds a target)."""
    return load_map(provider, object_type, override=override)


def maps_for(provider: str, mapping: str | None) -> dict[str, ObjectMap]:
    """The maps of every object type of ``provider``, with a connection's map file."""
    return {
        object_type: _load_map(provider, object_type, mapping)
        for object_type in OBJECT_TYPES[provider]
    }


@dataclass(frozen=True)
class SyncTarget:
    connection_id: int
    tenant_id: int
    provider: str
    auto_create: bool
    maps: dict[str, ObjectMap]

    @property
    def object_types(self) -> tuple[str, ...]:
        return OBJECT_TYPES[self.provider]

    @property
    def parent_type(self) -> str:
        return PARENT_TYPE[self.provider]

    def map_for(self, object_type: str) -> ObjectMap:
        return self.maps[object_type]

    @property
    def fields(self) -> list[FieldSpec]:
        return field_specs(self.maps)

    def without(self, unavailable: Mapping[str, frozenset[str]]) -> SyncTarget:
        """This target with the entries of the CRM fields the account lacks turned off
        (``dont_sync``): they are neither read, written nor kept in a base, so a field an
        admin adds later starts as a new field, its blank no clear of the local value."""
        maps = {
            object_type: replace(
                object_map,
                fields=tuple(
                    replace(entry, rule=Rule.DONT_SYNC)
                    if entry.remote in unavailable.get(object_type, frozenset())
                    else entry
                    for entry in object_map.fields
                ),
            )
            for object_type, object_map in self.maps.items()
        }
        return replace(self, maps=maps)

    @classmethod
    def from_connection(cls, connection: Connection) -> SyncTarget:
        maps = maps_for(connection.provider, connection.mapping or None)
        return cls(
            connection_id=connection.id,
            tenant_id=connection.tenant_id,
            provider=connection.provider,
            auto_create=connection.auto_create,
            maps=maps,
        )

    @classmethod
    def load(cls, session: Session, connection_id: int) -> SyncTarget:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise NotFound("connection", connection_id)
        return cls.from_connection(connection)
