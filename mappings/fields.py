"""The local fields a map may name: every field of a customer and of a contact, with the
kind of value each holds.

The kind decides three things, in one place:

- the transform an entry gets when the map names none (``payment_terms_days`` reads
  ``"30.0"`` from Salesforce as 30; ``roles`` reads ``"billing;order"`` as a list);
- the value's sync form: what the engine compares, stores in a link's base and puts in a
  conflict row. It is JSON (an amount is the text ``"1000.5"``, never a float), so a base
  read back from the database equals the value it was made from;
- the type a CRM property or field needs to hold it (``mappings.crm_fields``), which
  ``crmsync connect`` creates in HubSpot and names for a Salesforce admin.

The names come from the directory's own field table (``customers.fields``), so a column the
directory learns to validate is mappable at once; only its kind, when it is not text, is
added here. ``archived`` and ``tags`` are the fields that are no column: ``archived`` reads
the customer's ``archived_at`` and is written by archiving or restoring the customer;
``tags`` reads the customer's tags (a table of their own), compared as a sorted set.

Multi-value fields (``roles``, and any later list field such as tags) are written to the
CRMs as one text of values separated by ``;``: the form HubSpot uses for multiple checkboxes
and Salesforce for multi-select picklists, so a property an admin turns into a picklist
later is read the same way.

Adding a field is a few lines: its normalizer in ``customers.fields`` (which makes it a
field here), a ``LocalField`` below when it is not text (``tax_rate``: ``Kind.PERCENT``;
a sales rep's email: ``Kind.EMAIL``; ``tags``: ``Kind.LIST``), an entry in each shipped map
(``crmsync_tax_rate`` / ``Tax_Rate__c``, ...), the Salesforce field in the sandbox's
``CRMSYNC_FIELDS`` and a row in the README's field table; ``crmsync connect`` then makes
the HubSpot property with the right type. A field kept outside the record's row (tags, in
a table of their own) is given a ``derive`` that reads it from the values the worker
collects for the record (``worker.sync.merging.columns``), and the worker writes it
through the directory's own call for it, as it writes ``archived``.

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from customers.errors import InvalidInput
from customers.fields import CONTACT_FIELDS, CUSTOMER_FIELDS
from customers.models import CustomerStatus, CustomerType
from customers.tags import normalize_tags


class Kind(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    INTEGER = "integer"
    DECIMAL = "decimal"
    PERCENT = "percent"  # a decimal percent, 0-100 with up to 4 places (a tax rate)
    BOOLEAN = "boolean"
    CHOICE = "choice"
    LIST = "list"
    JSON = "json"


# The transform an entry of each kind gets when its map names none.
DEFAULT_TRANSFORM = {
    Kind.TEXT: "text",
    Kind.EMAIL: "email",
    Kind.INTEGER: "integer",
    Kind.DECIMAL: "decimal",
    Kind.PERCENT: "decimal",
    Kind.BOOLEAN: "boolean",
    Kind.CHOICE: "text",
    Kind.LIST: "list",
    Kind.JSON: "json",
}


def parse_boolean(value: Any) -> bool | None:
    """A yes/no as the CRMs and people write it; ``ValueError`` for anything else."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _archived(columns: Mapping[str, Any]) -> Any:
    return columns["archived_at"] is not None


def _tags(columns: Mapping[str, Any]) -> Any:
    return sorted(columns["tags"])


def sync_tags(value: Any) -> list[str]:
    """Tags as the engine compares them: the directory's form of each, distinct and sorted,
    so ``VIP;eu`` from a CRM equals the customer's ``eu``, ``vip`` (a set has no order). A
    tag the directory refuses is a ``ValueError``, as any CRM value it cannot read."""
    try:
        return sorted(normalize_tags(value))
    except InvalidInput as error:
        raise ValueError(str(error)) from None


