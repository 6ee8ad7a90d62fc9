"""Which of the field map's Salesforce fields an org has, by ``describe``.

Salesforce's REST API cannot create fields: an admin adds them (the README lists them).
Until then a query naming a missing field fails whole (``INVALID_FIELD``), so the connector
asks ``describe`` which fields exist, queries and writes only those, and reports the rest by
API name with the type to create. A field of a type that cannot hold the value is reported
and left alone the same way. The answer is kept for :data:`RECHECK_S`, so a field an admin
adds is picked up without a restart. Calls go through
:class:`connectors.salesforce.api.SalesforceApi`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from connectors.fields import FieldProblem, FieldReport, FieldSpec, by_object
from connectors.salesforce.api import SalesforceApi
from connectors.salesforce.writes import SOBJECTS

RECHECK_S = 900.0

# The field type an admin creates for a value of each kind (Setup's names).
CREATE_AS = {
    "text": "Text({length})",
    "email": "Email",
    "integer": "Number(18, 0)",
    "decimal": "Number(16, 2)",
    "percent": "Percent(3, 4)",
    "boolean": "Checkbox",
    "choice": "Picklist ({choices})",
    "list": "Text(255), values separated by ;",
    "json": "Long Text Area(32768)",
}
# describe types that hold a value of the kind.
HOLDS = {
    "text": {"string", "textarea", "picklist", "email", "url", "phone"},
    "email": {"email", "string"},
    "integer": {"double", "int", "currency", "percent"},
    "decimal": {"double", "currency", "percent"},
    "percent": {"percent", "double"},
    "boolean": {"boolean"},
    "choice": {"picklist", "string"},
    "list": {"string", "textarea", "multipicklist"},
    "json": {"textarea"},
}


def needed(spec: FieldSpec) -> str:
    template = CREATE_AS.get(spec.kind, CREATE_AS["text"])
    return template.format(length=spec.length, choices=", ".join(spec.choices))


class SalesforceFields:
    def __init__(self, *, api: SalesforceApi) -> None:
        self.api = api
        self._described: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}

    def describe(self, object_type: str, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        """The object's fields by lower-cased API name (API names are case-insensitive)."""
        kept = self._described.get(object_type)
        if kept is not None and not fresh and time.monotonic() - kept[0] < RECHECK_S:
            return kept[1]
        sobject = SOBJECTS[object_type]
        answer = self.api.call(
            "sobject.describe",
            lambda sf, o, s=sobject: sf.restful(f"sobjects/{s}/describe/", **o),
        )
        found = {str(f.get("name", "")).lower(): f for f in (answer or {}).get("fields", [])}
        self._described[object_type] = (time.monotonic(), found)
        return found

    def check(self, fields: Sequence[FieldSpec], *, fresh: bool = False) -> FieldReport:
        """The fields the org lacks, or has with a type that cannot hold the value."""
        problems: list[FieldProblem] = []
        for object_type, specs in by_object(fields).items():
            described = self.describe(object_type, fresh=fresh)
            for spec in specs:
                found = described.get(spec.name.lower())
                sobject = SOBJECTS[object_type]
                if found is None:
                    problems.append(FieldProblem(object_type, sobject, spec.name, needed(spec)))
                elif str(found.get("type")) not in HOLDS.get(spec.kind, HOLDS["text"]):
                    problems.append(
                        FieldProblem(
                            object_type, sobject, spec.name, needed(spec), found=found.get("type")
                        )
                    )
        return FieldReport(problems=tuple(problems))
