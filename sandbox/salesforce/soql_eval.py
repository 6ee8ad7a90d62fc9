"""Resolve a parsed SOQL query against the schema and compile it to Python.

The WHERE clause becomes one predicate closure per query, so a 25,000-row scan costs a
function call per row and no interpretation. Semantics follow SOQL where it differs from
SQL: text comparisons ignore case, ``!=`` and ``NOT IN`` match null values, ids match in
their 15- or 18-character form, and the type of every literal must fit its field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .ids import to_18
from .schema import FieldDef, ObjectDef
from .soql_parser import BoolOp, Comparison, Expr, FieldRef, Literal, Not, Query, soql_error

Predicate = Callable[[dict[str, Any]], bool]

MAX_OFFSET = 2000

_NO_SUCH_FIELD = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom "
    "field, be sure to append the '__c' after the custom field name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
_NO_SUCH_OBJECT = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, "
    "be sure to append the '__c' after the entity name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)

# Which literal kinds each field type accepts, and how the error names the type.
_ACCEPTS = {
    "boolean": ("boolean", "boolean"),
    "int": ("number", "number"),
    "double": ("number", "number"),
    "currency": ("number", "number"),
    "datetime": ("datetime", "dateTime"),
    "date": ("date", "date"),
}


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool
    nulls_first: bool
    text: bool


@dataclass(frozen=True)
class CompiledQuery:
    object_name: str
    fields: tuple[str, ...]
    count: bool
    predicate: Predicate | None
    sort: tuple[SortKey, ...]
    limit: int | None
    offset: int


def compile_query(query: Query, schema: dict[str, ObjectDef]) -> CompiledQuery:
    obj = next((o for name, o in schema.items() if name.lower() == query.object_name.lower()), None)
    if obj is None:
        raise soql_error(
            "INVALID_TYPE",
            query.text,
            query.object_pos,
            _NO_SUCH_OBJECT.format(name=query.object_name),
        )
    fields: list[str] = []
    for ref in query.fields:
        definition = _resolve(query, obj, ref)
        if definition.name in fields:
            raise soql_error(
                "MALFORMED_QUERY", query.text, ref.pos, f"duplicate field selected: {ref.name}"
            )
        fields.append(definition.name)
    predicate = _compile(query, obj, query.where) if query.where is not None else None
    sort = []
    for item in query.order_by:
        definition = _resolve(query, obj, item.field)
        if not definition.sortable:
            raise soql_error(
                "INVALID_FIELD",
                query.text,
                item.field.pos,
                f"field '{definition.name}' can not be sorted in a query call",
            )
        nulls_first = (not item.descending) if item.nulls_first is None else item.nulls_first
        sort.append(SortKey(definition.name, item.descending, nulls_first, definition.is_text))
    offset = query.offset or 0
    if offset > MAX_OFFSET:
        raise ApiError(
            400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
        )
    return CompiledQuery(
        obj.name, tuple(fields), query.count, predicate, tuple(sort), query.limit, offset
    )


def _resolve(query: Query, obj: ObjectDef, ref: FieldRef) -> FieldDef:
    definition = obj.field(ref.name)
    if definition is None:
        raise soql_error(
            "INVALID_FIELD",
            query.text,
            ref.pos,
            _NO_SUCH_FIELD.format(name=ref.name, entity=obj.name),
        )
    return definition


def _compile(query: Query, obj: ObjectDef, expr: Expr) -> Predicate:
    if isinstance(expr, Not):
        inner = _compile(query, obj, expr.item)
        return lambda record: not inner(record)
    if isinstance(expr, BoolOp):
        parts = tuple(_compile(query, obj, item) for item in expr.items)
        if expr.op == "AND":
            return lambda record: all(part(record) for part in parts)
        return lambda record: any(part(record) for part in parts)
    return _comparison(query, obj, expr)


def _normalize(query: Query, definition: FieldDef, literal: Literal) -> Any:
    """The literal as the stored value it compares with, or a type error."""
    if literal.kind == "null":
        return None
    if definition.is_text:
        if literal.kind != "string":
            raise soql_error(
                "INVALID_QUERY_FILTER_OPERATOR",
                query.text,
                literal.pos,
                f"value of filter criterion for field '{definition.name}' must be of type "
                f"string and should be enclosed in quotes",
            )
        if definition.type in ("id", "reference"):
            normalized = to_18(literal.value)
            if normalized is None:
                raise soql_error(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    query.text,
                    literal.pos,
                    f"invalid ID field: {literal.value}",
                )
            return normalized
        return literal.value.lower()
    expected, type_name = _ACCEPTS[definition.type]
    if literal.kind != expected:
        quoting = "should not be enclosed in quotes" if literal.kind == "string" else ""
        raise soql_error(
            "INVALID_QUERY_FILTER_OPERATOR",
            query.text,
            literal.pos,
            f"value of filter criterion for field '{definition.name}' must be of type "
            f"{type_name} {quoting}".rstrip(),
        )
    return literal.value


def _comparison(query: Query, obj: ObjectDef, comparison: Comparison) -> Predicate:
    definition = _resolve(query, obj, comparison.field)
    if not definition.filterable:
        raise soql_error(
            "INVALID_FIELD",
            query.text,
            comparison.field.pos,
            f"field '{definition.name}' can not be filtered in query call",
        )
    name = definition.name
    # Ids compare exactly (after 15 -> 18 normalization); other text ignores case.
    fold = definition.is_text and definition.type not in ("id", "reference")
    op = comparison.op
    if op in ("IN", "NOT IN"):
        assert isinstance(comparison.value, tuple)
        members = frozenset(_normalize(query, definition, lit) for lit in comparison.value)
        if fold:

            def member(r: dict[str, Any]) -> bool:
                value = r[name]
                return (value.lower() if value is not None else None) in members
        else:

            def member(r: dict[str, Any]) -> bool:
                return r[name] in members

        if op == "IN":
            return member
        return lambda record: not member(record)
    assert isinstance(comparison.value, Literal)
    literal = comparison.value
    if op == "LIKE":
        if not definition.is_text or literal.kind != "string":
            raise soql_error(
                "INVALID_QUERY_FILTER_OPERATOR",
                query.text,
                literal.pos,
                f"invalid operator on {definition.type} field: LIKE"
                if not definition.is_text
                else "LIKE requires a quoted string",
            )
        matcher = re.compile(literal.like or "", re.IGNORECASE | re.DOTALL).fullmatch
        return lambda r: r[name] is not None and matcher(r[name]) is not None
    target = _normalize(query, definition, literal)
    if target is None:
        if op == "=":
            return lambda r: r[name] is None
        if op == "!=":
            return lambda r: r[name] is not None
        return lambda r: False
    if definition.type == "boolean" and op not in ("=", "!="):
        raise soql_error(
            "INVALID_QUERY_FILTER_OPERATOR",
            query.text,
            literal.pos,
            f"invalid operator on boolean field: {op}",
        )
    compare = _OPERATORS[op]
    if fold:
        if op == "!=":
            return lambda r: r[name] is None or r[name].lower() != target
        return lambda r: r[name] is not None and compare(r[name].lower(), target)
    if op == "!=":
        return lambda r: r[name] != target
    return lambda r: r[name] is not None and compare(r[name], target)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def sort_rows(rows: list[dict[str, Any]], keys: tuple[SortKey, ...]) -> list[dict[str, Any]]:
    """ORDER BY with several keys: stable sorts from the last key to the first."""
    for key in reversed(keys):
        # With reverse=True Python flips the null rank too, so pick it per direction.
        null_rank = 0 if key.nulls_first != key.descending else 2
        name = key.field

        def sort_key(r: dict[str, Any], name: str = name, null_rank: int = null_rank) -> Any:
            value = r[name]
            if value is None:
                return (null_rank, "")
            return (1, value.lower() if isinstance(value, str) else value)

        rows.sort(key=sort_key, reverse=key.descending)
    return rows
