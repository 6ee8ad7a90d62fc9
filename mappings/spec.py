"""What a loaded field map is: immutable specs the engine reads and nothing writes.

An ``ObjectMap`` pairs one CRM object (a HubSpot company, a Salesforce Contact) with one
kind of local record (customer or contact) through ``FieldMap`` entries. Each entry maps
one CRM property to one or more local fields (Salesforce ``BillingStreet`` holds both
street lines; an industry value holds category and subcategory), with a sync rule and a
transform. Local field names are the directory's column names; ``custom_properties.<key>``
names a key inside a record's ``custom_properties``.

The meaning of each rule is documented on ``Rule``; how a conflict is decided lives in
``mappings.merge``. Nothing here reads files (``mappings.loader`` does) or touches data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

CUSTOM_PREFIX = "custom_properties."

LocalValues = tuple[str | None, ...]


class Rule(StrEnum):
    """How a field syncs. Every rule except ``dont_sync`` syncs in both directions.

    Per field, against the base (the value both sides held after the last sync):

    - unchanged on both sides: nothing happens;
    - both sides now hold the same value: nothing is written, the base moves to it;
    - changed on one side only: that side wins, for every rule below, whether the change
      sets, edits or clears the value (a cleared CRM field clears the local one);
    - changed on both sides to different values (a conflict), the rule decides:

    ``two_way``
        the side changed most recently wins: the local record's change time against the
        CRM record's modified time (neither side keeps per-field times). Equal times, or a
        time not known, and the CRM wins.
    ``prefer_crm_unless_blank``
        the CRM wins, unless the CRM's new value is blank: then local wins.
    ``always_crm``
        the CRM wins, blank or not.
    ``always_local``
        local wins, blank or not.
    ``dont_sync``
        the field is never read from the CRM nor written to it; it is not in the base.

    With no base yet (a new link, or a field newly added to the map) a value on one side
    and a blank on the other fills the blank without a conflict; two different values are
    a conflict the rule decides.
    """

    TWO_WAY = "two_way"
    PREFER_CRM_UNLESS_BLANK = "prefer_crm_unless_blank"
    ALWAYS_CRM = "always_crm"
    ALWAYS_LOCAL = "always_local"
    DONT_SYNC = "dont_sync"


@dataclass(frozen=True)
class ValueMap:
    """A two-way table between CRM values and tuples of local values.

    ``inbound`` is keyed by the CRM value folded to lower case (HubSpot enumerations and
    Salesforce picklists differ in case between API and UI). ``outbound`` gives, for each
    local tuple the table can produce, the first CRM value that produces it; ``fallbacks``
    gives, per first local value (the category), the CRM value to use for a tuple the CRM
    has no exact value for.
    """

    name: str
    inbound: Mapping[str, LocalValues]
    outbound: Mapping[LocalValues, str]
    fallbacks: Mapping[str, str] = field(default_factory=dict)

    def to_local(self, remote: str) -> LocalValues | None:
        return self.inbound.get(remote.strip().casefold())

    def to_remote(self, local: LocalValues) -> str | None:
        exact = self.outbound.get(local)
        if exact is not None:
            return exact
        return self.fallbacks.get(local[0]) if local and local[0] is not None else None


@dataclass(frozen=True)
class FieldMap:
    """One map entry: a CRM property <-> one or more local fields."""

    local: tuple[str, ...]
    remote: str
    rule: Rule = Rule.TWO_WAY
    transform: str = "text"
    value_map: ValueMap | None = None
    # The CRM rejects a blank here (Salesforce Account Name, Contact LastName): a blank
    # local value is never pushed; the CRM's value is kept and written back locally.
    required: bool = False
    # The CRM field's length (Salesforce's from describe): a longer local value is written
    # cut to it, and the cut value counts as what local holds "as the CRM sees it", so it is
    # neither refused (STRING_TOO_LONG) nor pushed again and again.
    max_length: int | None = None
    # A blank CRM value (HubSpot's null, an empty string) clears the local value, as any
    # other CRM change; ``on_blank: keep`` reads it as not known instead, so the local
    # value stays and is written to the CRM, filling the blank.
    keep_on_blank: bool = False
    source: str = ""  # the file this entry came from, for error messages

    def reads(self, properties: Mapping[str, Any]) -> bool:
        """The CRM record says something about this entry: its property is present, and
        not a blank the entry keeps the local value over."""
        if self.remote not in properties:
            return False
        value = properties[self.remote]
        blank = value is None or (isinstance(value, str) and not value.strip())
        return not (blank and self.keep_on_blank)

    # Read for every entry of every record: worked out once per entry (the dataclass is
    # frozen, so what it is made of never changes; a cached value is not a field).
    @cached_property
    def key(self) -> str:
        """The entry's name in conflicts and problems: its local field(s)."""
        return "+".join(self.local)

    @property
    def syncs(self) -> bool:
        return self.rule is not Rule.DONT_SYNC


@dataclass(frozen=True)
class ObjectMap:
    """The whole map between one CRM object type and one local record type."""

    provider: str  # hubspot | salesforce
    object_type: str  # as connectors name it: company | account | contact
    local_type: str  # customer | contact
    fields: tuple[FieldMap, ...]
    # What a blank is written as: HubSpot clears a property with "", Salesforce with null.
    blank: str | None = ""
    # Local field whose value (an ISO country) reads national phone numbers, if any.
    phone_region: str | None = None
    sources: tuple[str, ...] = ()

    @cached_property
    def synced(self) -> tuple[FieldMap, ...]:
        """The entries that sync (every rule but ``dont_sync``), in map order."""
        return tuple(entry for entry in self.fields if entry.syncs)

    @cached_property
    def synced_phones_last(self) -> tuple[FieldMap, ...]:
        """``synced`` with the phone entries last: the order to read a record in, as the
        country read before them decides how national numbers read."""
        return tuple(sorted(self.synced, key=lambda entry: entry.transform == "phone"))

    @property
    def remote_properties(self) -> tuple[str, ...]:
        """The CRM properties to ask for when reading records for this map."""
        return tuple(entry.remote for entry in self.synced)

    @cached_property
    def local_fields(self) -> tuple[str, ...]:
        """The local fields this map owns (reads from and writes to)."""
        return tuple(name for entry in self.synced for name in entry.local)

    def entry(self, key: str) -> FieldMap:
        """The entry whose key (or one of whose local fields) is ``key``."""
        for candidate in self.fields:
            if candidate.key == key or key in candidate.local:
                return candidate
        raise KeyError(key)
