"""What the two sandboxes hold at the end of a soak, read the same way for both CRMs.

Records are read through the sandboxes' admin methods (raw state, never through the sync's
own connectors, so a connector bug cannot hide itself), by the sync's object type names
(``company``, ``account``, ``contact``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HUBSPOT_TYPES = {"company": "companies", "contact": "contacts"}
SALESFORCE_TYPES = {"account": "Account", "contact": "Contact"}
ID_FIELDS = {"hubspot": "crmsync_id", "salesforce": "CrmsyncId__c"}


@dataclass(frozen=True)
class CrmRecord:
    external_id: str
    properties: dict[str, Any]
    live: bool
    note: str = ""  # why it is not live: deleted, merged into X

    @property
    def crmsync_id(self) -> str | None:
        for name in ID_FIELDS.values():
            value = self.properties.get(name)
            if value:
                return str(value)
        return None


class CrmState:
    """Every record of one CRM, live and gone, by object type and id."""

    def __init__(self, provider: str, sandbox: Any) -> None:
        self.provider = provider
        self.records: dict[str, dict[str, CrmRecord]] = {}
        if provider == "hubspot":
            for object_type, name in HUBSPOT_TYPES.items():
                self.records[object_type] = self._hubspot(sandbox, name)
        else:
            for object_type, name in SALESFORCE_TYPES.items():
                self.records[object_type] = self._salesforce(sandbox, name)

    @staticmethod
    def _hubspot(sandbox: Any, name: str) -> dict[str, CrmRecord]:
        found: dict[str, CrmRecord] = {}
        for archived in (False, True):
            for external_id in sandbox.ids(name, archived=archived):
                raw = sandbox.get(name, external_id) or {"properties": {}}
                found[external_id] = CrmRecord(external_id, dict(raw["properties"]), not archived,
                                               "deleted" if archived else "")  # fmt: skip
        return found

    @staticmethod
    def _salesforce(sandbox: Any, name: str) -> dict[str, CrmRecord]:
        found: dict[str, CrmRecord] = {}
        for raw in sandbox.records(name, include_deleted=True):
            deleted = bool(raw.get("IsDeleted"))
            note = ""
            if deleted:
                master = raw.get("MasterRecordId")
                note = f"merged into {master}" if master else "deleted"
            found[raw["Id"]] = CrmRecord(raw["Id"], dict(raw), not deleted, note)
        return found

    def get(self, object_type: str, external_id: str) -> CrmRecord | None:
        return self.records.get(object_type, {}).get(external_id)

    def live(self, object_type: str) -> list[CrmRecord]:
        return [r for r in self.records.get(object_type, {}).values() if r.live]
