"""Transforms: how one CRM value becomes local values and back.

A transform has two halves. ``inbound`` turns a non-blank CRM value (a string, as the APIs
return it) into a tuple of local values, one per local field of the entry; ``outbound``
turns that tuple into the CRM value. Blank handling is the engine's job, not the
transform's: a blank CRM value reads as all-blank local values and all-blank local values
write as the map's blank.

After ``inbound`` the engine also runs the directory's own normalizer for each local field
(``customers.fields``), so whatever the sync writes locally is already in the directory's
normal form. The one law every transform keeps, which the merge relies on to never
flip-flop: reading back what was written changes nothing,
``inbound(outbound(inbound(x))) == inbound(x)``.

Transforms are pure functions; they raise ``ValueError`` for a value they cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry

from customers.fields import (
    domain_of,
    normalize_country,
    normalize_domain,
    normalize_email,
    normalize_phone,
    normalize_website,
)
from mappings.fields import dumps, parse_boolean
from mappings.spec import ValueMap

Values = tuple[Any, ...]


@dataclass(frozen=True)
class Context:
    """What a transform may need besides the value itself."""

    value_map: ValueMap | None = None
    region: str | None = None  # ISO country for reading national phone numbers


@dataclass(frozen=True)
class Transform:
    name: str
    arity: int  # how many local fields the entry must name (0: one or more)
    inbound: Callable[[str, Context], Values]
    outbound: Callable[[Values, Context], str | None]
    needs_value_map: bool = False
    doc: str = ""


def _single(read: Callable[[str], Any]) -> Callable[[str, Context], Values]:
    return lambda raw, context: (read(raw),)


def _first(values: Values, context: Context) -> str | None:
    value = values[0]
    return None if value is None else str(value)


def country_code(raw: str) -> str | None:
    """ISO 3166-1 alpha-2 by the directory's one country parser (``normalize_country``):
    the same names, codes and aliases whether a value comes from a CRM, the CLI or a file."""
    return normalize_country(raw)


def country_name(code: str) -> str:
    """The name CRMs show for an ISO alpha-2 code: the common name where ISO's is formal
    ('South Korea', not 'Korea, Republic of'). Unknown codes are returned unchanged."""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def _street_in(raw: str, context: Context) -> Values:
    # Salesforce keeps street lines in one textarea; the first line is the street, the
    # rest (normally one line) is street2. Extra lines are kept, joined, not dropped.
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    rest = ", ".join(line.strip() for line in lines[1:] if line.strip())
    return (lines[0].strip() or None, rest or None)


def _street_out(values: Values, context: Context) -> str | None:
    street, street2 = values
    if not street2:
        return None if street is None else str(street)
    # A leading newline keeps street2 in the second line even when street is blank.
    return f"{street or ''}\n{street2}"


def _website_domain_in(raw: str, context: Context) -> Values:
    website = normalize_website(raw)
    return (website, domain_of(website))


def _website_domain_out(values: Values, context: Context) -> str | None:
    # The CRM has one website field; a customer known only by its domain still gets one.
    website, domain = values
    return website or (f"https://{domain}" if domain else None)


def _number(raw: str) -> Decimal:
    # Salesforce answers a Number(3, 0) field as 30.0, HubSpot as "30": both are 30.
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{raw!r} is not a number")
    return number


def _integer_in(raw: str, context: Context) -> Values:
    number = _number(raw)
    if number != number.to_integral_value():
        raise ValueError(f"{raw!r} is not a whole number")
    return (int(number),)


def _boolean_out(values: Values, context: Context) -> str | None:
    value = parse_boolean(values[0])
    return None if value is None else ("true" if value else "false")


# Values of a multi-value field are written separated by ";", as HubSpot writes multiple
# checkboxes and Salesforce multi-select picklists; "," is read too, as people type lists.
LIST_SEPARATOR = ";"


def _list_in(raw: str, context: Context) -> Values:
    parts = raw.replace(",", LIST_SEPARATOR).split(LIST_SEPARATOR)
    return ([part.strip() for part in parts if part.strip()],)


def _list_out(values: Values, context: Context) -> str | None:
    items = values[0]
    if isinstance(items, str):
        items = _list_in(items, context)[0]
    return LIST_SEPARATOR.join(str(item) for item in items or ()) or None


def _json_in(raw: str, context: Context) -> Values:
    try:
        return (json.loads(raw),)
    except json.JSONDecodeError as error:
        raise ValueError(f"is not JSON ({error.msg})") from None


def _value_map_in(raw: str, context: Context) -> Values:
    assert context.value_map is not None  # the loader guarantees it
    found = context.value_map.to_local(raw)
    if found is None:
        raise ValueError(f"{raw!r} is not in value map {context.value_map.name!r}")
    return found


def _value_map_out(values: Values, context: Context) -> str | None:
    assert context.value_map is not None
    return context.value_map.to_remote(tuple(values))


TRANSFORMS: dict[str, Transform] = {
    transform.name: transform
    for transform in (
        Transform(
            "text",
            1,
            _single(str),
            _first,
            doc="Text, trimmed (the directory's normalizer collapses inner whitespace).",
        ),
        Transform("email", 1, _single(normalize_email), _first, doc="Lower-cased address."),
        Transform(
            "phone",
            1,
            lambda raw, context: (normalize_phone(raw, context.region),),
            _first,
            doc="E.164 when the number parses (national numbers in the record's country).",
        ),
        Transform(
            "country",
            1,
            _single(country_code),
            lambda values, context: None if values[0] is None else country_name(values[0]),
            doc="CRM country name <-> ISO 3166 alpha-2; the name is written back.",
        ),
        Transform(
            "country_code",
            1,
            _single(country_code),
            _first,
            doc="CRM country code field (Salesforce BillingCountryCode) <-> alpha-2.",
        ),
        Transform("website", 1, _single(normalize_website), _first, doc="A web address."),
        Transform("domain", 1, _single(normalize_domain), _first, doc="A bare domain."),
        Transform(
            "website_domain",
            2,
            _website_domain_in,
            _website_domain_out,
            doc="One CRM website <-> local (website, domain); domain-only writes https://.",
        ),
        Transform(
            "street_lines",
            2,
            _street_in,
            _street_out,
            doc="Multi-line CRM street <-> local (street, street2).",
        ),
        Transform(
            "integer",
            1,
            _integer_in,
            _first,
            doc="A whole number; 30.0 (a Salesforce Number(n, 0)) reads as 30.",
        ),
        Transform(
            "decimal",
            1,
            lambda raw, context: (_number(raw),),
            _first,
            doc="An exact amount, written as its shortest text (1000.5).",
        ),
        Transform(
            "boolean",
            1,
            lambda raw, context: (parse_boolean(raw),),
            _boolean_out,
            doc="true / false (also yes / no, 1 / 0); written as true or false.",
        ),
        Transform(
            "list",
            1,
            _list_in,
            _list_out,
            doc="Several values in one CRM text, separated by ';' (',' is read too).",
        ),
        Transform(
            "json",
            1,
            _json_in,
            lambda values, context: None if values[0] is None else dumps(values[0]),
            doc="A JSON object in one CRM text (custom properties as a whole).",
        ),
        Transform(
            "value_map",
            0,
            _value_map_in,
            _value_map_out,
            needs_value_map=True,
            doc="CRM enumeration / picklist value <-> local values through a value map.",
        ),
    )
}
