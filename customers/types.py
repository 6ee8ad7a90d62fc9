"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no time zones and no decimal type; these types make sure Python code only ever
sees timezone-aware UTC datetimes and exact ``Decimal`` amounts, whichever database is used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes, stored as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: only timezone-aware datetimes are stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact amounts: NUMERIC(18, 2) on PostgreSQL, a canonical string on SQLite (which
    would otherwise round through a float)."""

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class Percent(TypeDecorator[Decimal]):
    """Exact percentages with up to 4 decimals (``19``, ``7.5``, ``0.0125``): NUMERIC(7, 4)
    on PostgreSQL, a canonical string on SQLite."""

    impl = Numeric(7, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(16))
        return dialect.type_descriptor(Numeric(7, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.0001"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return percent_places(Decimal(str(value)))


def percent_places(value: Decimal) -> Decimal:
    """Two decimals, or as many as it needs up to four: ``19.00``, ``7.50``, ``0.0125``."""
    two = value.quantize(Decimal("0.01"))
    return two if two == value else value.normalize()


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def as_id(text: object) -> int | None:
    """An id from outside text (a CRM field, a webhook, a search): ASCII digits within the
    id range, else None. ``'²'.isdigit()`` is true and ``int('²')`` fails, and PostgreSQL
    refuses an integer over 32 bits: neither may reach a query."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
