"""Applying a map: CRM properties to local values, local values to CRM properties.

Local values are given and returned as flat mappings keyed by the map's local field names
(``billing_city``, ``custom_properties.vat``). Functions that take local values also accept
a record's column values as they are, with ``custom_properties`` as a nested dict.

Every value read from a CRM goes through the entry's transform and then the directory's
own normalizer for that field, so what the sync writes locally is already in the form the
directory would store. A CRM value that cannot be read (a malformed email, an industry the
value map does not know) is reported per field, never guessed.

This module is pure: no I/O, no SDK types, no database. It decides nothing about
conflicts; ``mappings.merge`` does.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from mappings.errors import RemoteValueError
from mappings.fields import derived, normalizer, sync_form
from mappings.spec import CUSTOM_PREFIX, FieldMap, ObjectMap
from mappings.transforms import TRANSFORMS, Context

Values = tuple[Any, ...]


def _custom_text(value: Any) -> str | None:
    text = value.strip() if isinstance(value, str) else None if value is None else str(value)
    return text or None


@lru_cache(maxsize=1_024)  # one per local field: a few hundred at most
def _normalizers(local_type: str, names: tuple[str, ...]) -> tuple[Callable[[Any], Any], ...]:
    return tuple(
        _custom_text if name.startswith(CUSTOM_PREFIX) else normalizer(local_type, name)
        for name in names
    )


def is_blank(value: Any) -> bool:
    """No value: None, blank text, or an empty list or object (no roles, no tags)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return not value
    return False


def local_value(local: Mapping[str, Any], name: str) -> Any:
    """A local field's value, in its sync form (``mappings.fields``), from flat values or
    from a record's columns."""
    if name in local:
        return sync_form(local[name])
    if name.startswith(CUSTOM_PREFIX):
        custom = local.get("custom_properties")
        if isinstance(custom, Mapping):
            return custom.get(name.removeprefix(CUSTOM_PREFIX))
    return sync_form(derived(name, local)[1])


def entry_values(entry: FieldMap, local: Mapping[str, Any]) -> Values:
    if len(entry.local) == 1:  # most entries: no generator to build
        return (local_value(local, entry.local[0]),)
    return tuple(local_value(local, name) for name in entry.local)


def all_blank(values: Values) -> bool:
    """Every value is blank (``is_blank``)."""
    for value in values:  # noqa: SIM110 (read for every entry of every record: no generator)
        if not is_blank(value):
            return False
    return True


# What a record created in the CRM gets in a field the CRM requires when the local value is
# blank (a contact with a first name only: Salesforce requires LastName). Read back as
# blank, so the directory never takes it for a value, and replaced by the first real one.
REQUIRED_PLACEHOLDER = "[not provided]"


def read_entry(object_map: ObjectMap, entry: FieldMap, raw: Any, region: str | None) -> Values:
    """The local values for one CRM value. Raises ``ValueError`` saying why it cannot.
    ``region`` reads national phone numbers; no other transform reads it."""
    if is_blank(raw) or (entry.required and raw == REQUIRED_PLACEHOLDER):
        read, shared = _read_blank(object_map.local_type, entry.local)
    else:
        text = raw if isinstance(raw, str) else str(raw)
        if entry.value_map is not None:
            values = TRANSFORMS[entry.transform].inbound(text, Context(entry.value_map, region))
            return _normalized(object_map.local_type, entry.local, values)
        if entry.transform != "phone":
            region = None  # the same values in any country: one cache entry for them all
        read, shared = _read_text(object_map.local_type, entry.transform, entry.local, text, region)
    # The cached values are shared: a caller must not be able to change them.
    return _copied(read) if shared else read


def _copied(values: Values) -> Values:
    return tuple(
        list(value)
        if isinstance(value, list) and not any(isinstance(v, list | dict) for v in value)
        else copy.deepcopy(value)
        for value in values
    )


def _normalized(local_type: str, names: tuple[str, ...], values: Values) -> Values:
    normalizers = _normalizers(local_type, names)
    return tuple(normalize(value) for normalize, value in zip(normalizers, values, strict=True))


def _kept(values: Values) -> tuple[Values, bool]:
    """Values to cache, and whether any of them is a list or an object, which a caller
    gets a copy of."""
    return values, any(isinstance(value, list | dict) for value in values)


