"""Field maps between the directory and CRM objects, and the engine that applies them.

Maps are data (``mappings/maps/*.yaml``, one per CRM object, overridable per connection);
``loader`` reads and checks them, ``engine`` turns CRM properties into local values and
back, ``merge`` does the three-way merge of one linked record. Everything here is pure
(data in, data out); the only I/O is reading map files. Callers (the worker) fetch
records, apply writes and store the base.

Typical use::

    object_map = load_map("hubspot", "company", override=connection.mapping)
    result = merge(object_map, base=link.base, local=columns, remote=record.properties,
                   local_changed_at=customer.updated_at, remote_modified_at=record.modified_at)
    update_customer(..., local_changes(object_map, result.local_writes, columns))
    push(result.remote_writes); link.base, link.fingerprint = result.base, result.fingerprint
"""

from __future__ import annotations

from mappings.engine import (
    fingerprint,
    is_echo,
    local_changes,
    read_remote,
    remote_fingerprint,
    snapshot,
    to_local,
    to_remote,
)
from mappings.errors import MappingError, RemoteValueError
from mappings.loader import load_map, load_map_file, parse_map, shipped_maps
from mappings.merge import (
    Conflict,
    MergeResult,
    Side,
    conflict_winner,
    merge,
    outbound_changes,
)
from mappings.spec import FieldMap, ObjectMap, Rule, ValueMap

__all__ = [
    "Conflict",
    "FieldMap",
    "MappingError",
    "MergeResult",
    "ObjectMap",
    "RemoteValueError",
    "Rule",
    "Side",
    "ValueMap",
    "conflict_winner",
    "fingerprint",
    "is_echo",
    "load_map",
    "load_map_file",
    "local_changes",
    "merge",
    "outbound_changes",
    "parse_map",
    "read_remote",
    "remote_fingerprint",
    "shipped_maps",
    "snapshot",
    "to_local",
    "to_remote",
]
