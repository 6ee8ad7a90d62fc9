"""Small helpers shared by the mappings tests: build maps in memory, apply merge results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.engine import local_changes
from mappings.merge import MergeResult
from mappings.spec import ObjectMap


def apply(
    object_map: ObjectMap,
    result: MergeResult,
    local: Mapping[str, Any],
    remote: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Local columns and CRM properties after the caller applied ``result``."""
    new_local = {**local, **local_changes(object_map, result.local_writes, local)}
    new_remote = {**remote, **result.remote_writes}
    return new_local, new_remote
