"""What the sync needs to know about one connection, loaded once per job."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import Session

from customers.errors import NotFound
from customers.sync_state import Connection
from mappings import ObjectMap, load_map

# CRM object types per provider, parents first: contacts attach to an already synced parent.
OBJECT_TYPES = {"hubspot": ("company", "contact"), "salesforce": ("account", "contact")}
PARENT_TYPE = {"hubspot": "company", "salesforce": "account"}


@lru_cache(maxsize=64)
def _load_map(provider: str, object_type: str, override: str | None) -> ObjectMap:
    """Maps are read once per process (every job builds a target)."""
    return load_map(provider, object_type, override=override)


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

    @classmethod
    def from_connection(cls, connection: Connection) -> SyncTarget:
        maps = {
            object_type: _load_map(connection.provider, object_type, connection.mapping or None)
            for object_type in OBJECT_TYPES[connection.provider]
        }
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
