"""One CRM record and the table of records of one object type.

A table keeps live and archived ids in sorted lists so a list page is a ``bisect`` and a
slice, never a scan, and remembers where merged-away ids went. Records cache their JSON
fragments per requested property set, because list pages are what clients read most and the
sandbox must never be what a benchmark measures. Locking is the store's job, not this one's.
"""

from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sandbox.hubspot.sources import SEEDED, HistorySource


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot writes timestamps: ``2024-09-11T13:27:39.356Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ms(value: str) -> int | None:
    """A timestamp as HubSpot accepts it (epoch ms, ISO date-time or date) in epoch ms."""
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class HistoryEntry(NamedTuple):
    value: str
    ms: int
    source: HistorySource


@dataclass(slots=True, eq=False)
class Record:
    id: int
    props: dict[str, str]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None
    # What search sees; lags ``props`` when the sandbox simulates index lag.
    indexed: dict[str, str] | None = None
    cache: dict[Any, bytes] = field(default_factory=dict)
    # Property name -> entries, newest first; empty for seeded data, whose only history is
    # its current value.
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)

    @property
    def archived(self) -> bool:
        return self.archived_ms is not None

    def envelope(self, properties: dict[str, str | None]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "properties": properties,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": self.archived,
        }
        if self.archived_ms is not None:
            body["archivedAt"] = iso_ms(self.archived_ms)
        return body

    def select(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """The named properties, null where the record has no value, as HubSpot answers a
        requested property without one (its published schema types values as strings only,
        but its answers carry nulls). ``names`` are properties that exist
        (``PropertySchema.known``)."""
        props = self.props
        return {name: props.get(name) for name in names}

    def record_change(self, name: str, value: str, ms: int, source: HistorySource) -> None:
        entries = self.history.get(name)
        if entries is None:
            entries = self.history[name] = self.seeded_history(name)
        entries.insert(0, HistoryEntry(value, ms, source))

    def seeded_history(self, name: str) -> list[HistoryEntry]:
        value = self.props.get(name)
        return [] if value is None else [HistoryEntry(value, self.created_ms, SEEDED)]

    def with_history(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        """``propertiesWithHistory`` for the given names, newest value first, each entry a
        ``ValueWithTimestamp`` (crm-*-v3 specs): value, timestamp and who made the change."""
        result = {}
        for name in names:
            entries = self.history.get(name) or self.seeded_history(name)
            if entries:
                result[name] = [
                    {"value": entry.value, "timestamp": iso_ms(entry.ms), **entry.source.to_json()}
                    for entry in entries
                ]
        return result

    def fragment(self, names: tuple[str, ...]) -> bytes:
        """This record as JSON with the given properties, cached until the record changes."""
        cached = self.cache.get(names)
        if cached is None:
            cached = dumps(self.envelope(self.select(names)))
            self.cache[names] = cached
        return cached


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class ObjectTable:
    """All records of one object type in one portal."""

    def __init__(self, object_type: str, *, first_id: int, seed: int) -> None:
        self.object_type = object_type
        self.records: dict[int, Record] = {}
        self.live_ids: list[int] = []
        self.archived_ids: list[int] = []
        self.merged_into: dict[int, int] = {}
        # Ids grow, with gaps, as HubSpot's do; a client that assumes "next id = id + 1"
        # breaks here as it would there.
        self._next_id = first_id
        self._gaps = random.Random(seed)

    def new_id(self) -> int:
        record_id = self._next_id
        self._next_id += self._gaps.randint(1, 7)
        return record_id

    def add(self, record: Record) -> None:
        self.records[record.id] = record
        if not self.live_ids or record.id > self.live_ids[-1]:
            self.live_ids.append(record.id)
        else:
            bisect.insort(self.live_ids, record.id)

    def move_to_archive(self, record: Record) -> None:
        _remove_sorted(self.live_ids, record.id)
        bisect.insort(self.archived_ids, record.id)

    def move_to_live(self, record: Record) -> None:
        _remove_sorted(self.archived_ids, record.id)
        bisect.insort(self.live_ids, record.id)

    def forget(self, record: Record, survivor_id: int) -> None:
        """A merged-away record: gone from listings, its id resolves to the survivor."""
        _remove_sorted(self.live_ids, record.id)
        del self.records[record.id]
        self.merged_into[record.id] = survivor_id
        for old, target in list(self.merged_into.items()):
            if target == record.id:
                self.merged_into[old] = survivor_id

    def drop(self, record: Record) -> None:
        """A permanently deleted record: gone from listings, the archive and lookups."""
        _remove_sorted(self.archived_ids if record.archived else self.live_ids, record.id)
        del self.records[record.id]

    def resolve(self, record_id: int, *, follow_merges: bool) -> Record | None:
        record = self.records.get(record_id)
        if record is None and follow_merges and record_id in self.merged_into:
            record = self.records.get(self.merged_into[record_id])
        return record

    def page(
        self, after: int | None, limit: int, *, archived: bool
    ) -> tuple[list[Record], int | None]:
        """Up to ``limit`` records with id >= ``after`` and the ``after`` of the next page."""
        ids = self.archived_ids if archived else self.live_ids
        start = 0 if after is None else bisect.bisect_left(ids, after)
        chunk = ids[start : start + limit + 1]
        next_after = chunk[limit] if len(chunk) > limit else None
        return [self.records[i] for i in chunk[:limit]], next_after

    def live(self) -> list[Record]:
        return [self.records[i] for i in self.live_ids]


def _remove_sorted(ids: list[int], value: int) -> None:
    index = bisect.bisect_left(ids, value)
    if index < len(ids) and ids[index] == value:
        del ids[index]
