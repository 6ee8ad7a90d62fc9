"""Three-way merge of one linked record: base, local and CRM, field by field.

The base is the snapshot kept on the link: the values both sides held after the last sync,
in local form, keyed by local field. The merge reads the CRM record through the map, compares
each map entry on all three sides and returns what to write locally, what to push to the
CRM, the conflicts to record and the new base. What each rule does is documented on
``mappings.spec.Rule``; this module is the one place that implements it.

Local values are compared as the CRM would see them (their "projection": to the CRM and
back), so a local detail the CRM cannot hold (a subcategory without a CRM value) is neither
pushed again and again nor overwritten while the CRM is unchanged. Three laws hold, and the
property tests check them:

- merging the same inputs twice gives the same result (pure function);
- applying a result and merging again writes nothing and records no conflict;
- a value we wrote that comes back from the CRM is no change (echo).

The caller applies ``local_writes`` (through ``engine.local_changes``) and
``remote_writes``, and only then stores ``base`` and ``fingerprint`` on the link: if a write
fails, merging again with the old base redoes what is still needed.

Pure: no I/O, no clock (change times are inputs), no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mappings.engine import (
    Values,
    all_blank,
    entry_values,
    fingerprint,
    local_value,
    phone_region,
    project,
    read_entry,
    read_remote,
    write_entry,
)
from mappings.spec import FieldMap, ObjectMap, Rule


class Side(StrEnum):
    LOCAL = "local"
    CRM = "crm"


@dataclass(frozen=True)
class Conflict:
    """A field changed on both sides to different values, and how its rule resolved it.
    Values are in local form: one value for a single-field entry, a dict by local field
    for an entry with several (street lines, category and subcategory)."""

    field: str
    base: Any
    local: Any
    remote: Any
    resolved: Any
    rule: str
    winner: Side


@dataclass(frozen=True)
class MergeResult:
    local_writes: dict[str, Any]  # local field -> value (local form) to write locally
    remote_writes: dict[str, Any]  # CRM property -> value (CRM form) to push
    conflicts: tuple[Conflict, ...]
    base: dict[str, Any]  # the new base snapshot, to store once the writes are done
    fingerprint: str  # of ``base``
    # Entries whose CRM value could not be read (entry key -> why): treated as unchanged
    # in the CRM, reported so the bad value can be fixed at the source.
    problems: dict[str, str] = field(default_factory=dict)
    # Entries that changed on both sides since the base, to the same value (entry keys):
    # no conflict, unless the CRM's value is our own write whose record was lost.
    converged: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.local_writes or self.remote_writes)


def _blank(values: Values) -> bool:
    return all_blank(values)


def _shown(entry: FieldMap, values: Values | None) -> Any:
    if values is None:
        return None
    if len(entry.local) == 1:
        return values[0]
    return dict(zip(entry.local, values, strict=True))


def _base_values(entry: FieldMap, base: Mapping[str, Any]) -> Values | None:
    """The entry's values in the base, or None when the base lacks one of its fields."""
    if len(entry.local) == 1:  # most entries: no generators to build
        name = entry.local[0]
        return (base[name],) if name in base else None
    if all(name in base for name in entry.local):
        return tuple(base[name] for name in entry.local)
    return None


def _country(object_map: ObjectMap, local: Mapping[str, Any]) -> dict[str, Any]:
    """The map's phone_region field with its local value (in sync form): what
    ``phone_region`` reads the record's country from. Empty for a map without one."""
    if object_map.phone_region is None:
        return {}
    return {object_map.phone_region: local_value(local, object_map.phone_region)}


def _aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


def conflict_winner(
    rule: Rule,
    remote: Values,
    *,
    local_changed_at: datetime | None,
    remote_modified_at: datetime | None,
) -> Side:
    """Which side a rule picks when both sides changed a field to different values."""
    if rule is Rule.ALWAYS_LOCAL:
        return Side.LOCAL
    if rule is Rule.ALWAYS_CRM:
        return Side.CRM
    if rule is Rule.PREFER_CRM_UNLESS_BLANK:
        return Side.LOCAL if _blank(remote) else Side.CRM
    if rule is Rule.TWO_WAY:
        # Most recent wins; a tie or an unknown time goes to the CRM, so the outcome never
        # depends on which side happened to be read first.
        if local_changed_at is not None and remote_modified_at is not None:
            return Side.LOCAL if local_changed_at > remote_modified_at else Side.CRM
        return Side.CRM
    raise ValueError(f"rule {rule} does not sync")


