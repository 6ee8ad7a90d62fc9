"""The CRM fields a sync reads and writes, as connectors take them, and what they found.

The worker turns its field maps into :class:`FieldSpec` items (a CRM name and the kind of
value it holds); a connector makes sure its CRM account has them (``ensure_setup``: HubSpot
creates the missing properties, Salesforce can only name them for an admin) and reads and
writes only those it has (``prepare``). A connector never sees a map.

Kinds (as ``mappings.fields`` names them): ``text``, ``email``, ``integer``, ``decimal``,
``boolean``, ``choice`` (one of ``choices``), ``list`` (values separated by ``;``) and
``json`` (an object as JSON text).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One CRM property (HubSpot) or field (Salesforce) the sync uses."""

    object_type: str  # the connector's: company | account | contact
    name: str  # the CRM's internal / API name
    kind: str = "text"
    label: str = ""
    choices: tuple[str, ...] = ()
    length: int = 255  # longest text a text-like kind holds


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """A field the CRM account lacks, or has with a type that cannot hold the value.
    ``needed`` says what to create, in the CRM's own terms (``Number(16, 2)``)."""

    object_type: str
    crm_object: str  # HubSpot companies / contacts; Salesforce Account / Contact
    name: str
    needed: str
    found: str | None = None  # the type the CRM has, when it has the field

    def describe(self) -> str:
        if self.found is None:
            return f"{self.crm_object}.{self.name} is missing: create it as {self.needed}"
        return (
            f"{self.crm_object}.{self.name} has type {self.found}, which cannot hold the "
            f"value: it needs {self.needed} (left as it is)"
        )


@dataclass(frozen=True, slots=True)
class FieldReport:
    """What setting the fields up found: the properties made, and the problems left."""

    created: tuple[str, ...] = ()  # "companies.crmsync_credit_limit"
    problems: tuple[FieldProblem, ...] = field(default_factory=tuple)

    @property
    def unavailable(self) -> dict[str, frozenset[str]]:
        """CRM names the sync must leave alone, by object type."""
        names: dict[str, set[str]] = {}
        for problem in self.problems:
            names.setdefault(problem.object_type, set()).add(problem.name)
        return {object_type: frozenset(found) for object_type, found in names.items()}


def by_object(fields: Iterable[FieldSpec]) -> Mapping[str, list[FieldSpec]]:
    grouped: dict[str, list[FieldSpec]] = {}
    for spec in fields:
        grouped.setdefault(spec.object_type, []).append(spec)
    return grouped


@dataclass(frozen=True, slots=True)
class FieldList:
    """One read of an object's field list (HubSpot's properties, Salesforce's describe),
    kept compact: of the fields asked about (``asked``), those the account has, each with
    only what the connector reads of it. A real account lists hundreds of fields with
    their options and labels; a sync asks about a few dozen."""

    read_at: float  # time.monotonic()
    asked: frozenset[str]
    found: Mapping[str, Mapping[str, Any]]

    def answers(self, names: Iterable[str], max_age_s: float) -> bool:
        """Whether this read is young enough and asked about all of ``names``."""
        return time.monotonic() - self.read_at < max_age_s and self.asked.issuperset(names)


# A connection's field lists by object, as its connectors keep them. A worker hands each
# connector it builds for a connection the same mapping, so a new connector (a job on
# another thread) does not list the fields again.
FieldLists = MutableMapping[str, FieldList]

Found = Mapping[str, Mapping[str, Any]]


def kept_or_read(
    lists: FieldLists,
    key: str,
    asked: frozenset[str],
    read: Callable[[frozenset[str]], Found],
    *,
    fresh: bool,
    max_age_s: float,
) -> Found:
    """The fields among ``asked`` of the list kept under ``key``, or, when that list is
    older than ``max_age_s``, did not ask about one of them, or ``fresh`` is set, what
    ``read`` finds of them and of those asked before (kept for the next caller)."""
    kept = lists.get(key)
    if kept is not None:
        if not fresh and kept.answers(asked, max_age_s):
            return kept.found
        asked |= kept.asked  # what other callers asked about stays answered
    found = read(asked)
    lists[key] = FieldList(time.monotonic(), asked, found)
    return found