@dataclass(frozen=True)
class LocalField:
    name: str
    kind: Kind = Kind.TEXT
    label: str = ""
    choices: tuple[str, ...] = ()  # the values a CHOICE field takes
    # For a field that is no column: the column it is read from, and how.
    derived_from: str | None = None
    derive: Callable[[Mapping[str, Any]], Any] | None = None
    normalize: Callable[[Any], Any] | None = None  # when the directory has none for it
    # The directory always holds a value (status, type): a blank CRM value is read as not
    # known (the entry's default ``on_blank`` is ``keep``), never as a clear.
    nullable: bool = True

    @property
    def transform(self) -> str:
        return DEFAULT_TRANSFORM[self.kind]


# Kinds of the fields that are not text; labels of those a CRM property is made for.
_CUSTOMER = (
    LocalField("email", Kind.EMAIL, "Email"),
    LocalField("tax_id", Kind.TEXT, "Tax id / VAT"),
    LocalField("registration_number", Kind.TEXT, "Registration number"),
    LocalField(
        "customer_type",
        Kind.CHOICE,
        "Customer type",
        tuple(t.value for t in CustomerType),
        nullable=False,
    ),
    LocalField(
        "status",
        Kind.CHOICE,
        "Customer status",
        tuple(s.value for s in CustomerStatus),
        nullable=False,
    ),
    LocalField("currency", Kind.TEXT, "Currency (ISO 4217)"),
    LocalField("payment_terms_days", Kind.INTEGER, "Payment terms (days)"),
    LocalField("credit_limit", Kind.DECIMAL, "Credit limit"),
    LocalField("custom_properties", Kind.JSON, "Custom properties"),
    # Always a value (0.00 by default, never NULL): a blank CRM rate is not known, so the
    # directory's rate stays and the next push fills the blank (``on_blank: keep``).
    LocalField("tax_rate", Kind.PERCENT, "Tax rate (%)", nullable=False),
    LocalField("sales_rep_email", Kind.EMAIL, "Sales rep email"),
    LocalField("sales_rep_name", Kind.TEXT, "Sales rep"),
    LocalField(
        "tags",
        Kind.LIST,
        "Tags",
        derived_from="tags",  # a table of its own: the worker reads the customer's tags
        derive=_tags,
        normalize=sync_tags,
    ),
    LocalField(
        "archived",
        Kind.BOOLEAN,
        "Archived",
        derived_from="archived_at",
        derive=_archived,
        normalize=parse_boolean,
    ),
)
_CONTACT = (
    LocalField("email", Kind.EMAIL, "Email"),
    LocalField("roles", Kind.LIST, "Contact roles"),
)


def _registry(
    directory: Mapping[str, Callable[[Any], Any]], special: tuple[LocalField, ...]
) -> dict[str, LocalField]:
    by_name = {
        name: LocalField(name, label=name.replace("_", " ").capitalize()) for name in directory
    }
    by_name.update({field.name: field for field in special})
    return by_name


LOCAL_FIELDS: dict[str, dict[str, LocalField]] = {
    "customer": _registry(CUSTOMER_FIELDS, _CUSTOMER),
    "contact": _registry(CONTACT_FIELDS, _CONTACT),
}


def local_field(local_type: str, name: str) -> LocalField | None:
    return LOCAL_FIELDS[local_type].get(name)


def normalizer(local_type: str, name: str) -> Callable[[Any], Any]:
    """The directory's normalizer for a field, returning the value's sync form."""
    found = LOCAL_FIELDS[local_type][name]
    directory = CUSTOMER_FIELDS if local_type == "customer" else CONTACT_FIELDS
    normalize = found.normalize or directory[name]
    return lambda value: sync_form(normalize(value))


def sync_form(value: Any) -> Any:
    """A local value as the engine compares and stores it: JSON, equal when the values are.
    An amount is its shortest exact text (``Decimal("1000.50")`` -> ``"1000.5"``)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def derived(name: str, columns: Mapping[str, Any]) -> tuple[bool, Any]:
    """(given, value) of a field that is no column, from a record's columns."""
    for fields in LOCAL_FIELDS.values():
        found = fields.get(name)
        if found is not None and found.derive is not None and found.derived_from in columns:
            return True, found.derive(columns)
    return False, None


def dumps(value: Any) -> str:
    """JSON text of a whole ``custom_properties`` object, keys sorted: one value, one text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
