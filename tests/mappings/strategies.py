"""Hypothesis strategies for the merge properties: CRM values as CRMs hold them, paired
with what they read as locally (so local values are always in the directory's normal form,
and in what the map can round-trip)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from customers import taxonomy
from customers.fields import normalize_domain, normalize_website
from mappings.engine import read_entry
from mappings.fields import Kind, local_field
from mappings.loader import load_map
from mappings.spec import FieldMap, ObjectMap, Rule

Item = tuple[Any, tuple[Any, ...]]  # (raw CRM value, local values it reads as)

WORDS = st.sampled_from(
    ["Acme", "Müller", "O'Brien", "Smith & Sons", "Łódź", "São Paulo", "Kōyō", "x", "Suite 5"]
)
TEXT = st.lists(WORDS, min_size=1, max_size=3).map(" ".join) | st.text(
    alphabet=st.sampled_from("abcXYZäß 1-.'\t"), max_size=12
)
PHONES = st.sampled_from(
    [
        "+1 (415) 555-0100",
        "+14155550100",
        "+49 30 1234567",
        "+49301234567",
        "+44 20 7946 0958",
        "+81 3-1234-5678",
        "reception",  # kept as given: no library can read it
    ]
)
COUNTRIES = st.sampled_from(
    [
        "Germany",
        "DE",
        "deu",
        "United Kingdom",
        "UK",
        "USA",
        "United States",
        "France",
        "Japan",
        "South Korea",
        "Brazil",
        "ie",
        "Poland",
    ]
)
HOSTS = st.builds(
    lambda www, stem, tld: f"{www}{stem}.{tld}",
    st.sampled_from(["", "www.", "WWW."]),
    st.sampled_from(["acme", "northwind", "blue-harbor", "Globex"]),
    st.sampled_from(["com", "de", "co.uk"]),
)
WEBSITES = st.builds(
    lambda scheme, host, path: f"{scheme}{host}{path}",
    st.sampled_from(["", "https://", "http://"]),
    HOSTS,
    st.sampled_from(["", "/", "/about"]),
)
EMAILS = st.builds(
    lambda user, host: f"{user}@{host}",
    st.sampled_from(["anna", "Bob.Smith", "ap", "x1"]),
    st.sampled_from(["acme.de", "Example.COM", "mail.co.uk"]),
)
STREETS = st.lists(TEXT, min_size=1, max_size=3).map("\n".join)


INTEGERS = st.integers(0, 365).map(str) | st.integers(0, 365).map(lambda n: f"{n}.0")
AMOUNTS = st.decimals(
    min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False
).map(str) | st.sampled_from(["1000", "1000.5", "1000.50", "0.01", "25000.0"])
BOOLEANS = st.sampled_from(["true", "false", "True", "FALSE", "yes", "no", "1", "0", True, False])
ROLES = st.lists(
    st.sampled_from(["billing", "order", "shipment", "legal", "primary", "ap-team"]), max_size=4
).map(lambda roles: st.sampled_from([";", "; ", ","]).map(lambda sep: sep.join(roles)))
# A percent as HubSpot (text) and Salesforce (a JSON number, Percent(3, 4)) answer it.
PERCENTS = (
    st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False).map(
        str
    )
    | st.sampled_from(["19", "19.0", "7.5", "7.25", "8.875", "0", "0.00", "100"])
    | st.sampled_from([19.5, 7.25, 0.0, 100.0, 8.875])
)
# Tags as people type them in a CRM: any case, padded, repeated, ';' or ',' between.
TAGS = st.lists(
    st.sampled_from(["vip", "VIP", " eu ", "EU", "wholesale", "Key  Account", "retail", "ü-tag"]),
    max_size=5,
).flatmap(lambda tags: st.sampled_from([";", "; ", ","]).map(lambda sep: sep.join(tags)))
CURRENCIES = st.sampled_from(["EUR", "usd", "GBP", " chf "])
CUSTOM_JSON = st.dictionaries(
    st.sampled_from(["segment", "tier", "region"]), st.sampled_from(["a", "b", 1, True]), max_size=3
).map(lambda value: json.dumps(value))


def raw_values(entry: FieldMap) -> st.SearchStrategy[Any]:
    """CRM values for an entry, in the formats CRMs hand back."""
    field = local_field("customer", entry.local[0]) if entry.local[0] != "roles" else None
    if field is not None and field.choices and entry.transform == "text":
        return st.sampled_from(field.choices) | st.sampled_from(field.choices).map(str.upper)
    if entry.local == ("currency",):
        return CURRENCIES
    if field is not None and field.kind is Kind.PERCENT:
        return PERCENTS
    if entry.local == ("tags",):
        return TAGS
    if entry.transform == "list":
        return ROLES.flatmap(lambda strategy: strategy)
    if entry.transform == "value_map":
        assert entry.value_map is not None
        keys = sorted(entry.value_map.inbound)
        return st.sampled_from(keys) | st.sampled_from(keys).map(str.upper)
    return {
        "text": TEXT,
        "email": EMAILS,
        "phone": PHONES,
        "country": COUNTRIES,
        "country_code": COUNTRIES,
        "website": WEBSITES,
        "domain": HOSTS,
        "website_domain": WEBSITES,
        "street_lines": STREETS,
        "integer": INTEGERS,
        "decimal": AMOUNTS,
        "boolean": BOOLEANS,
        "json": CUSTOM_JSON,
    }[entry.transform]


def _read(object_map: ObjectMap, entry: FieldMap, raw: Any) -> Item | None:
    try:
        return raw, read_entry(object_map, entry, raw, None)
    except ValueError:
        return None


def _held(entry: FieldMap, raw: Any) -> Any:
    """What the CRM can hold of a raw value: no text longer than its field."""
    if entry.max_length is not None and isinstance(raw, str):
        return raw[: entry.max_length].rstrip()
    return raw


@st.composite
def items(draw: st.DrawFn, object_map: ObjectMap, entry: FieldMap) -> Item:
    """A CRM value and its local form; blank when the directory allows a blank there. An
    entry that keeps the local value over a CRM blank reads no value from a blank (it is
    not known), so its blank is no item."""
    blank = None if entry.keep_on_blank else _read(object_map, entry, object_map.blank)
    if blank is not None and draw(st.integers(0, 3)) == 0:
        return blank
    found = draw(raw_values(entry).map(lambda raw: _read(object_map, entry, _held(entry, raw))))
    if found is None:  # the directory refuses this value (e.g. a blank name)
        found = _read(object_map, entry, "Acme")
        assert found is not None
    return found


def _website(raw: str) -> str:
    return str(normalize_website(raw))


def _domain(raw: str) -> str:
    return str(normalize_domain(raw))


def local_only(entry: FieldMap) -> st.SearchStrategy[Item] | None:
    """Local values in the directory's normal form that the CRM cannot hold exactly: a
    subcategory the CRM has no value for, a domain without a website or one that differs
    from the website's. None when every normal-form value round-trips."""
    if entry.transform == "value_map" and entry.local == ("category", "subcategory"):
        return st.sampled_from(taxonomy.choices()).map(lambda pair: (None, pair))
    if entry.transform == "website_domain":
        return st.tuples(st.none() | WEBSITES.map(_website), HOSTS.map(_domain)).map(
            lambda pair: (None, pair)
        )
    return None


