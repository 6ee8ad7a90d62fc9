"""Incoming field values checked and converted the way Salesforce does it.

Salesforce stores an empty string as null, rejects text over the field's length, checks
e-mail syntax, and refuses JSON of the wrong kind for a field's type with
``JSON_PARSER_ERROR``. Reference checks need the records, so the store does those.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from .errors import ApiError
from .ids import format_date, format_datetime, parse_date, parse_datetime
from .schema import FieldDef

# Salesforce's own check is looser than RFC 5322 but rejects the obvious mistakes.
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, list):
        return "START_ARRAY"
    return "START_OBJECT"


def _cannot_deserialize(field: FieldDef, value: Any) -> ApiError:
    java_type = {
        "boolean": "boolean",
        "int": "int",
        "double": "double",
        "currency": "double",
        "percent": "double",
        "datetime": "java.util.Date",
        "date": "java.util.Date",
    }.get(field.type, "java.lang.String")
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {java_type} from {_json_kind(value)} value "
        f"{value!r} or request may be missing a required field",
    )


def coerce(field: FieldDef, value: Any, *, restricted_picklists: bool = False) -> Any:
    """The value to store for ``value`` sent in a JSON body, or raise :class:`ApiError`."""
    if value is None:
        return None
    kind = field.type
    if field.is_text:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _cannot_deserialize(field, value)
        text = value if isinstance(value, str) else str(value)
        if text == "":
            return None
        if field.length and len(text) > field.length:
            raise ApiError(
                400,
                "STRING_TOO_LONG",
                f"{field.label}: data value too large: {text} (max length={field.length})",
                [field.name],
            )
        if kind == "email" and not _EMAIL_RE.match(text):
            raise ApiError(
                400,
                "INVALID_EMAIL_ADDRESS",
                f"{field.label}: invalid email address: {text}",
                [field.name],
            )
        if kind == "picklist" and restricted_picklists and text not in field.picklist:
            raise ApiError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{field.label}: bad value for restricted picklist field: {text}",
                [field.name],
            )
        return text
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _cannot_deserialize(field, value)
    if kind in ("int", "double", "currency", "percent"):
        return _number(field, value)
    if kind == "datetime":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise _cannot_deserialize(field, value)
        return parsed
    if kind == "date":
        parsed_date = parse_date(value[:10]) if isinstance(value, str) else None
        if parsed_date is None:
            raise _cannot_deserialize(field, value)
        return parsed_date
    raise _cannot_deserialize(field, value)


def _number(field: FieldDef, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _cannot_deserialize(field, value)
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            raise _cannot_deserialize(field, value) from None
    if not isinstance(value, int | float):
        raise _cannot_deserialize(field, value)
    if field.type == "int":
        if isinstance(value, float) and not value.is_integer():
            raise _cannot_deserialize(field, value)
        number: int | float = int(value)
        limit = 10**field.digits if field.digits else 10**18
    else:
        number = round(float(value), field.scale)
        limit = 10 ** (field.precision - field.scale) if field.precision else 10**18
    if abs(number) >= limit:
        raise ApiError(
            400,
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{field.label}: value outside of valid range on numeric field: {value}",
            [field.name],
        )
    return number


def to_json(value: Any) -> Any:
    """A stored value as Salesforce puts it in JSON."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    return value
