"""A parser for the subset of SOQL a sync worker uses.

Supported: ``SELECT f1, f2 | COUNT() FROM Object [WHERE ...] [ORDER BY ...] [LIMIT n]
[OFFSET n]`` with ``AND``/``OR``/``NOT`` and parentheses, ``= != <> < <= > >=``,
``[NOT] IN (...)``, ``LIKE``, ``null``, booleans, numbers, quoted strings with SOQL's
backslash escapes, unquoted date-time (``2024-01-01T00:00:00Z``) and date literals.

Like Salesforce, it refuses ``AND`` and ``OR`` mixed at one level without parentheses
and ``NOT`` anywhere but at the start of a (parenthesized) condition; it reports syntax
errors as ``MALFORMED_QUERY`` with Salesforce's "ERROR at Row:R:Column:C" text. Field and
object names are resolved later (:mod:`sandbox.salesforce.soql_eval`), against the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .ids import parse_date, parse_datetime

KEYWORDS = frozenset(
    ("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
     "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "COUNT", "GROUP",
     "HAVING")
)  # fmt: skip
COMPARISONS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<string>')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)

# Escapes SOQL allows inside quoted strings; \% and \_ keep their meaning as literal
# characters in LIKE patterns.
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    value: Any = None
    like: str | None = None  # regex for string tokens used as LIKE patterns

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, boolean, null, datetime, date
    value: Any
    pos: int
    like: str | None = None


@dataclass(frozen=True)
class FieldRef:
    name: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >= IN NOT IN LIKE
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND, OR
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_first: bool | None = None  # None: Salesforce's default for the direction


@dataclass
class Query:
    text: str
    fields: list[FieldRef]
    count: bool
    object_name: str
    object_pos: int
    where: Expr | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


def soql_error(code: str, text: str, pos: int, detail: str) -> ApiError:
    """An error worded like Salesforce's, pointing at row and column of ``pos``."""
    row = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end != -1 else len(text)]
    column = pos - line_start + 1
    caret = " " * (column - 1) + "^"
    return ApiError(400, code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}")


