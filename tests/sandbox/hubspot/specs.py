"""HubSpot's published OpenAPI specs, as the conformance tests check against them.

One deviation is applied, where HubSpot's answers and its published schemas disagree: a
requested property that is defined but has no value comes back as ``null`` (HubSpot's CRM
object guides, on the ``properties`` parameter: "If a requested property is defined but a
[record] doesn't have a value, it will be returned as null"), while the schemas type every
property value as a non-nullable string. Those values of the response schemas are made
nullable; nothing else is changed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SPECS = Path(__file__).resolve().parents[3] / "sandbox" / "specs" / "hubspot"
SPEC_FILES = (
    "crm-companies-v3.json",
    "crm-contacts-v3.json",
    "crm-associations-v4.json",
    "crm-properties-v3.json",
)


@cache
def spec_text(spec_file: str) -> str:
    spec = json.loads((SPECS / spec_file).read_text())
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        if "Input" in name:
            continue  # what a client sends: strings only
        values = schema.get("properties", {}).get("properties", {}).get("additionalProperties")
        if isinstance(values, dict) and values.get("type") == "string":
            values["nullable"] = True
    return json.dumps(spec)


def load_spec(spec_file: str) -> dict[str, Any]:
    """A fresh copy of the spec with the deviation above applied."""
    loaded: dict[str, Any] = json.loads(spec_text(spec_file))
    return loaded