SHIPPED = [
    load_map("hubspot", "company"),
    load_map("hubspot", "contact"),
    load_map("salesforce", "account"),
    load_map("salesforce", "contact"),
]


def with_custom_property(object_map: ObjectMap) -> ObjectMap:
    """The map plus a custom property and the tax id turned on, as connections do."""
    if object_map.local_type != "customer":
        return object_map
    extra = FieldMap(local=("custom_properties.segment",), remote="segment__x", source="test")
    fields = tuple(
        replace(entry, rule=Rule.TWO_WAY) if entry.key == "tax_id" else entry
        for entry in object_map.fields
    )
    return replace(object_map, fields=(*fields, extra))


MAPS = [with_custom_property(object_map) for object_map in SHIPPED]
MAP_IDS = [f"{m.provider}_{m.object_type}" for m in MAPS]

EARLY = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
TIMES = st.sampled_from([None, EARLY, EARLY + timedelta(minutes=1), EARLY + timedelta(hours=1)])


@st.composite
def with_rules(draw: st.DrawFn, object_map: ObjectMap, rules: list[Rule]) -> ObjectMap:
    """The map with a rule drawn from ``rules`` for every entry."""
    fields = tuple(replace(entry, rule=draw(st.sampled_from(rules))) for entry in object_map.fields)
    return replace(object_map, fields=fields)


def columns(object_map: ObjectMap, flat: dict[str, Any]) -> dict[str, Any]:
    """Flat local values as a record's columns (custom keys inside custom_properties)."""
    result: dict[str, Any] = {"custom_properties": {}}
    for name, value in flat.items():
        if name.startswith("custom_properties."):
            if value is not None:
                result["custom_properties"][name.removeprefix("custom_properties.")] = value
        else:
            result[name] = value
    return result