def merge(
    object_map: ObjectMap,
    *,
    base: Mapping[str, Any],
    local: Mapping[str, Any],
    remote: Mapping[str, Any],
    local_changed_at: datetime | None = None,
    remote_modified_at: datetime | None = None,
    region: str | None = None,
) -> MergeResult:
    """Merge one linked record.

    ``base``: the link's snapshot (empty for a new link). ``local``: the record's columns
    or flat local values. ``remote``: the CRM record's properties, raw; a property that is
    absent counts as unchanged. ``local_changed_at``: when the local record last changed;
    ``remote_modified_at``: the CRM's modified time; both timezone-aware, used by
    ``two_way`` conflicts only. ``region``: the country to read national phone numbers in
    when the record has none of its own (a contact's company's).
    """
    _aware("local_changed_at", local_changed_at)
    _aware("remote_modified_at", remote_modified_at)
    local_writes: dict[str, Any] = {}
    remote_writes: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    new_base: dict[str, Any] = {}
    problems: dict[str, str] = {}
    converged: list[str] = []
    # Phones are read in the country the merge settles on (the map's phone_region field as
    # it holds once this merge is applied), so both sides read them alike and the next
    # merge agrees. Phones come last, once the country is settled.
    settled = _country(object_map, local)
    for entry in object_map.synced_phones_last:
        entry_region = (
            phone_region(object_map, settled, region) if entry.transform == "phone" else None
        )
        local_values = entry_values(entry, local)
        seen_locally = project(object_map, entry, local_values, entry_region)
        base_values = _base_values(entry, base)
        remote_values: Values | None = None
        raw_key = raw_base_key(entry)
        if raw_key is not None and raw_key in base:
            new_base[raw_key] = base[raw_key]
        if entry.reads(remote):
            if (
                raw_key is not None
                and raw_key in base
                and base_values is not None
                and base[raw_key] == remote[entry.remote]
            ):
                # The CRM holds the text it held at the last sync: no CRM change, however
                # the text reads now (a national phone number read in a billing country
                # that has changed since would otherwise look like a new number).
                remote_values = base_values
            else:
                try:
                    remote_values = read_entry(
                        object_map, entry, remote[entry.remote], entry_region
                    )
                except (ValueError, TypeError) as error:
                    problems[entry.key] = f"{entry.remote}={remote[entry.remote]!r}: {error}"
                if raw_key is not None:
                    new_base[raw_key] = remote[entry.remote]
        elif entry.remote in remote and not _blank(seen_locally):
            # The CRM holds a blank this entry reads as not known: the directory's value
            # fills it. No base for the entry until the push has written it, so the push
            # (which sends an entry with no base when it has a value) cannot skip it.
            remote_writes[entry.remote] = write_entry(object_map, entry, local_values)
            if raw_key is not None:
                new_base.pop(raw_key, None)
            continue
        if remote_values is None:
            if base_values is None:
                continue  # nothing known to merge against; a later full read will tell
            remote_values = base_values
        if seen_locally == remote_values:
            if base_values is not None and base_values != remote_values:
                converged.append(entry.key)
            new_base.update(zip(entry.local, remote_values, strict=True))
            continue
        winner, conflicted = _decide(
            entry,
            base_values,
            seen_locally,
            remote_values,
            local_changed_at=local_changed_at,
            remote_modified_at=remote_modified_at,
        )
        if winner is Side.LOCAL:
            remote_writes[entry.remote] = write_entry(object_map, entry, local_values)
            new_base.update(zip(entry.local, seen_locally, strict=True))
            if raw_key is not None:
                new_base[raw_key] = remote_writes[entry.remote]
        else:
            for name, remote_value, current in zip(
                entry.local, remote_values, local_values, strict=True
            ):
                if remote_value != current:
                    local_writes[name] = remote_value
            new_base.update(zip(entry.local, remote_values, strict=True))
            if object_map.phone_region in entry.local:
                settled.update(zip(entry.local, remote_values, strict=True))
        if conflicted:
            conflicts.append(
                Conflict(
                    field=entry.key,
                    base=_shown(entry, base_values),
                    local=_shown(entry, local_values),
                    remote=_shown(entry, remote_values),
                    resolved=_shown(entry, local_values if winner is Side.LOCAL else remote_values),
                    rule=entry.rule.value,
                    winner=winner,
                )
            )
    return MergeResult(
        local_writes=local_writes,
        remote_writes=remote_writes,
        conflicts=tuple(conflicts),
        base=new_base,
        fingerprint=fingerprint(new_base),
        problems=problems,
        converged=tuple(converged),
    )


