"""Loading field maps from YAML files, with every mistake caught at load time.

The shipped maps live in ``mappings/maps/<provider>_<object>.yaml``. A file is one map::

    provider: salesforce          # hubspot | salesforce
    object: account               # the connector's object type
    local: customer               # customer | contact
    blank: null                   # how a blank is written to the CRM ("" or null)
    phone_region: billing_country # optional: reads national phone numbers
    fields:
      - local: name               # a local field, or a list of them
        remote: Name              # the CRM property
        rule: two_way             # see mappings.spec.Rule; default two_way
        transform: text           # see mappings.transforms; default: by the field's kind
                                  #   (mappings.fields: credit_limit -> decimal, ...)
        required: true            # optional: the CRM rejects blanks here
        on_blank: clear           # optional: a blank CRM value clears (default) or keeps
                                  #   the local value, which then fills the blank
      - local: [category, subcategory]
        remote: Industry
        transform: value_map
        value_map: industry
    value_maps:
      industry:
        Technology: technology    # CRM value: local values joined by "/"
        Banking: finance/banking

Connection overrides. A connection may name its own file (``connections.mapping``): one or
more YAML documents (separated by ``---``), each in the format above and each naming its
``object``. By default a document is merged over the shipped map of that object: an entry
with the same ``local`` replaces the given attributes of the shipped entry (so
``{local: tax_id, remote: VAT_Number__c, rule: two_way}`` turns the tax id on), new
entries are added, and value-map rows are merged row by row. A document with
``replace: true`` is instead the whole map, and the shipped one is ignored.

Loading is the only I/O in ``mappings``. Load once per connection and reuse the result:
maps are immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from customers import taxonomy
from customers.custom_properties import check_key
from mappings.errors import MappingError
from mappings.fields import LOCAL_FIELDS
from mappings.spec import CUSTOM_PREFIX, FieldMap, ObjectMap, Rule, ValueMap
from mappings.transforms import TRANSFORMS

SHIPPED_DIR = Path(__file__).parent / "maps"

_MAP_KEYS = {"provider", "object", "local", "blank", "phone_region", "fields", "value_maps"}
_ENTRY_KEYS = {
    "local",
    "remote",
    "rule",
    "transform",
    "value_map",
    "required",
    "max_length",
    "on_blank",
}
_RULES = ", ".join(rule.value for rule in Rule)

Rows = list[tuple[str, tuple[str | None, ...]]]


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys: PyYAML would silently keep the last one,
    and a map that quietly loses an entry is worse than one that does not load."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def shipped_path(provider: str, object_type: str) -> Path:
    return SHIPPED_DIR / f"{provider}_{object_type}.yaml"


def shipped_maps() -> dict[tuple[str, str], ObjectMap]:
    """Every shipped map, by (provider, object type)."""
    maps = (load_map_file(path) for path in sorted(SHIPPED_DIR.glob("*.yaml")))
    return {(found.provider, found.object_type): found for found in maps}


def load_map_file(path: str | Path) -> ObjectMap:
    """One complete map from one file (a single YAML document)."""
    documents = _read_documents(path)
    if len(documents) != 1:
        raise MappingError(str(path), f"holds {len(documents)} documents; a map file holds one")
    return parse_map(documents[0], source=str(path))


def load_map(provider: str, object_type: str, *, override: str | Path | None = None) -> ObjectMap:
    """The map for this CRM object: the shipped one, with the connection's override file
    (if any) merged over it or replacing it, as the module docstring describes."""
    shipped = shipped_path(provider, object_type)
    if not shipped.is_file():
        raise MappingError(str(shipped), f"no shipped map for {provider} {object_type}")
    shipped_document = _read_documents(shipped)[0]
    if override is None:
        return parse_map(shipped_document, source=str(shipped))
    documents = _read_documents(override)
    _check_override(documents, provider, str(override))
    for document in documents:
        if document["object"] != object_type:
            continue
        if document.get("replace"):
            complete = {k: v for k, v in document.items() if k != "replace"}
            return parse_map({"provider": provider, **complete}, source=str(override))
        return _merged(shipped_document, document, str(shipped), str(override))
    return parse_map(shipped_document, source=str(shipped))


def _check_override(documents: list[dict[str, Any]], provider: str, file: str) -> None:
    """Every document must say which shipped object it changes, once: a typo in
    ``object`` would otherwise leave the shipped map in force without a word."""
    objects = {
        path.stem.removeprefix(f"{provider}_") for path in SHIPPED_DIR.glob(f"{provider}_*.yaml")
    }
    seen: set[str] = set()
    for document in documents:
        name = document.get("object")
        if not isinstance(name, str) or not name:
            raise MappingError(file, "'object' is required in an override", "object")
        if name not in objects and not document.get("replace"):
            known = ", ".join(sorted(objects))
            raise MappingError(
                file, f"no shipped {provider} map for {name!r} (use {known})", "object"
            )
        if name in seen:
            raise MappingError(file, f"object {name!r} appears in two documents", "object")
        seen.add(name)
        if document.get("provider", provider) != provider:
            raise MappingError(file, f"provider is not {provider!r}", "provider")


def _read_documents(path: str | Path) -> list[dict[str, Any]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(str(path), f"cannot be read ({error.strerror or error})") from None
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_StrictLoader) if doc is not None]
    except yaml.YAMLError as error:
        raise MappingError(str(path), f"is not valid YAML: {error}") from None
    if not documents:
        raise MappingError(str(path), "is empty")
    for document in documents:
        if not isinstance(document, dict):
            raise MappingError(str(path), "must be a mapping of map keys (provider, object, ...)")
    return documents


def _key_of(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    local = entry.get("local")
    if isinstance(local, list) and local and all(isinstance(name, str) for name in local):
        return "+".join(local)
    return local if isinstance(local, str) and local else None


def _merged(
    shipped: dict[str, Any], override: dict[str, Any], shipped_file: str, override_file: str
) -> ObjectMap:
    """The shipped document with the override merged over it; each entry remembers which
    file it (last) came from, so errors point at the right file."""
    unknown = set(override) - _MAP_KEYS - {"replace"}
    if unknown:
        raise MappingError(override_file, f"unknown keys {sorted(unknown)}")
    fields = [{**entry, "__source__": shipped_file} for entry in shipped.get("fields") or []]
    position = {_key_of(entry): index for index, entry in enumerate(fields)}
    overriding = override.get("fields") or []
    if not isinstance(overriding, list):
        raise MappingError(override_file, "'fields' must be a list of entries", "fields")
    for entry in overriding:
        key = _key_of(entry)
        if key is None:
            raise MappingError(override_file, "every entry needs 'local'", str(entry))
        if key in position:
            merged_entry = {**fields[position[key]], **entry, "__source__": override_file}
            fields[position[key]] = merged_entry
        else:
            position[key] = len(fields)
            fields.append({**entry, "__source__": override_file})
    value_maps = {name: dict(rows) for name, rows in (shipped.get("value_maps") or {}).items()}
    for name, rows in (override.get("value_maps") or {}).items():
        if not isinstance(rows, dict):
            raise MappingError(override_file, "a value map is a mapping", f"value_maps.{name}")
        value_maps[name] = {**value_maps.get(name, {}), **rows}
    document = {**shipped, **override, "fields": fields, "value_maps": value_maps}
    return parse_map(document, source=f"{shipped_file} + {override_file}")


def parse_map(document: Mapping[str, Any], *, source: str) -> ObjectMap:
    """Build and check a map from parsed YAML. ``source`` names the file in errors."""
    unknown = set(document) - _MAP_KEYS
    if unknown:
        raise MappingError(source, f"unknown keys {sorted(unknown)}")
    for key in ("provider", "object", "local"):
        if not isinstance(document.get(key), str) or not document[key]:
            raise MappingError(source, f"'{key}' is required and must be text", key)
    local_type = document["local"]
    if local_type not in LOCAL_FIELDS:
        raise MappingError(source, f"unknown local type {local_type!r}", "local")
    blank = document.get("blank", "")
    if blank not in ("", None):
        raise MappingError(source, 'must be "" or null', "blank")
    value_maps = _value_maps(document.get("value_maps") or {}, source)
    raw_fields = document.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise MappingError(source, "must be a non-empty list of entries", "fields")
    entries = tuple(
        _entry(
            raw,
            local_type,
            value_maps,
            raw.get("__source__", source) if isinstance(raw, dict) else source,
            value_map_source=source,
        )
        for raw in raw_fields
    )
    _check_unique(entries)
    region = document.get("phone_region")
    if region is not None and region not in LOCAL_FIELDS[local_type]:
        raise MappingError(source, f"unknown local field {region!r}", "phone_region")
    return ObjectMap(
        provider=document["provider"],
        object_type=document["object"],
        local_type=local_type,
        fields=entries,
        blank=blank,
        phone_region=region,
        sources=tuple(dict.fromkeys(entry.source for entry in entries)),
    )


def _entry(
    raw: Any,
    local_type: str,
    value_maps: Mapping[str, Rows],
    source: str,
    *,
    value_map_source: str,
) -> FieldMap:
    """One checked entry. ``source`` is the file the entry came from; value maps may
    combine rows of the shipped file and an override, so their errors name the map's
    ``value_map_source``."""
    if not isinstance(raw, dict):
        raise MappingError(source, f"an entry must be a mapping, got {raw!r}", "fields")
    raw = {key: value for key, value in raw.items() if key != "__source__"}
    local = raw.get("local")
    names = [local] if isinstance(local, str) else local
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise MappingError(source, "'local' must be a field name or a list of them", str(local))
    key = "+".join(names)
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise MappingError(source, f"unknown entry keys {sorted(unknown)}", key)
    for name in names:
        if not _is_local_field(name, local_type):
            raise MappingError(source, f"unknown local field {name!r} for a {local_type}", key)
    remote = raw.get("remote")
    if not isinstance(remote, str) or not remote.strip():
        raise MappingError(source, "'remote' (the CRM property) is required", key)
    try:
        rule = Rule(raw.get("rule", Rule.TWO_WAY.value))
    except ValueError:
        raise MappingError(
            source, f"unknown rule {raw.get('rule')!r} (use {_RULES})", key
        ) from None
    transform = TRANSFORMS.get(raw.get("transform", _default_transform(names, local_type)))
    if transform is None:
        known = ", ".join(TRANSFORMS)
        raise MappingError(source, f"unknown transform {raw.get('transform')!r} (use {known})", key)
    if transform.arity and transform.arity != len(names):
        raise MappingError(
            source, f"transform {transform.name!r} needs {transform.arity} local fields", key
        )
    value_map = None
    if transform.needs_value_map:
        rows = value_maps.get(raw.get("value_map", ""))
        if rows is None:
            raise MappingError(source, f"unknown value map {raw.get('value_map')!r}", key)
        value_map = _build_value_map(raw["value_map"], rows, names, value_map_source)
    elif "value_map" in raw:
        raise MappingError(source, f"transform {transform.name!r} takes no value map", key)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise MappingError(source, "'required' must be true or false", key)
    max_length = raw.get("max_length")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise MappingError(source, "'max_length' must be a whole number of at least 1", key)
    on_blank = raw.get("on_blank", _default_on_blank(names, local_type))
    if on_blank not in ("clear", "keep"):
        raise MappingError(source, f"'on_blank' must be clear or keep, got {on_blank!r}", key)
    return FieldMap(
        local=tuple(names),
        remote=remote.strip(),
        rule=rule,
        transform=transform.name,
        value_map=value_map,
        required=required,
        max_length=max_length,
        keep_on_blank=on_blank == "keep",
        source=source,
    )


def _default_transform(names: list[str], local_type: str) -> str:
    """The transform of the field's kind (``mappings.fields``) for a one-field entry that
    names none: an amount reads as an amount, a list as a list."""
    found = LOCAL_FIELDS[local_type].get(names[0]) if len(names) == 1 else None
    return found.transform if found is not None else "text"


def _default_on_blank(names: list[str], local_type: str) -> str:
    """``keep`` for fields the directory never holds blank (status, type)."""
    found = [LOCAL_FIELDS[local_type].get(name) for name in names]
    return "keep" if any(f is not None and not f.nullable for f in found) else "clear"


def _is_local_field(name: str, local_type: str) -> bool:
    if name.startswith(CUSTOM_PREFIX):
        # A key the directory would refuse would fail every record that carries it.
        try:
            check_key(name.removeprefix(CUSTOM_PREFIX))
        except ValueError:
            return False
        return True
    return name in LOCAL_FIELDS[local_type]


def _check_unique(entries: tuple[FieldMap, ...]) -> None:
    # Every entry, synced or not, so turning a field on later cannot create a clash.
    whole = next((e for e in entries if "custom_properties" in e.local), None)
    keyed = next((e for e in entries if any(n.startswith(CUSTOM_PREFIX) for n in e.local)), None)
    if whole is not None and keyed is not None:
        raise MappingError(
            keyed.source,
            "duplicate target: custom_properties is mapped as a whole by "
            f"{whole.key!r}; map single keys or the whole object, not both",
            keyed.key,
        )
    locals_seen: dict[str, FieldMap] = {}
    remotes_seen: dict[str, FieldMap] = {}
    for entry in entries:
        for name in entry.local:
            if name in locals_seen:
                raise MappingError(
                    entry.source,
                    f"duplicate target: local field {name!r} is also mapped by "
                    f"{locals_seen[name].key!r}",
                    entry.key,
                )
            locals_seen[name] = entry
        if entry.remote in remotes_seen:
            raise MappingError(
                entry.source,
                f"duplicate target: CRM property {entry.remote!r} is also mapped by "
                f"{remotes_seen[entry.remote].key!r}",
                entry.key,
            )
        remotes_seen[entry.remote] = entry


def _value_maps(raw: Any, source: str) -> dict[str, Rows]:
    """Value-map rows by map name: (CRM value, local values split on '/')."""
    if not isinstance(raw, dict):
        raise MappingError(source, "must be a mapping of value maps", "value_maps")
    maps: dict[str, Rows] = {}
    for name, rows in raw.items():
        if not isinstance(rows, dict) or not rows:
            raise MappingError(source, "a value map is a non-empty mapping", f"value_maps.{name}")
        seen: set[str] = set()
        parsed: Rows = []
        for remote, local in rows.items():
            where = f"value_maps.{name}.{remote}"
            if not isinstance(local, str) or not local.strip():
                raise MappingError(source, "the local value must be text", where)
            folded = str(remote).strip().casefold()
            if folded in seen:
                raise MappingError(source, "duplicate CRM value (case is ignored)", where)
            seen.add(folded)
            parsed.append(
                (str(remote).strip(), tuple(part.strip() or None for part in local.split("/")))
            )
        maps[str(name)] = parsed
    return maps


def _build_value_map(name: str, rows: Rows, names: list[str], source: str) -> ValueMap:
    arity = len(names)
    inbound: dict[str, tuple[str | None, ...]] = {}
    outbound: dict[tuple[str | None, ...], str] = {}
    # A tuple the CRM has no exact value for falls back, per first value (the category),
    # to the value meaning the category alone, else to the category's first value.
    alone: dict[str, str] = {}
    first: dict[str, str] = {}
    for remote, values in rows:
        if len(values) > arity:
            raise MappingError(
                source,
                f"gives {len(values)} values for {arity} fields ({'+'.join(names)})",
                f"value_maps.{name}.{remote}",
            )
        padded = values + (None,) * (arity - len(values))
        if names[0] == "category" and not taxonomy.is_valid(
            padded[0], padded[1] if names[1:2] == ["subcategory"] else None
        ):
            raise MappingError(
                source,
                f"{'/'.join(str(v or '') for v in values)!r} is not in the category taxonomy",
                f"value_maps.{name}.{remote}",
            )
        inbound[remote.casefold()] = padded
        # The first CRM value listed for a tuple is the one written back.
        outbound.setdefault(padded, remote)
        if padded[0] is not None:
            first.setdefault(padded[0], remote)
            if all(value is None for value in padded[1:]):
                alone.setdefault(padded[0], remote)
    fallbacks = {**first, **alone}
    return ValueMap(name, inbound, outbound, fallbacks)
