"""Run SOQL against the store and page the results with query locators.

A query is evaluated once: the rows are projected and serialized to JSON fragments up
front and kept under a query locator (``01g...``), so every later batch is a slice and a
join (the sandbox must never be what a benchmark measures) and a locator is a true
snapshot, as Salesforce's cursors are. Like Salesforce, an org keeps at most
:data:`MAX_OPEN_LOCATORS` cursors (opening another closes the oldest) and forgets one
after :data:`LOCATOR_IDLE_S` of disuse.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .ids import IdFactory, format_datetime
from .soql_eval import Column, CompiledQuery, compile_query, sort_rows
from .soql_parser import parse
from .store import OrgStore

DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_BATCH_SIZE = 2000
MAX_OPEN_LOCATORS = 10
LOCATOR_IDLE_S = 15 * 60
FRAGMENT_CACHE_SHAPES = 8  # distinct SELECT lists whose serialized rows are kept

_BATCH_SIZE_RE = re.compile(r"batchSize\s*=\s*(-?\d+)", re.IGNORECASE)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def batch_size_from_header(header: str | None) -> int | None:
    """``Sforce-Query-Options: batchSize=N``, clamped to 200..2000 as Salesforce does."""
    if not header:
        return None
    match = _BATCH_SIZE_RE.search(header)
    if not match:
        return None
    return max(MIN_BATCH_SIZE, min(MAX_BATCH_SIZE, int(match.group(1))))


@dataclass
class Locator:
    id: str
    version: str
    fragments: list[bytes]
    batch_size: int
    last_used: float


def _converter(field_type: str) -> Callable[[Any], Any] | None:
    if field_type == "datetime":
        return lambda v: None if v is None else format_datetime(v)
    if field_type == "date":
        return lambda v: None if v is None else v.isoformat()
    return None


class QueryEngine:
    """Parses, runs and pages queries for one org."""

    def __init__(self, store: OrgStore, ids: IdFactory) -> None:
        self.store = store
        self.ids = ids
        self._locators: OrderedDict[str, Locator] = OrderedDict()
        # (object, fields, version) -> record id -> (record it was made from, JSON)
        self._fragment_cache: dict[tuple[str, tuple[str, ...], str], dict[str, tuple[Any, bytes]]]
        self._fragment_cache = {}
        self._lock = threading.Lock()

    def compile(self, soql: str) -> CompiledQuery:
        return compile_query(parse(soql), self.store.schema, self.store.records)

    def rows(self, compiled: CompiledQuery, *, include_deleted: bool) -> list[dict[str, Any]]:
        rows = self.store.snapshot(compiled.object_name)
        predicate = compiled.predicate
        if not include_deleted:
            rows = [r for r in rows if not r["IsDeleted"]]
        if predicate is not None:
            rows = [r for r in rows if predicate(r)]
        if compiled.sort:
            rows = sort_rows(rows, compiled.sort)
        end = None if compiled.limit is None else compiled.offset + compiled.limit
        if compiled.offset or end is not None:
            rows = rows[compiled.offset : end]
        return rows

    def _serialize(
        self, compiled: CompiledQuery, rows: list[dict[str, Any]], version: str
    ) -> list[bytes]:
        """One JSON fragment per row, reusing fragments of rows unchanged since last time.

        Records are replaced, never mutated, on change, so "the same dict object" means
        "unchanged": a repeated scan (a sync's poll) re-serializes only what changed.
        Rows with parent fields depend on another record too, so they are not reused.
        """
        obj = self.store.schema[compiled.object_name]
        columns = compiled.columns
        reusable = not any(c.relationship for c in columns)
        cache: dict[str, tuple[Any, bytes]] = {}
        if reusable:
            key = (obj.name, tuple(c.key for c in columns), version)
            with self._lock:
                cache = self._fragment_cache.pop(key, {})
                self._fragment_cache[key] = cache  # most recently used last
                while len(self._fragment_cache) > FRAGMENT_CACHE_SHAPES:
                    self._fragment_cache.pop(next(iter(self._fragment_cache)))
        plain = [(c.definition.name, _converter(c.definition.type)) for c in columns]
        prefix = (
            f'{{"attributes":{{"type":"{obj.name}","url":'
            f'"/services/data/v{version}/sobjects/{obj.name}/'
        )
        fragments = []
        for row in rows:
            cached = cache.get(row["Id"])
            if cached is not None and cached[0] is row:
                fragments.append(cached[1])
                continue
            if reusable:
                values = {
                    name: (convert(row[name]) if convert else row[name]) for name, convert in plain
                }
            else:
                values = _with_parents(columns, row, version)
            body = _encode(values)
            # Attributes come first, as Salesforce orders them, without a second dict.
            head = f'{prefix}{row["Id"]}"}}'
            fragment = (head + ("," + body[1:] if len(body) > 2 else "}")).encode()
            if reusable:
                cache[row["Id"]] = (row, fragment)
            fragments.append(fragment)
        return fragments

    def start(
        self, soql: str, *, include_deleted: bool, version: str, batch_size: int | None
    ) -> bytes:
        compiled = self.compile(soql)
        rows = self.rows(compiled, include_deleted=include_deleted)
        if compiled.count:
            return _encode({"totalSize": len(rows), "done": True, "records": []}).encode()
        fragments = self._serialize(compiled, rows, version)
        size = batch_size or DEFAULT_BATCH_SIZE
        if len(fragments) <= size:
            return _page(len(fragments), True, None, fragments)
        locator = Locator(self.ids.new("QueryLocator"), version, fragments, size, time.monotonic())
        with self._lock:
            self._expire()
            self._locators[locator.id] = locator
            while len(self._locators) > MAX_OPEN_LOCATORS:
                self._locators.popitem(last=False)
        return self._slice(locator, 0, size)

    def more(self, token: str, *, batch_size: int | None) -> bytes:
        """The batch named by ``01g...-N`` (N = index of its first record)."""
        locator_id, _, start_text = token.partition("-")
        with self._lock:
            self._expire()
            locator = self._locators.get(locator_id)
            if locator is not None:
                locator.last_used = time.monotonic()
                self._locators.move_to_end(locator_id)
        if locator is None or not start_text.isdigit() or int(start_text) > len(locator.fragments):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._slice(locator, int(start_text), batch_size or locator.batch_size)

    def _slice(self, locator: Locator, start: int, size: int) -> bytes:
        end = start + size
        total = len(locator.fragments)
        done = end >= total
        next_url = None if done else f"/services/data/v{locator.version}/query/{locator.id}-{end}"
        return _page(total, done, next_url, locator.fragments[start:end])

    def _expire(self) -> None:
        cutoff = time.monotonic() - LOCATOR_IDLE_S
        for locator_id in [k for k, v in self._locators.items() if v.last_used < cutoff]:
            del self._locators[locator_id]


def _with_parents(columns: tuple[Column, ...], row: dict[str, Any], version: str) -> dict[str, Any]:
    """Values of a row where parent fields nest under their relationship, as Salesforce
    renders them: ``"Account": {"attributes": {...}, "Name": ...}`` or ``"Account": null``."""
    values: dict[str, Any] = {}
    for column in columns:
        definition = column.definition
        convert = _converter(definition.type)
        value = column.get(row)
        value = convert(value) if convert else value
        if column.relationship is None:
            values[definition.name] = value
            continue
        reference_id = row[column.reference] if column.reference else None
        if reference_id is None:
            values[column.relationship] = None
            continue
        nested = values.setdefault(
            column.relationship,
            {
                "attributes": {
                    "type": column.parent_object,
                    "url": f"/services/data/v{version}/sobjects/{column.parent_object}/{reference_id}",
                }
            },
        )
        nested[definition.name] = value
    return values


def _page(total: int, done: bool, next_url: str | None, fragments: list[bytes]) -> bytes:
    head = f'{{"totalSize":{total},"done":{"true" if done else "false"},'
    if next_url:
        head += f'"nextRecordsUrl":"{next_url}",'
    return head.encode() + b'"records":[' + b",".join(fragments) + b"]}"