def unpushed_base(
    object_map: ObjectMap, result: MergeResult, remote: Mapping[str, Any]
) -> dict[str, Any]:
    """The base to store for a merge whose ``remote_writes`` are not pushed yet: the entries
    local won keep the CRM's value (as read from ``remote``, the record's properties), so the
    push sees local != base and sends them."""
    base = dict(result.base)
    if result.remote_writes:
        pushed = [entry for entry in object_map.synced if entry.remote in result.remote_writes]
        # Only a phone reads differently in context (the record's country): read the whole
        # record for one, else only the properties to push (the merge read the others).
        if not any(entry.transform == "phone" for entry in pushed):
            remote = {
                entry.remote: remote[entry.remote] for entry in pushed if entry.remote in remote
            }
        read, _ = read_remote(object_map, remote, region=None)
        for entry in object_map.synced:
            if entry.remote in result.remote_writes and entry.key in read:
                base.update(zip(entry.local, read[entry.key], strict=True))
    return base


def outbound_changes(
    object_map: ObjectMap,
    base: Mapping[str, Any],
    local: Mapping[str, Any],
    region: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What to push when only the local side is known (an outbox entry, no fresh CRM read).

    Returns the CRM properties to write and the base values they become once written
    (to merge into the link's base). For entries with a base this is ``merge`` with every
    CRM property unchanged: pushed when the local value, as the CRM would hold it, differs
    from the base. Two differences, because no CRM value is at hand: an entry with no base
    yet is pushed when it has a value (``merge`` would wait for a read), and a required
    entry's blank is not pushed (the next merge with a read writes the CRM's value back).
    """
    properties: dict[str, Any] = {}
    new_base: dict[str, Any] = {}
    settled = _country(object_map, local)
    for entry in object_map.synced_phones_last:
        values = entry_values(entry, local)
        seen = project(object_map, entry, values, phone_region(object_map, settled, region))
        if all(name in base for name in entry.local):
            if tuple(base[name] for name in entry.local) == seen:
                continue
        elif _blank(seen):
            continue
        if entry.required and _blank(seen):
            continue
        properties[entry.remote] = write_entry(object_map, entry, values)
        new_base.update(zip(entry.local, seen, strict=True))
        raw_key = raw_base_key(entry)
        if raw_key is not None:
            new_base[raw_key] = properties[entry.remote]
    return properties, new_base


# Base keys that hold the CRM's own text of a field whose reading depends on another field
# (phones: national numbers are read in the billing country). Not local fields.
RAW_PREFIX = "_crm:"


def raw_base_key(entry: FieldMap) -> str | None:
    """The base key keeping the CRM's text of this entry, for entries read in context."""
    return f"{RAW_PREFIX}{entry.remote}" if entry.transform == "phone" else None


def _decide(
    entry: FieldMap,
    base: Values | None,
    local: Values,
    remote: Values,
    *,
    local_changed_at: datetime | None,
    remote_modified_at: datetime | None,
) -> tuple[Side, bool]:
    """The winning side for an entry whose sides differ, and whether it was a conflict."""
    local_changed = base is None or local != base
    remote_changed = base is None or remote != base
    conflicted = False
    if local_changed and not remote_changed:
        winner = Side.LOCAL
    elif remote_changed and not local_changed:
        winner = Side.CRM
    elif base is None and _blank(remote):
        winner = Side.LOCAL  # first sync: a value fills a blank, no conflict
    elif base is None and _blank(local):
        winner = Side.CRM
    else:
        conflicted = True
        winner = conflict_winner(
            entry.rule,
            remote,
            local_changed_at=local_changed_at,
            remote_modified_at=remote_modified_at,
        )
    if winner is Side.LOCAL and entry.required and _blank(local) and not _blank(remote):
        winner = Side.CRM  # the CRM cannot hold a blank here: keep its value on both sides
    return winner, conflicted