# Most of a record's entries are blank, and a blank reads the same every time.
@lru_cache(maxsize=1_024)
def _read_blank(local_type: str, names: tuple[str, ...]) -> tuple[Values, bool]:
    return _kept(_normalized(local_type, names, (None,) * len(names)))


# A merge reads each CRM value and each local value's round trip again, soon after the page
# read it: transforms and normalizers are pure, so each text is read once. A page's worth is
# enough (a Salesforce page is 2,000 records of a dozen texts or so: fewer entries, and the
# merges at the page's end found none of the texts its start read); a larger cache would
# only grow a worker's memory with the size of the data.
@lru_cache(maxsize=32_768)
def _read_text(
    local_type: str, transform: str, names: tuple[str, ...], text: str, region: str | None
) -> tuple[Values, bool]:
    values = TRANSFORMS[transform].inbound(text, Context(None, region))
    return _kept(_normalized(local_type, names, values))


def write_entry(object_map: ObjectMap, entry: FieldMap, values: Values) -> Any:
    """The CRM value for one entry's local values (the map's blank when all are blank)."""
    if all_blank(values):
        return object_map.blank
    transform = TRANSFORMS[entry.transform]
    written = transform.outbound(values, Context(entry.value_map))
    if written is None:
        return object_map.blank
    if entry.max_length is not None and isinstance(written, str):
        return written[: entry.max_length].rstrip()
    return written


def phone_region(object_map: ObjectMap, local: Mapping[str, Any], region: str | None) -> str | None:
    """The country national phone numbers are read in: the record's own (the map's
    ``phone_region`` field) when it has one, else ``region`` (e.g. a contact's company's)."""
    if object_map.phone_region and local.get(object_map.phone_region):
        return str(local[object_map.phone_region])
    return region


def read_remote(
    object_map: ObjectMap, properties: Mapping[str, Any], *, region: str | None = None
) -> tuple[dict[str, Values], dict[str, str]]:
    """Per synced entry whose property is present: its local values, by entry key; and
    the problems of those that could not be read. Absent properties are left out (not
    known is not blank), as are blanks of entries that keep the local value over them. National phone numbers are read in the map's ``phone_region``
    field's country when the record has one, else in ``region``."""
    read: dict[str, Values] = {}
    problems: dict[str, str] = {}
    country: dict[str, Any] = {}  # the map's phone_region field, once read
    # Non-phone entries first: the country read here decides how phones are read.
    for entry in object_map.synced_phones_last:
        if not entry.reads(properties):
            continue
        raw = properties[entry.remote]
        try:
            values = read_entry(
                object_map,
                entry,
                raw,
                phone_region(object_map, country, region) if entry.transform == "phone" else None,
            )
        except (ValueError, TypeError) as error:
            problems[entry.key] = f"{entry.remote}={raw!r}: {error}"
            continue
        read[entry.key] = values
        if object_map.phone_region in entry.local:
            country.update(zip(entry.local, values, strict=True))
    return {
        entry.key: read[entry.key] for entry in object_map.synced if entry.key in read
    }, problems


def to_local(
    object_map: ObjectMap, properties: Mapping[str, Any], *, region: str | None = None
) -> dict[str, Any]:
    """Local values (by local field) for the CRM properties present, e.g. to create a
    customer from a new CRM record. Raises ``RemoteValueError`` naming every field that
    cannot be read; its ``accepted`` holds the fields that could."""
    read, problems = read_remote(object_map, properties, region=region)
    values = _flatten(object_map, read)
    if problems:
        raise RemoteValueError(problems, values)
    return values


def to_remote(
    object_map: ObjectMap, local: Mapping[str, Any], *, skip_blank: bool = False
) -> dict[str, Any]:
    """CRM properties for the synced entries whose local fields are all given (a record's
    columns give them all). Blank values are written as the map's blank, or left out with
    ``skip_blank`` (for creates); a required entry's blank is left out of an update (the CRM
    keeps its value) and created as ``REQUIRED_PLACEHOLDER`` (the CRM refuses none)."""
    properties: dict[str, Any] = {}
    for entry in object_map.synced:
        if not all(_given(local, name) for name in entry.local):
            continue
        values = entry_values(entry, local)
        if all_blank(values) and (skip_blank or entry.required):
            if entry.required and skip_blank:
                properties[entry.remote] = REQUIRED_PLACEHOLDER
            continue
        properties[entry.remote] = write_entry(object_map, entry, values)
    return properties


