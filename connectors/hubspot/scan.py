"""Incremental HubSpot scans: every record modified since a cursor, exactly once per pass,
whatever HubSpot's search limits.

Search pages by offset and refuses offsets past 10,000, and an offset shifts under a scan
when a record it already passed is edited (the record moves to the end, the rest move up
one, and one is skipped). So each call here is its own slice: ``modified >= T`` sorted
ascending, no offset, 200 results, where T is the newest modification time seen so far.
Records at exactly T that were already returned are excluded by id (``hs_object_id NOT_IN``,
while they are few) or dropped on read; ties are broken on (modified, id). If a whole page shares one timestamp (a bulk import can stamp
thousands of records with the same millisecond), that timestamp is drained on its own,
``modified == T and hs_object_id > last`` sorted by id, before moving past it.

The cursor (an opaque dict) is saved by the caller after each page:
``{"since_ms": T, "seen": [ids at T], "tie_after": id | None, "done": bool}``. A finished pass
starts the next one ``overlap`` earlier, because search indexing lags writes.
This module makes no calls itself: it is handed a ``search`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from connectors.base import Cursor, Page, RemoteRecord
from connectors.hubspot.records import MODIFIED_PROPERTY, modified_ms

SEARCH_LIMIT = 200  # HubSpot's maximum per search call
# Ids already returned at the bound are excluded in the query while they are few (one
# NOT_IN filter), so a call returns 200 new records; past this many they are dropped on read.
NOT_IN_MAX = 100
# Records per yielded page: contacts gather five search calls so that one v4 association
# read (up to 1,000 ids) serves them all.
PAGE_RECORDS = {"company": SEARCH_LIMIT, "contact": 5 * SEARCH_LIMIT}

Search = Callable[[dict[str, Any]], dict[str, Any]]
Convert = Callable[[str, list[dict[str, Any]]], list[RemoteRecord]]


class IncrementalScan:
    def __init__(
        self,
        *,
        object_type: str,
        search: Search,
        properties: list[str],
        overlap_ms: int,
    ) -> None:
        self.object_type = object_type
        self.search = search
        self.properties = properties
        self.overlap_ms = overlap_ms
        self.modified = MODIFIED_PROPERTY[object_type]
        self.page_records = PAGE_RECORDS[object_type]

    def start(self, cursor: Cursor | None) -> tuple[int, set[str], str | None]:
        """(lower bound ms, ids at the bound already returned, tie position)."""
        if not cursor:
            return 0, set(), None
        if cursor.get("done") or cursor.get("mode") == "full":
            since = cursor.get("since_ms", cursor.get("started_ms"))
            if since is None:
                return 0, set(), None
            return max(int(since) - self.overlap_ms, 0), set(), None
        return int(cursor["since_ms"]), set(cursor.get("seen") or ()), cursor.get("tie_after")

    def pages(self, cursor: Cursor | None, convert: Convert) -> Iterator[Page]:
        lower, seen, tie_after = self.start(cursor)
        buffer: list[dict[str, Any]] = []

        def page(done: bool = False) -> Page:
            records = convert(self.object_type, buffer) if buffer else []
            buffer.clear()
            state = {
                "v": 1,
                "mode": "incremental",
                "since_ms": lower,
                "done": done,
                "seen": sorted(seen),
                "tie_after": tie_after,
            }
            return Page(records, state, done)

        while True:
            if tie_after is not None:
                results = self._query(
                    [_filter(self.modified, "EQ", lower), _filter("hs_object_id", "GT", tie_after)],
                    sort="hs_object_id",
                )
                buffer.extend(r for r in results if str(r["id"]) not in seen)
                if len(results) == SEARCH_LIMIT:
                    tie_after = str(results[-1]["id"])
                else:
                    lower, seen, tie_after = lower + 1, set(), None
                if len(buffer) >= self.page_records:
                    yield page()
                continue
            results = self._query(*self._slice(lower, seen), sort=self.modified)
            stamps = [modified_ms(self.object_type, raw) for raw in results]
            if len(results) == SEARCH_LIMIT and all(s == lower for s in stamps):
                tie_after = "0"  # a whole page at one timestamp: drain it by id
                continue
            buffer.extend(
                raw
                for raw, s in zip(results, stamps, strict=True)
                if not (s == lower and str(raw["id"]) in seen)
            )
            if results:
                top = max(stamps)
                at_top = {
                    str(raw["id"]) for raw, s in zip(results, stamps, strict=True) if s == top
                }
                seen = at_top | seen if top == lower else at_top
                lower = top
            if len(results) < SEARCH_LIMIT:
                yield page(done=True)
                return
            if len(buffer) >= self.page_records:
                yield page()

    def _slice(self, lower: int, seen: set[str]) -> list[list[dict[str, Any]]]:
        """Filter groups (ORed) for everything from ``lower`` on that was not returned yet."""
        if not seen or len(seen) > NOT_IN_MAX:
            return [[_filter(self.modified, "GTE", lower)]]
        excluded = {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": sorted(seen)}
        return [
            [_filter(self.modified, "EQ", lower), excluded],
            [_filter(self.modified, "GT", lower)],
        ]

    def _query(self, *groups: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
        body = {
            "filterGroups": [{"filters": filters} for filters in groups],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self.properties,
            "limit": SEARCH_LIMIT,
        }
        return list(self.search(body).get("results") or [])


def _filter(name: str, operator: str, value: int | str) -> dict[str, str]:
    return {"propertyName": name, "operator": operator, "value": str(value)}
