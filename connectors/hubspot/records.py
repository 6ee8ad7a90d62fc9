"""HubSpot record JSON to ``RemoteRecord``, and the property lists the connector asks for.

Pure functions: no SDK, no I/O. HubSpot returns every property value as a string; they stay
strings here (``mappings`` converts them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from connectors.base import RemoteRecord

# Our object type names and HubSpot's path segments.
OBJECT_TYPES = ("company", "contact")
SEGMENTS = {"company": "companies", "contact": "contacts"}
MODIFIED_PROPERTY = {"company": "hs_lastmodifieddate", "contact": "lastmodifieddate"}
DEFAULT_ID_PROPERTY = "crmsync_id"
# Standard properties read when the caller names none (CRM-API-FACTS, section 1).
COMPANY_PROPERTIES = (
    "name",
    "domain",
    "website",
    "phone",
    "address",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "industry",
    "description",
    "numberofemployees",
    "annualrevenue",
    "hs_additional_domains",
)
CONTACT_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "mobilephone",
    "jobtitle",
    "company",
    "website",
    "address",
    "city",
    "state",
    "zip",
    "country",
)
DEFAULT_PROPERTIES = {"company": COMPANY_PROPERTIES, "contact": CONTACT_PROPERTIES}
# Read on every record whatever the caller asks: identity, time, merges, primary company.
SYSTEM_PROPERTIES = ("hs_object_id", "createdate", "hs_merged_object_ids")
PRIMARY_TYPE_IDS = {1}  # contact -> company "Primary" (HUBSPOT_DEFINED)
PRIMARY_V3_NAME = "contact_to_company"


def read_properties(object_type: str, wanted: Iterable[str], id_property: str) -> list[str]:
    names = [*wanted, *SYSTEM_PROPERTIES, MODIFIED_PROPERTY[object_type], id_property]
    if object_type == "contact":
        names.append("associatedcompanyid")
    return list(dict.fromkeys(names))


def parse_time(value: str | None) -> datetime | None:
    """HubSpot timestamps: ISO-8601 (``2024-09-11T13:27:39.356Z``) or epoch milliseconds."""
    if not value:
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def modified_ms(object_type: str, raw: dict[str, Any]) -> int:
    moment = parse_time((raw.get("properties") or {}).get(MODIFIED_PROPERTY[object_type]))
    moment = moment or parse_time(raw.get("updatedAt")) or datetime.now(UTC)
    return to_ms(moment)


def to_record(
    object_type: str,
    raw: dict[str, Any],
    *,
    id_property: str,
    associations: Iterable[str] | None = None,
) -> RemoteRecord:
    # HubSpot answers a requested property without a value as null: an empty value, which
    # clears (unless the map says ``on_blank: keep``). A property it leaves out was not
    # requested, or the portal has no such property: not known, so nothing is cleared.
    props = {k: "" if v is None else v for k, v in (raw.get("properties") or {}).items()}
    modified = parse_time(props.get(MODIFIED_PROPERTY[object_type])) or parse_time(
        raw.get("archivedAt") if raw.get("archived") else raw.get("updatedAt")
    )
    merged = tuple(i for i in str(props.get("hs_merged_object_ids") or "").split(";") if i)
    if associations is None:
        associations = inline_associations(raw, props.get("associatedcompanyid"))
    return RemoteRecord(
        object_type=object_type,
        external_id=str(raw["id"]),
        properties=props,
        modified_at=modified or datetime.now(UTC),
        archived=bool(raw.get("archived")),
        merged_ids=merged,
        associations=tuple(associations),
        local_id=props.get(id_property) or None,
    )


def inline_associations(raw: dict[str, Any], primary: str | None) -> list[str]:
    """Company ids from a v3 read's ``associations`` block, primary first."""
    block = (raw.get("associations") or {}).get("companies") or {}
    ids: list[str] = []
    first: str | None = str(primary) if primary else None
    for item in block.get("results") or []:
        company_id = str(item.get("id"))
        if item.get("type") == PRIMARY_V3_NAME:
            first = first or company_id
        if company_id not in ids:
            ids.append(company_id)
    return primary_first(ids, first)


def v4_associations(rows: list[dict[str, Any]], primary: str | None) -> list[str]:
    """Company ids from a v4 batch read's ``to`` list, primary first."""
    ids: list[str] = []
    first: str | None = str(primary) if primary else None
    for row in rows:
        company_id = str(row.get("toObjectId"))
        types = row.get("associationTypes") or []
        if any(t.get("typeId") in PRIMARY_TYPE_IDS for t in types if isinstance(t, dict)):
            first = first or company_id
        if company_id not in ids:
            ids.append(company_id)
    return primary_first(ids, first)


def primary_first(ids: list[str], primary: str | None) -> list[str]:
    if primary and primary in ids:
        return [primary, *(i for i in ids if i != primary)]
    return ids


def tombstone(
    object_type: str, external_id: str, *, merged_into: str | None = None
) -> RemoteRecord:
    """A record that no longer exists (deleted and purged, or merged away)."""
    return RemoteRecord(
        object_type=object_type,
        external_id=external_id,
        properties={},
        modified_at=datetime.now(UTC),
        archived=True,
        merged_into=merged_into,
    )
