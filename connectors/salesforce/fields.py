"""Which of the field map's Salesforce fields an org has, by ``describe``.

Salesforce's REST API cannot create fields: an admin adds them (the README lists them).
Until then a query naming a missing field fails whole (``INVALID_FIELD``), so the connector
asks ``describe`` which fields exist, queries and writes only those, and reports the rest by
API name with the type to create. A field of a type that cannot hold the value is reported
and left alone the same way. The answer is kept for :data:`RECHECK_S`, so a field an admin
adds is picked up without a restart, and compact: the fields asked about (those queried and
the map's), with their type, in the caller's :data:`connectors.fields.FieldLists` when it
gives one. Calls go through
:class:`connectors.salesforce.api.SalesforceApi`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from connectors.fields import (
    FieldLists,
    FieldProblem,
    FieldReport,
    FieldSpec,
    Found,
    by_object,
    kept_or_read,
)
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
    def __init__(
        self,
        *,
        api: SalesforceApi,
        kept: FieldLists | None = None,
        always: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.api = api
        self._described: FieldLists = {} if kept is None else kept
        # Fields each describe asks about besides those its caller names.
        self._always = {
            object_type: frozenset(name.lower() for name in names)
            for object_type, names in (always or {}).items()
        }

    def describe(self, object_type: str, names: Iterable[str], *, fresh: bool = False) -> Found:
        """The object's fields among ``names``, by lower-cased API name (API names are
        case-insensitive), each with its ``name`` as Salesforce spells it, ``type`` and
        ``externalId``. Described again when the kept answer is older than
        :data:`RECHECK_S`, did not ask about one of ``names``, or ``fresh`` is set."""
        sobject = SOBJECTS[object_type]

        def read(asked: frozenset[str]) -> Found:
            answer = self.api.call(
                "sobject.describe",
                lambda sf, o: sf.restful(f"sobjects/{sobject}/describe/", **o),
            )
            return {
                key: {
                    "name": item.get("name"),
                    "type": item.get("type"),
                    "externalId": bool(item.get("externalId")),
                }
                for item in (answer or {}).get("fields", [])
                if (key := str(item.get("name", "")).lower()) in asked
            }

        asked = frozenset(name.lower() for name in names)
        asked |= self._always.get(object_type, frozenset())
        return kept_or_read(
            self._described, object_type, asked, read, fresh=fresh, max_age_s=RECHECK_S
        )

    def check(self, fields: Sequence[FieldSpec], *, fresh: bool = False) -> FieldReport:
        """The fields the org lacks, or has with a type that cannot hold the value."""
        problems: list[FieldProblem] = []
        for object_type, specs in by_object(fields).items():
            described = self.describe(object_type, [spec.name for spec in specs], fresh=fresh)
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
