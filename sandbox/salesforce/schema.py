"""The sObjects the sandbox org knows: Account and Contact, their fields and types.

Field names, types, lengths and flags follow Salesforce's Object Reference and what
``describe`` returns for a fresh Enterprise org. Custom fields (``__c``) are added per
sandbox: the ``CrmsyncId__c`` External ID (unique, case-insensitive) by default, plus
whatever :class:`CustomField` specs the caller passes.

This module only describes; :mod:`sandbox.salesforce.values` checks incoming values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EXTERNAL_ID_FIELD = "CrmsyncId__c"

INDUSTRY_VALUES = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
    "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering",
    "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government",
    "Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media",
    "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
    "Telecommunications", "Transportation", "Utilities", "Other",
)  # fmt: skip
ACCOUNT_TYPE_VALUES = (
    "Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
    "Installation Partner", "Technology Partner", "Other",
)  # fmt: skip

# String-like types: compared case-insensitively in SOQL, "" is stored as null.
TEXT_TYPES = frozenset(
    {"id", "string", "textarea", "url", "phone", "email", "picklist", "reference"}
)
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})


@dataclass(frozen=True, kw_only=True)
class FieldDef:
    name: str
    type: str
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    filterable: bool = True
    sortable: bool = True
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    custom: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    precision: int = 0
    scale: int = 0
    digits: int = 0

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def is_number(self) -> bool:
        return self.type in NUMBER_TYPES


@dataclass(frozen=True, kw_only=True)
class CustomField:
    """A custom field to add to Account and/or Contact, e.g. ``VAT_Number__c``."""

    name: str
    type: str = "string"
    length: int = 255
    label: str | None = None
    objects: tuple[str, ...] = ("Account", "Contact")
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False

    def to_field(self) -> FieldDef:
        if not self.name.endswith("__c"):
            raise ValueError(f"custom field names end with __c: {self.name!r}")
        text = self.type in TEXT_TYPES
        return FieldDef(
            name=self.name,
            type=self.type,
            label=self.label or self.name[:-3].replace("_", " "),
            length=self.length if text else 0,
            external_id=self.external_id,
            unique=self.unique,
            case_sensitive=self.case_sensitive,
            custom=True,
            precision=18 if self.type in NUMBER_TYPES else 0,
            scale=4 if self.type == "percent" else 2 if self.type in ("double", "currency") else 0,
            digits=18 if self.type == "int" else 0,
        )


def _text(name: str, label: str, length: int, **extra: Any) -> FieldDef:
    return FieldDef(name=name, type="string", label=label, length=length, **extra)


def _system_fields(object_name: str) -> list[FieldDef]:
    readonly: dict[str, Any] = {"createable": False, "updateable": False}
    return [
        FieldDef(
            name="Id", type="id", label=f"{object_name} ID", length=18, nillable=False, **readonly
        ),
        FieldDef(name="IsDeleted", type="boolean", label="Deleted", nillable=False, **readonly),
        FieldDef(
            name="MasterRecordId",
            type="reference",
            label="Master Record ID",
            length=18,
            reference_to=(object_name,),
            relationship_name="MasterRecord",
            **readonly,
        ),
    ]


def _audit_fields() -> list[FieldDef]:
    readonly: dict[str, Any] = {"createable": False, "updateable": False, "nillable": False}
    return [
        FieldDef(
            name="OwnerId",
            type="reference",
            label="Owner ID",
            length=18,
            nillable=False,
            reference_to=("User",),
            relationship_name="Owner",
        ),
        FieldDef(name="CreatedDate", type="datetime", label="Created Date", **readonly),
        FieldDef(
            name="CreatedById",
            type="reference",
            label="Created By ID",
            length=18,
            reference_to=("User",),
            relationship_name="CreatedBy",
            **readonly,
        ),
        FieldDef(name="LastModifiedDate", type="datetime", label="Last Modified Date", **readonly),
        FieldDef(
            name="LastModifiedById",
            type="reference",
            label="Last Modified By ID",
            length=18,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
            **readonly,
        ),
        FieldDef(name="SystemModstamp", type="datetime", label="System Modstamp", **readonly),
    ]


def _address(prefix: str, label: str) -> list[FieldDef]:
    return [
        FieldDef(name=f"{prefix}Street", type="textarea", label=f"{label} Street", length=255),
        _text(f"{prefix}City", f"{label} City", 40),
        _text(f"{prefix}State", f"{label} State/Province", 80),
        _text(f"{prefix}PostalCode", f"{label} Zip/Postal Code", 20),
        _text(f"{prefix}Country", f"{label} Country", 80),
    ]


def _description() -> FieldDef:
    # Long text areas can be neither filtered nor sorted in SOQL.
    return FieldDef(name="Description", type="textarea", label="Description", length=32000,
                    filterable=False, sortable=False)  # fmt: skip


def account_fields() -> list[FieldDef]:
    return [
        *_system_fields("Account"),
        FieldDef(name="Name", type="string", label="Account Name", length=255, nillable=False),
        FieldDef(
            name="Type",
            type="picklist",
            label="Account Type",
            length=255,
            picklist=ACCOUNT_TYPE_VALUES,
        ),
        FieldDef(
            name="ParentId",
            type="reference",
            label="Parent Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Parent",
        ),
        *_address("Billing", "Billing"),
        *_address("Shipping", "Shipping"),
        FieldDef(name="Phone", type="phone", label="Account Phone", length=40),
        _text("AccountNumber", "Account Number", 40),
        FieldDef(name="Website", type="url", label="Website", length=255),
        FieldDef(
            name="Industry", type="picklist", label="Industry", length=255, picklist=INDUSTRY_VALUES
        ),
        FieldDef(
            name="AnnualRevenue", type="currency", label="Annual Revenue", precision=18, scale=0
        ),
        FieldDef(name="NumberOfEmployees", type="int", label="Employees", digits=8),
        _description(),
        *_audit_fields(),
    ]


def contact_fields() -> list[FieldDef]:
    return [
        *_system_fields("Contact"),
        FieldDef(
            name="AccountId",
            type="reference",
            label="Account ID",
            length=18,
            reference_to=("Account",),
            relationship_name="Account",
        ),
        FieldDef(name="LastName", type="string", label="Last Name", length=80, nillable=False),
        _text("FirstName", "First Name", 40),
        # The compound full name is computed by Salesforce and read-only.
        _text("Name", "Full Name", 121, createable=False, updateable=False),
        *_address("Mailing", "Mailing"),
        FieldDef(name="Phone", type="phone", label="Business Phone", length=40),
        FieldDef(name="MobilePhone", type="phone", label="Mobile Phone", length=40),
        FieldDef(name="Email", type="email", label="Email", length=80),
        _text("Title", "Title", 128),
        FieldDef(name="Birthdate", type="date", label="Birthdate"),
        _description(),
        *_audit_fields(),
    ]


def user_fields() -> list[FieldDef]:
    """The User fields a sync reads to match a person by email. Read-only here: users are
    added by the sandbox (as an admin would), never through the API."""
    readonly: dict[str, Any] = {"createable": False, "updateable": False}
    return [
        FieldDef(name="Id", type="id", label="User ID", length=18, nillable=False, **readonly),
        _text("Username", "Username", 80, nillable=False, unique=True, **readonly),
        _text("FirstName", "First Name", 40, **readonly),
        _text("LastName", "Last Name", 80, nillable=False, **readonly),
        _text("Name", "Full Name", 121, **readonly),
        FieldDef(name="Email", type="email", label="Email", length=128, nillable=False, **readonly),
        FieldDef(name="IsActive", type="boolean", label="Active", nillable=False, **readonly),
        FieldDef(name="CreatedDate", type="datetime", label="Created Date", **readonly),
        FieldDef(name="LastModifiedDate", type="datetime", label="Last Modified Date", **readonly),
        FieldDef(name="SystemModstamp", type="datetime", label="System Modstamp", **readonly),
    ]


@dataclass
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    # lower-cased name -> canonical name: SOQL and JSON bodies are case-insensitive.
    by_lower: dict[str, str] = field(default_factory=dict)

    def add(self, definition: FieldDef) -> None:
        if definition.name.lower() in self.by_lower:
            raise ValueError(f"{self.name} already has a field {definition.name!r}")
        self.fields[definition.name] = definition
        self.by_lower[definition.name.lower()] = definition.name

    def field(self, name: str) -> FieldDef | None:
        canonical = self.by_lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.external_id]


# The custom fields crmsync's README asks an admin to add, as an org set up that way has
# them: the directory's fields that Salesforce has no standard field for.
CRMSYNC_FIELDS = (
    CustomField(name="Email__c", type="email", length=80, objects=("Account",)),
    CustomField(name="Customer_Status__c", type="picklist", objects=("Account",)),
    CustomField(name="Archived__c", type="boolean", objects=("Account",)),
    CustomField(name="Customer_Type__c", type="picklist", objects=("Account",)),
    CustomField(name="Currency__c", type="string", length=3, objects=("Account",)),
    CustomField(name="Payment_Terms_Days__c", type="double", objects=("Account",)),
    CustomField(name="Credit_Limit__c", type="double", objects=("Account",)),
    CustomField(name="VAT_Number__c", type="string", length=64, objects=("Account",)),
    CustomField(name="Registration_Number__c", type="string", length=64, objects=("Account",)),
    CustomField(name="Tax_Rate__c", type="percent", objects=("Account",)),
    CustomField(name="Sales_Rep_Email__c", type="email", length=80, objects=("Account",)),
    CustomField(name="Sales_Rep_Name__c", type="string", length=120, objects=("Account",)),
    CustomField(name="Tags__c", type="string", objects=("Account",)),
    CustomField(name="Contact_Roles__c", type="string", objects=("Contact",)),
)


def build_schema(
    *,
    with_external_id: bool = True,
    custom_fields: Iterable[CustomField] = (),
    with_crmsync_fields: bool = True,
) -> dict[str, ObjectDef]:
    """Account and Contact with their standard fields and the requested custom fields
    (with ``with_crmsync_fields``, also :data:`CRMSYNC_FIELDS`, each unless one of the
    same name is requested), and User (read-only)."""
    objects = {
        "Account": ObjectDef("Account", "Account", "Accounts", "001"),
        "Contact": ObjectDef("Contact", "Contact", "Contacts", "003"),
        "User": ObjectDef("User", "User", "Users", "005"),
    }
    for definition in user_fields():
        objects["User"].add(definition)
    for definition in account_fields():
        objects["Account"].add(definition)
    for definition in contact_fields():
        objects["Contact"].add(definition)
    extra = list(custom_fields)
    if with_crmsync_fields:
        asked = {custom.name.lower() for custom in extra}
        extra += [custom for custom in CRMSYNC_FIELDS if custom.name.lower() not in asked]
    if with_external_id:
        extra.insert(
            0,
            CustomField(name=EXTERNAL_ID_FIELD, label="crmsync ID", external_id=True, unique=True),
        )
    for custom in extra:
        for object_name in custom.objects:
            objects[object_name].add(custom.to_field())
    return objects
