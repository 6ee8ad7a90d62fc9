"""Categorizers: decide a customer's category and subcategory from what is known about it.

Every backend implements :class:`Categorizer`: it receives :class:`CustomerFacts` (plain
values, no database rows) and returns a :class:`Categorization` that is always inside the
taxonomy in ``customers.taxonomy``. ``customers.categorizers.rules`` is the offline default;
the OpenAI-compatible backend lives with the other outside services in ``connectors.llm``
and raises the connector error taxonomy. Which one runs is chosen by settings in the worker.

Nothing here reads or writes the database (``customers.categorize`` does that) or talks
to the network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from customers import taxonomy

MANUAL_SOURCE = "manual"  # a person chose the category; no categorizer ever overwrites it


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What a categorizer may look at. Deliberately excludes notes, contacts, tax ids and
    money: a categorizer may be an outside service, and it needs none of them."""

    name: str
    email: str | None = None
    website: str | None = None
    domain: str | None = None
    customer_type: str | None = None
    industry: str | None = None  # the CRM's own industry value, as the CRM spells it
    country: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The facts that are known (blank ones left out)."""
        return {key: value for key, value in asdict(self).items() if value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerFacts:
        known = {f.name for f in fields(cls)}
        values = {key: str(value) for key, value in data.items() if key in known and value}
        if "name" not in values:
            raise ValueError("facts need a name")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Categorization:
    """A categorizer's answer. Constructing one outside the taxonomy raises ``ValueError``."""

    category: str
    subcategory: str | None
    confidence: float
    source: str  # backend and model, e.g. "rules" or "llm:gpt-4o-mini"
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not taxonomy.is_valid(self.category, self.subcategory):
            pair = f"{self.category}/{self.subcategory}" if self.subcategory else self.category
            raise ValueError(f"{pair!r} is not in the taxonomy")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence}")
        if not self.source or self.source == MANUAL_SOURCE:
            raise ValueError(f"{self.source!r} is not a categorizer source")


class Categorizer(Protocol):
    """One backend. ``categorize`` may raise ``connectors.errors`` when it calls out."""

    @property
    def source(self) -> str:
        """What is stored as the customer's ``category_source``."""
        ...

    def categorize(self, facts: CustomerFacts) -> Categorization: ...