def _given(local: Mapping[str, Any], name: str) -> bool:
    if name in local or derived(name, local)[0]:
        return True
    return name.startswith(CUSTOM_PREFIX) and "custom_properties" in local


def project(
    object_map: ObjectMap, entry: FieldMap, values: Values, region: str | None = None
) -> Values:
    """What these local values look like after a trip to the CRM and back. Equal to the
    values for what the map owns in normal form; differs where the CRM cannot hold the
    local detail (a subcategory it has no value for, a domain without a website)."""
    try:
        return read_entry(object_map, entry, write_entry(object_map, entry, values), region)
    except (ValueError, TypeError):
        # The directory holds something its own normalizer would not accept now; compare
        # it as it is rather than invent a value.
        return values


def snapshot(object_map: ObjectMap, local: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the fields the map owns, flat, from a record's columns."""
    return {name: local_value(local, name) for name in object_map.local_fields}


def record_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat local values as a new record's fields: custom keys nested in one
    ``custom_properties`` object (blank ones left out: a new record has none to remove),
    ``archived`` left out (the caller archives a record the CRM holds archived), every
    other field as it is."""
    fields = {name: value for name, value in values.items() if not name.startswith(CUSTOM_PREFIX)}
    fields.pop("archived", None)  # a state, not a field: the caller archives the new record
    custom = {
        name.removeprefix(CUSTOM_PREFIX): value
        for name, value in values.items()
        if name.startswith(CUSTOM_PREFIX) and not is_blank(value)
    }
    if custom:
        fields["custom_properties"] = custom
    return fields


def new_customer_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A new customer's fields and, apart, its tags (a table of their own), from the flat
    local values of a CRM record."""
    fields = record_values(values)
    tags = fields.pop("tags", None) or []
    return fields, list(tags)


def local_changes(
    object_map: ObjectMap, writes: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """Turn flat local writes into the changes the directory's update takes: custom keys
    merged into a copy of the record's ``custom_properties`` (a blank removes the key)."""
    changes = {name: value for name, value in writes.items() if not name.startswith(CUSTOM_PREFIX)}
    custom_writes = {
        name.removeprefix(CUSTOM_PREFIX): value
        for name, value in writes.items()
        if name.startswith(CUSTOM_PREFIX)
    }
    if custom_writes:
        merged = dict(current.get("custom_properties") or {})
        for key, value in custom_writes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        changes["custom_properties"] = merged
    # The directory derives the domain from a written website unless the domain is given;
    # when this map owns the domain separately, keep it as the merge left it.
    if "website" in changes and "domain" not in changes and "domain" in object_map.local_fields:
        changes["domain"] = current.get("domain")
    return changes


def _flatten(object_map: ObjectMap, read: Mapping[str, Values]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for entry in object_map.synced:
        if entry.key in read:
            flat.update(zip(entry.local, read[entry.key], strict=True))
    return flat


def fingerprint(values: Mapping[str, Any]) -> str:
    """A stable hash of a snapshot (local form): key order and blank spelling do not
    matter, values do. 64 hex characters."""
    normalized = {key: (None if is_blank(value) else value) for key, value in values.items()}
    text = json.dumps(normalized, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def remote_fingerprint(
    object_map: ObjectMap, properties: Mapping[str, Any], *, region: str | None = None
) -> str | None:
    """The fingerprint a CRM record would have as a base, or None when some synced
    property is missing or unreadable (then only a full merge can tell)."""
    read, problems = read_remote(object_map, properties, region=region)
    if problems or len(read) != len(object_map.synced):
        return None
    return fingerprint(_flatten(object_map, read))


def is_echo(
    object_map: ObjectMap,
    properties: Mapping[str, Any],
    base_fingerprint: str | None,
    *,
    region: str | None = None,
) -> bool:
    """True when the CRM record holds exactly the last synced values: a change we made
    coming back, which needs no merge. False means "merge to find out", not "changed"."""
    if base_fingerprint is None:
        return False
    return remote_fingerprint(object_map, properties, region=region) == base_fingerprint
