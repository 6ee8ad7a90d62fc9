"""Resolve a parsed SOQL query against the schema and compile it to Python.

The WHERE clause becomes one predicate closure per query, so a 25,000-row scan costs a
function call per row and no interpretation. Semantics follow SOQL where it differs from
SQL: text comparisons ignore case, ``!=`` and ``NOT IN`` match null values, ids match in
their 15- or 18-character form, and the type of every literal must fit its field.

Parent fields one relationship up (``Account.CrmsyncId__c`` from Contact,
``Parent.Name`` from Account) can be selected, filtered and sorted on; they are read
from the parent record at query time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .errors import ApiError
from .ids import to_18
from .schema import FieldDef, ObjectDef
from .soql_parser import BoolOp, Comparison, Expr, FieldRef, Literal, Not, Query, soql_error

Predicate = Callable[[dict[str, Any]], bool]
Getter = Callable[[dict[str, Any]], Any]
# object name -> id -> record: where parent fields are read from
Parents = Mapping[str, Mapping[str, dict[str, Any]]]

MAX_OFFSET = 2000

_NO_SUCH_FIELD = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom "
    "field, be sure to append the '__c' after the custom field name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a "
    "custom relationship, be sure to append the '__r' after the custom relationship name. "
    "Please reference your WSDL or the describe call for the appropriate names."
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
    "percent": ("number", "number"),
    "datetime": ("datetime", "dateTime"),
    "date": ("date", "date"),
}


@dataclass(frozen=True)
class Column:
    """A field of the queried object, or of its parent one relationship up."""

    definition: FieldDef
    get: Getter
    relationship: str | None = None  # e.g. "Account" for Account.Name on Contact
    parent_object: str | None = None
    reference: str | None = None  # the lookup field that holds the parent's id

    @property
    def key(self) -> str:
        name = self.definition.name
        return f"{self.relationship}.{name}" if self.relationship else name


@dataclass(frozen=True)
class SortKey:
    get: Getter
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class CompiledQuery:
    object_name: str
    columns: tuple[Column, ...]
    count: bool
    predicate: Predicate | None
    sort: tuple[SortKey, ...]
    limit: int | None
    offset: int


def compile_query(
    query: Query, schema: dict[str, ObjectDef], parents: Parents | None = None
) -> CompiledQuery:
    """Resolve and compile; ``parents`` (the store's records) serves parent fields."""
    obj = next((o for name, o in schema.items() if name.lower() == query.object_name.lower()), None)
    if obj is None:
        raise soql_error(
            "INVALID_TYPE",
            query.text,
            query.object_pos,
            _NO_SUCH_OBJECT.format(name=query.object_name),
        )
    resolver = _Resolver(query, schema, obj, parents or {})
    columns: list[Column] = []
    for ref in query.fields:
        column = resolver.column(ref)
        if column.key in {c.key for c in columns}:
            raise soql_error(
                "MALFORMED_QUERY", query.text, ref.pos, f"duplicate field selected: {ref.name}"
            )
        columns.append(column)
    predicate = resolver.predicate(query.where) if query.where is not None else None
    sort = []
    for item in query.order_by:
        column = resolver.column(item.field)
        if not column.definition.sortable:
            raise soql_error(
                "INVALID_FIELD",
                query.text,
                item.field.pos,
                f"field '{column.definition.name}' can not be sorted in a query call",
            )
        nulls_first = (not item.descending) if item.nulls_first is None else item.nulls_first
        sort.append(SortKey(column.get, item.descending, nulls_first))
    offset = query.offset or 0
    if offset > MAX_OFFSET:
        raise ApiError(
            400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
        )
    return CompiledQuery(
        obj.name, tuple(columns), query.count, predicate, tuple(sort), query.limit, offset
    )


class _Resolver:
    """Turns field references and conditions of one query into columns and closures."""

    def __init__(
        self, query: Query, schema: dict[str, ObjectDef], obj: ObjectDef, parents: Parents
    ) -> None:
        self.query = query
        self.schema = schema
        self.obj = obj
        self.parents = parents

    def error(self, code: str, pos: int, detail: str) -> ApiError:
        return soql_error(code, self.query.text, pos, detail)

    def column(self, ref: FieldRef) -> Column:
        relationship, _, name = ref.name.rpartition(".")
        if not relationship:
            definition = self.obj.field(name)
            if definition is None:
                raise self.error(
                    "INVALID_FIELD", ref.pos, _NO_SUCH_FIELD.format(name=name, entity=self.obj.name)
                )
            return Column(definition, itemgetter(definition.name))
        reference = next(
            (
                f
                for f in self.obj.fields.values()
                if (f.relationship_name or "").lower() == relationship.lower()
                and f.reference_to
                and f.reference_to[0] in self.schema
            ),
            None,
        )
        if reference is None:
            raise self.error("INVALID_FIELD", ref.pos, _NO_RELATIONSHIP.format(name=relationship))
        parent = self.schema[reference.reference_to[0]]
        definition = parent.field(name)
        if definition is None:
            raise self.error(
                "INVALID_FIELD", ref.pos, _NO_SUCH_FIELD.format(name=name, entity=parent.name)
            )
        records = self.parents.get(parent.name, {})
        reference_name, field_name = reference.name, definition.name

        def get(row: dict[str, Any]) -> Any:
            found = records.get(row[reference_name]) if row[reference_name] else None
            return None if found is None else found[field_name]

        return Column(definition, get, reference.relationship_name, parent.name, reference_name)

    def predicate(self, expr: Expr) -> Predicate:
        if isinstance(expr, Not):
            inner = self.predicate(expr.item)
            return lambda record: not inner(record)
        if isinstance(expr, BoolOp):
            parts = tuple(self.predicate(item) for item in expr.items)
            if expr.op == "AND":
                return lambda record: all(part(record) for part in parts)
            return lambda record: any(part(record) for part in parts)
        column = self.column(expr.field)
        if not column.definition.filterable:
            raise self.error(
                "INVALID_FIELD",
                expr.field.pos,
                f"field '{column.definition.name}' can not be filtered in query call",
            )
        return _comparison(self.query, column, expr)


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


def _comparison(query: Query, column: Column, comparison: Comparison) -> Predicate:
    definition = column.definition
    get = column.get
    # Ids compare exactly (after 15 -> 18 normalization); other text ignores case.
    fold = definition.is_text and definition.type not in ("id", "reference")
    op = comparison.op
    if op in ("IN", "NOT IN"):
        assert isinstance(comparison.value, tuple)
        members = frozenset(_normalize(query, definition, lit) for lit in comparison.value)
        if fold:

            def member(r: dict[str, Any]) -> bool:
                value = get(r)
                return (value.lower() if value is not None else None) in members
        else:

            def member(r: dict[str, Any]) -> bool:
                return get(r) in members

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
        return lambda r: (value := get(r)) is not None and matcher(value) is not None
    target = _normalize(query, definition, literal)
    if target is None:
        if op == "=":
            return lambda r: get(r) is None
        if op == "!=":
            return lambda r: get(r) is not None
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
            return lambda r: (value := get(r)) is None or value.lower() != target
        return lambda r: (value := get(r)) is not None and compare(value.lower(), target)
    if op == "!=":
        return lambda r: get(r) != target
    return lambda r: (value := get(r)) is not None and compare(value, target)


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

        def sort_key(r: dict[str, Any], get: Getter = key.get, null_rank: int = null_rank) -> Any:
            value = get(r)
            if value is None:
                return (null_rank, "")
            return (1, value.lower() if isinstance(value, str) else value)

        rows.sort(key=sort_key, reverse=key.descending)
    return rows
