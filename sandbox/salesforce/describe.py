"""Describe results: ``sobjects/`` (global), ``sobjects/{Object}/`` and ``.../describe``.

Only the keys a client is likely to read are filled in, each with the value a fresh
org reports; the field list comes from :mod:`sandbox.salesforce.schema`.
"""

from __future__ import annotations

from typing import Any

from .schema import FieldDef, ObjectDef

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
}


def object_urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
    }


def object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "keyPrefix": obj.key_prefix,
        "custom": False,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "undeletable": True,
        "mergeable": True,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "urls": object_urls(obj, version),
    }


def describe_field(definition: FieldDef) -> dict[str, Any]:
    return {
        "name": definition.name,
        "label": definition.label,
        "type": definition.type,
        "soapType": _SOAP_TYPES.get(definition.type, "xsd:string"),
        "length": definition.length,
        "precision": definition.precision,
        "scale": definition.scale,
        "digits": definition.digits,
        "custom": definition.custom,
        "externalId": definition.external_id,
        "unique": definition.unique,
        "caseSensitive": definition.case_sensitive,
        "idLookup": definition.name == "Id" or definition.external_id,
        "nillable": definition.nillable,
        "createable": definition.createable,
        "updateable": definition.updateable,
        "filterable": definition.filterable,
        "sortable": definition.sortable,
        "defaultedOnCreate": definition.name in ("Id", "IsDeleted", "OwnerId")
        or not definition.createable,
        "referenceTo": list(definition.reference_to),
        "relationshipName": definition.relationship_name,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": False,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in definition.picklist
        ],
        "restrictedPicklist": False,
    }


def describe_object(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        **object_summary(obj, version),
        "fields": [describe_field(definition) for definition in obj.fields.values()],
        "childRelationships": (
            [
                {
                    "childSObject": "Contact",
                    "field": "AccountId",
                    "relationshipName": "Contacts",
                    "cascadeDelete": True,
                }
            ]
            if obj.name == "Account"
            else []
        ),
    }


def describe_global(schema: dict[str, ObjectDef], version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(obj, version) for obj in schema.values()],
    }
