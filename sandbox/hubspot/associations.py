"""Contact <-> company associations of one portal and their HubSpot type ids.

HubSpot stores an association once and shows it from both sides with different type ids:
contact->company primary 1 / unlabeled 279, company->contact primary 2 / unlabeled 280. A
primary association is always also an unlabeled one, and a contact has at most one primary
company (mirrored in its ``associatedcompanyid`` property, which the store keeps in step).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PRIMARY = "primary"
UNLABELED = "unlabeled"

# (from type, to type) -> {kind: type id}
TYPE_IDS: dict[tuple[str, str], dict[str, int]] = {
    ("contacts", "companies"): {PRIMARY: 1, UNLABELED: 279},
    ("companies", "contacts"): {PRIMARY: 2, UNLABELED: 280},
}
KIND_BY_TYPE_ID = {type_id: kind for ids in TYPE_IDS.values() for kind, type_id in ids.items()}
LABELS = {PRIMARY: "Primary", UNLABELED: None}
# The association type names v3 object reads use.
V3_NAMES = {
    ("contacts", "companies"): {
        PRIMARY: "contact_to_company",
        UNLABELED: "contact_to_company_unlabeled",
    },
    ("companies", "contacts"): {
        PRIMARY: "company_to_contact",
        UNLABELED: "company_to_contact_unlabeled",
    },
}


def kinds_for(from_type: str, to_type: str, type_ids: Iterable[int]) -> set[str] | None:
    """Type ids as kinds, or None if one of them does not exist between these types."""
    valid = TYPE_IDS[(from_type, to_type)]
    kinds = set()
    for type_id in type_ids:
        kind = KIND_BY_TYPE_ID.get(type_id)
        if kind is None or valid[kind] != type_id:
            return None
        kinds.add(kind)
    return kinds


def specs_json(from_type: str, to_type: str, kinds: set[str]) -> list[dict[str, Any]]:
    ids = TYPE_IDS[(from_type, to_type)]
    order = [kind for kind in (PRIMARY, UNLABELED) if kind in kinds]
    return [
        {"category": "HUBSPOT_DEFINED", "typeId": ids[kind], "label": LABELS[kind]}
        if LABELS[kind]
        else {"category": "HUBSPOT_DEFINED", "typeId": ids[kind]}
        for kind in order
    ]


@dataclass
class AssociationIndex:
    """Pairs keyed (contact id, company id) -> kinds, indexed from both sides."""

    pairs: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    by_contact: dict[int, set[int]] = field(default_factory=dict)
    by_company: dict[int, set[int]] = field(default_factory=dict)

    @staticmethod
    def key(from_type: str, from_id: int, to_id: int) -> tuple[int, int]:
        return (from_id, to_id) if from_type == "contacts" else (to_id, from_id)

    def kinds(self, contact_id: int, company_id: int) -> set[str]:
        return self.pairs.get((contact_id, company_id), set())

    def neighbours(self, object_type: str, object_id: int) -> list[int]:
        side = self.by_contact if object_type == "contacts" else self.by_company
        return sorted(side.get(object_id, ()))

    def primary_company(self, contact_id: int) -> int | None:
        for company_id in self.by_contact.get(contact_id, ()):
            if PRIMARY in self.pairs[(contact_id, company_id)]:
                return company_id
        return None

    def add(self, contact_id: int, company_id: int, kinds: set[str]) -> set[str]:
        """Add kinds; returns the kinds that are new."""
        current = self.pairs.setdefault((contact_id, company_id), set())
        wanted = set(kinds) | {UNLABELED}
        added = wanted - current
        current |= wanted
        self.by_contact.setdefault(contact_id, set()).add(company_id)
        self.by_company.setdefault(company_id, set()).add(contact_id)
        return added

    def remove(self, contact_id: int, company_id: int, kinds: set[str] | None = None) -> set[str]:
        """Remove kinds (all when None; removing the unlabeled kind removes the pair)."""
        current = self.pairs.get((contact_id, company_id))
        if not current:
            return set()
        if kinds is None or UNLABELED in kinds:
            removed = set(current)
            del self.pairs[(contact_id, company_id)]
            self.by_contact[contact_id].discard(company_id)
            self.by_company[company_id].discard(contact_id)
            return removed
        removed = current & kinds
        current -= kinds
        return removed