def _read_string(text: str, start: int) -> Token:
    """Read a quoted literal starting at the quote; returns its value and LIKE regex."""
    chars: list[str] = []
    pattern: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "'":
            return Token("string", text[start : index + 1], start, "".join(chars), "".join(pattern))
        if char == "\\":
            if index + 1 >= len(text):
                break
            escaped = text[index + 1]
            if escaped in "%_":
                chars.append(escaped)
                pattern.append(re.escape(escaped))
            elif escaped.lower() in _ESCAPES:
                value = _ESCAPES[escaped.lower()]
                chars.append(value)
                pattern.append(re.escape(value))
            else:
                raise soql_error(
                    "MALFORMED_QUERY",
                    text,
                    index,
                    f"Invalid string literal '{text[start : index + 2]}'. Illegal escape sequence "
                    f"'\\{escaped}'",
                )
            index += 2
            continue
        chars.append(char)
        pattern.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    raise soql_error("MALFORMED_QUERY", text, start, f"line 1:{start} mismatched character '<EOF>'")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        match = _TOKEN_RE.match(text, index)
        if match is None:
            raise soql_error("MALFORMED_QUERY", text, index, f"unexpected token: '{text[index]}'")
        kind = match.lastgroup or ""
        if kind == "string":
            token = _read_string(text, index)
            tokens.append(token)
            index += len(token.text)
            continue
        if kind != "ws":
            tokens.append(Token(kind, match.group(), index))
        index = match.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # --- token helpers ---------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, *words: str) -> bool:
        return self.current.kind == "ident" and self.current.upper in words

    def unexpected(self, token: Token | None = None) -> ApiError:
        token = token or self.current
        return soql_error(
            "MALFORMED_QUERY", self.text, token.pos, f"unexpected token: {token.text}"
        )

    def expect_keyword(self, word: str) -> Token:
        if not self.is_keyword(word):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, char: str) -> Token:
        if self.current.text != char or self.current.kind != "punct":
            raise self.unexpected()
        return self.advance()

    def identifier(self) -> Token:
        token = self.current
        if token.kind != "ident" or token.upper in KEYWORDS:
            raise self.unexpected()
        return self.advance()

    # --- grammar ---------------------------------------------------------------------

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        fields: list[FieldRef] = []
        count = False
        if self.is_keyword("COUNT") and self.tokens[self.index + 1].text == "(":
            self.advance()
            self.expect_punct("(")
            self.expect_punct(")")
            count = True
        else:
            while True:
                token = self.identifier()
                fields.append(FieldRef(token.text, token.pos))
                if self.current.text != ",":
                    break
                self.advance()
        self.expect_keyword("FROM")
        object_token = self.identifier()
        query = Query(self.text, fields, count, object_token.text, object_token.pos)
        if self.is_keyword("WHERE"):
            self.advance()
            query.where = self.expression()
        if self.is_keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            query.order_by = self.order_list()
        if self.is_keyword("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.is_keyword("OFFSET"):
            self.advance()
            query.offset = self.integer()
        if self.current.kind != "eof":
            raise self.unexpected()
        return query

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected()
        self.advance()
        return int(token.text)

    def expression(self) -> Expr:
        first: Expr
        if self.is_keyword("NOT"):
            self.advance()
            first = Not(self.term())
        else:
            first = self.term()
        if not self.is_keyword("AND", "OR"):
            return first
        op = self.current.upper
        items = [first]
        while self.is_keyword("AND", "OR"):
            if self.current.upper != op:
                # SOQL requires parentheses to mix AND and OR.
                raise self.unexpected()
            self.advance()
            items.append(self.term())
        return BoolOp(op, tuple(items))

    def term(self) -> Expr:
        if self.current.kind == "punct" and self.current.text == "(":
            self.advance()
            inner = self.expression()
            self.expect_punct(")")
            return inner
        return self.condition()

    def condition(self) -> Comparison:
        name = self.identifier()
        field_ref = FieldRef(name.text, name.pos)
        token = self.current
        if token.kind == "op" and token.text in COMPARISONS:
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(field_ref, op, self.literal())
        if self.is_keyword("LIKE"):
            self.advance()
            return Comparison(field_ref, "LIKE", self.literal())
        negated = False
        if self.is_keyword("NOT"):
            self.advance()
            negated = True
        if self.is_keyword("IN"):
            self.advance()
            return Comparison(field_ref, "NOT IN" if negated else "IN", self.literal_list())
        raise self.unexpected()

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        if self.is_keyword("SELECT"):
            raise soql_error(
                "MALFORMED_QUERY",
                self.text,
                self.current.pos,
                "semi-join sub-selects are not supported",
            )
        values = [self.literal()]
        while self.current.text == "," and self.current.kind == "punct":
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.current
        kind = token.kind
        if kind == "string":
            self.advance()
            return Literal("string", token.value, token.pos, token.like)
        if kind == "number":
            self.advance()
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", number, token.pos)
        if kind == "datetime":
            moment = parse_datetime(token.text)
            if moment is None:
                raise soql_error(
                    "MALFORMED_QUERY",
                    self.text,
                    token.pos,
                    f"line 1:{token.pos} no viable alternative at character '{token.text}'",
                )
            self.advance()
            return Literal("datetime", moment, token.pos)
        if kind == "date":
            day = parse_date(token.text)
            if day is None:
                raise self.unexpected()
            self.advance()
            return Literal("date", day, token.pos)
        if kind == "ident" and token.upper in ("NULL", "TRUE", "FALSE"):
            self.advance()
            if token.upper == "NULL":
                return Literal("null", None, token.pos)
            return Literal("boolean", token.upper == "TRUE", token.pos)
        raise self.unexpected()

    def order_list(self) -> list[OrderItem]:
        items = []
        while True:
            name = self.identifier()
            descending = False
            nulls_first: bool | None = None
            if self.is_keyword("ASC", "DESC"):
                descending = self.advance().upper == "DESC"
            if self.is_keyword("NULLS"):
                self.advance()
                if not self.is_keyword("FIRST", "LAST"):
                    raise self.unexpected()
                nulls_first = self.advance().upper == "FIRST"
            items.append(OrderItem(FieldRef(name.text, name.pos), descending, nulls_first))
            if not (self.current.kind == "punct" and self.current.text == ","):
                return items
            self.advance()


def parse(text: str) -> Query:
    """Parse SOQL text; raises :class:`ApiError` (``MALFORMED_QUERY``) on bad syntax."""
    if not text or not text.strip():
        raise ApiError(400, "MALFORMED_QUERY", "SOQL statement cannot be empty")
    return _Parser(text).query()
