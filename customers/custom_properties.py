"""Custom properties: the rules for their keys and values, and changes to them key by key.

A customer's ``custom_properties`` is a small flat JSON object of values the directory has
no column for (a CRM's ``segment``, an ``industry``). Whatever sets them from outside (the
CLI, a CSV import, a CRM sync) changes single keys: a change names the keys to set and the
keys to remove, and every other key stays as it is. :class:`CustomChanges` is that change;
the service layer applies it to the stored object inside its transaction, so two changes
of different keys never erase each other.

This module is pure: it validates and merges values, it never reads or writes a database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from customers.errors import FieldError, InvalidInput

FIELD = "custom_properties"
MAX_KEYS = 100
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 1_000
KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# What a stored value may be: what every CRM and a CSV cell can hold, and what JSON keeps
# exactly. Removing a key is a removal, not a stored null.
Scalar = str | int | float | bool


def check_key(key: Any) -> str:
    """The key as stored; ``ValueError`` saying why it is not one."""
    if not isinstance(key, str):
        raise ValueError(f"{key!r} is not a key (keys are text)")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"key {key[:20]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        )
    if not KEY.fullmatch(key):
        raise ValueError(
            f"{key!r} is not a key (a letter, then letters, digits and _; "
            f"at most {MAX_KEY_LENGTH} characters)"
        )
    return key


def check_value(key: str, value: Any) -> Scalar:
    """The value as stored (text without surrounding blanks; ``""`` is a value);
    ``ValueError`` naming the key."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_VALUE_LENGTH:
            raise ValueError(
                f"value of {key!r} is {len(text)} characters long; the limit is {MAX_VALUE_LENGTH}"
            )
        if "\x00" in text:  # PostgreSQL's JSONB cannot hold one
            raise ValueError(f"value of {key!r} holds a NUL character")
        return text
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise ValueError(
        f"value of {key!r} is not text, a number or true/false (got {type(value).__name__})"
    )


def normalize_custom_properties(value: Any) -> dict[str, Scalar]:
    """A whole set of custom properties, as a new customer gets it: every key and value
    checked, at most :data:`MAX_KEYS` keys."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be an object of key: value")
    if len(value) > MAX_KEYS:
        raise ValueError(f"has {len(value)} keys; the limit is {MAX_KEYS}")
    return {check_key(key): check_value(key, item) for key, item in value.items()}


@dataclass(frozen=True)
class CustomChanges:
    """Set some keys, remove others; every key not named stays as it is.

    ``missing_ok``: removing a key that is not there is no change rather than an error
    (a CRM that blanks a property it never sent has nothing to remove here; a person who
    names a key that does not exist has most likely mistyped it)."""

    set: Mapping[str, Any] = field(default_factory=dict)
    unset: Sequence[str] = ()
    missing_ok: bool = False

    def __bool__(self) -> bool:
        return bool(self.set) or bool(self.unset)

    def apply(self, current: Mapping[str, Any] | None) -> dict[str, Any]:
        """A new object: ``current`` with the sets, then the removals, applied. Raises
        ``InvalidInput`` naming every bad key (as ``custom_properties.<key>``)."""
        merged = dict(current or {})
        unset = list(dict.fromkeys(self.unset))
        problems: list[FieldError] = []
        for key in set(self.set) & set(unset):
            problems.append(FieldError(f"{FIELD}.{key}", "is both set and unset; choose one"))
        for key, value in self.set.items():
            try:
                merged[check_key(key)] = check_value(key, value)
            except ValueError as error:
                problems.append(FieldError(f"{FIELD}.{key}", str(error)))
        for key in unset:
            if key in merged:
                del merged[key]
            elif not self.missing_ok and key not in self.set:
                problems.append(
                    FieldError(f"{FIELD}.{key}", f"the customer has no custom property {key!r}")
                )
        added = len(merged.keys() - (current or {}).keys())
        if added and len(merged) > MAX_KEYS:
            problems.append(
                FieldError(FIELD, f"would have {len(merged)} keys; the limit is {MAX_KEYS}")
            )
        if problems:
            raise InvalidInput(sorted(problems, key=lambda problem: problem.field))
        return merged
