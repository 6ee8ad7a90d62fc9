"""CRM search (``POST /crm/v3/objects/{type}/search``) with HubSpot's rules and limits.

Filters within a group are ANDed, groups ORed; at most 5 groups, 6 filters per group and 18
in all; one sort; ``limit`` up to 200; and no paging past the 10,000th result, which is the
limit that makes real syncs slice their scans by ``hs_object_id``. Datetime filters take
epoch milliseconds; numeric properties compare as numbers. Archived records are never found.
A query's matches are cached per store version, so paging through one query costs one scan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sandbox.hubspot.errors import HubSpotError, validation_error
from sandbox.hubspot.properties import (
    ALWAYS_RETURNED,
    DEFAULT_SEARCH_PROPERTIES,
    QUERY_PROPERTIES,
    PropertySchema,
)
from sandbox.hubspot.records import Record, parse_ms
from sandbox.hubspot.store import PortalStore

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000
MAX_QUERY_CHARS = 3_000
OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}  # fmt: skip

Predicate = Callable[[dict[str, str]], bool]


class SearchEngine:
    def __init__(self, store: PortalStore) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], tuple[int, list[Record]]] = {}

    def search(self, object_type: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: the search request must be an object.")
        limit = _int(body.get("limit", DEFAULT_LIMIT), "limit")
        after = _int(body.get("after") or 0, "after")
        if not 0 < limit <= MAX_LIMIT:
            raise validation_error(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.")
        if after < 0:
            raise validation_error("after must not be negative.")
        if after + limit > MAX_RESULTS:
            raise HubSpotError(
                400,
                f"There was a problem with the request. Search results are limited to "
                f"{MAX_RESULTS} total results; requested results {after + 1} to {after + limit}.",
                category="VALIDATION_ERROR",
                errors=[{"message": f"Paging past {MAX_RESULTS} results is not allowed.",
                         "code": "SEARCH_LIMIT_EXCEEDED", "context": {"after": [str(after)]}}],
            )  # fmt: skip
        matches = self._matches(object_type, body)
        names = self.store.schema.known(
            object_type, _properties(object_type, body.get("properties"))
        )
        page = matches[after : after + limit]
        results = [record.envelope(record.select(names)) for record in page]
        response: dict[str, Any] = {"total": len(matches), "results": results}
        if after + limit < len(matches):
            response["paging"] = {"next": {"after": str(after + limit)}}
        return response

    def _matches(self, object_type: str, body: dict[str, Any]) -> list[Record]:
        store = self.store
        store.search_view()
        key = (
            object_type,
            json.dumps(
                [body.get("filterGroups"), body.get("sorts"), body.get("query")],
                sort_keys=True,
                default=str,
            ),
        )
        with store.lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] == store.version:
                return cached[1]
            predicate = _compile_groups(store.schema, object_type, body.get("filterGroups"))
            text = _compile_query(object_type, body.get("query"))
            sort = _compile_sort(store.schema, object_type, body.get("sorts"))
            found = [
                record
                for record in store.tables[object_type].live()
                if record.indexed is not None and predicate(record.indexed) and text(record.indexed)
            ]
            if sort is not None:
                found.sort(key=sort[0], reverse=sort[1])
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = (store.version, found)
            return found


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise validation_error(f"{name} must be an integer; got {value!r}.") from None


def _properties(object_type: str, requested: Any) -> tuple[str, ...]:
    if not requested:
        return DEFAULT_SEARCH_PROPERTIES[object_type]
    names = [str(name) for name in requested]
    return tuple(dict.fromkeys(names + list(ALWAYS_RETURNED[object_type])))


def _compile_groups(schema: PropertySchema, object_type: str, groups: Any) -> Predicate:
    if groups is None or groups == []:
        return lambda props: True
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list.")
    if len(groups) > MAX_GROUPS:
        raise validation_error(
            f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}."
        )
    compiled: list[list[Predicate]] = []
    total = 0
    for group in groups:
        filters = group.get("filters", []) if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error("Each filter group needs a list of filters.")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"Too many filters in a group ({len(filters)}); the maximum is {MAX_FILTERS_PER_GROUP}."
            )
        total += len(filters)
        compiled.append(
            [_or_merged(spec, _compile_filter(schema, object_type, spec)) for spec in filters]
        )
    if total > MAX_FILTERS:
        raise validation_error(
            f"Too many filters ({total}); the maximum is {MAX_FILTERS} in all groups."
        )
    return lambda props: any(all(f(props) for f in group) for group in compiled)


def _or_merged(spec: Any, predicate: Predicate) -> Predicate:
    """An ``hs_object_id`` EQ or IN filter also finds the record an old id was merged into:
    both old ids of a merge resolve to its new record (see ``PortalStore.merge``)."""
    operator = spec.get("operator", "EQ")
    if spec.get("propertyName") != "hs_object_id" or operator not in ("EQ", "IN"):
        return predicate
    wanted = {str(v) for v in (spec["values"] if operator == "IN" else [spec["value"]])}

    def matches(props: dict[str, str]) -> bool:
        merged = props.get("hs_merged_object_ids")
        return predicate(props) or (merged is not None and not wanted.isdisjoint(merged.split(";")))

    return matches


def _compile_filter(schema: PropertySchema, object_type: str, spec: Any) -> Predicate:
    if not isinstance(spec, dict) or "propertyName" not in spec:
        raise validation_error("A filter needs a propertyName and an operator.")
    name, operator = str(spec["propertyName"]), spec.get("operator", "EQ")
    if operator not in OPERATORS:
        raise validation_error(f"Unknown filter operator {operator!r}.")
    prop = schema.get(object_type, name)
    kind = "string" if prop is None else prop.type
    convert = _converter(kind, name)

    if operator == "HAS_PROPERTY":
        return lambda props: bool(props.get(name))
    if operator == "NOT_HAS_PROPERTY":
        return lambda props: not props.get(name)
    if operator in ("IN", "NOT_IN"):
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise validation_error(f"{operator} needs a non-empty list of values.")
        # String values must be lowercase for IN / NOT_IN, as HubSpot documents; record
        # values are lowercased before comparing, so an uppercase filter value never matches.
        if kind == "string":
            wanted = {str(v) for v in values}
        else:
            wanted = {convert(str(v), raw=True) for v in values}
        if operator == "IN":
            return lambda props: name in props and convert(props[name]) in wanted
        return lambda props: name not in props or convert(props[name]) not in wanted
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(spec.get("value", "")).lower().strip("*")
        contains = lambda props: token in props.get(name, "").lower()  # noqa: E731
        return contains if operator == "CONTAINS_TOKEN" else (lambda props: not contains(props))
    if "value" not in spec:
        raise validation_error(f"{operator} needs a value.")
    value = convert(str(spec["value"]), raw=True)
    if operator == "BETWEEN":
        if "highValue" not in spec:
            raise validation_error("BETWEEN needs a value and a highValue.")
        high = convert(str(spec["highValue"]), raw=True)
        return lambda props: name in props and value <= convert(props[name]) <= high
    compare = {
        "EQ": lambda a: a == value,
        "NEQ": lambda a: a != value,
        "LT": lambda a: a < value,
        "LTE": lambda a: a <= value,
        "GT": lambda a: a > value,
        "GTE": lambda a: a >= value,
    }[operator]
    if operator == "NEQ":
        return lambda props: name not in props or compare(convert(props[name]))
    return lambda props: name in props and compare(convert(props[name]))


def _converter(kind: str, name: str) -> Callable[..., Any]:
    """How values of a property compare: datetimes as epoch ms, numbers as numbers, strings
    case-insensitively (enumerations exactly)."""
    if kind in ("datetime", "date"):

        def as_ms(text: str, raw: bool = False) -> float:
            parsed = _ms(text)
            if parsed is None:
                if raw:
                    raise validation_error(
                        f"{text!r} is not a valid date for {name}; use epoch milliseconds."
                    )
                return float("-inf")
            return float(parsed)

        return as_ms
    if kind == "number":

        def as_number(text: str, raw: bool = False) -> float:
            try:
                return float(text)
            except ValueError:
                if raw:
                    raise validation_error(f"{text!r} is not a valid number for {name}.") from None
                return float("-inf")

        return as_number
    if kind == "enumeration":
        return lambda text, raw=False: text
    return lambda text, raw=False: text.lower()


@lru_cache(maxsize=65536)
def _ms(text: str) -> int | None:
    return parse_ms(text)


def _compile_query(object_type: str, query: Any) -> Predicate:
    if not query:
        return lambda props: True
    text = str(query)
    if len(text) > MAX_QUERY_CHARS:
        raise validation_error(f"query is longer than {MAX_QUERY_CHARS} characters.")
    words = text.lower().split()
    fields = QUERY_PROPERTIES[object_type]

    def matches(props: dict[str, str]) -> bool:
        haystack = " ".join(props.get(f, "") for f in fields).lower()
        return all(word in haystack for word in words)

    return matches


def _compile_sort(
    schema: PropertySchema, object_type: str, sorts: Any
) -> tuple[Callable[[Record], Any], bool] | None:
    if not sorts:
        return None  # live() is already in creation (id) order
    if not isinstance(sorts, list):
        raise validation_error("sorts must be a list.")
    if len(sorts) > 1:
        raise validation_error("Only one sort is allowed per search request.")
    sort = sorts[0]
    if isinstance(sort, str):
        descending = sort.startswith("-")
        name = sort.lstrip("-")
    elif isinstance(sort, dict) and sort.get("propertyName"):
        name = str(sort["propertyName"])
        direction = sort.get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error(f"Unknown sort direction {direction!r}.")
        descending = direction == "DESCENDING"
    else:
        raise validation_error("A sort needs a propertyName.")
    prop = schema.get(object_type, name)
    convert = _converter("string" if prop is None else prop.type, name)

    def key(record: Record) -> tuple[int, Any, int]:
        props = record.indexed or {}
        # Records without the value sort last either way; ties break on id.
        if name not in props:
            return (1 if not descending else 0, 0, record.id if not descending else -record.id)
        return (
            0 if not descending else 1,
            convert(props[name]),
            record.id if not descending else -record.id,
        )

    return key, descending
