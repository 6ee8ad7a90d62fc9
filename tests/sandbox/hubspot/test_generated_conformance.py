"""Generated-case conformance: schemathesis builds requests from HubSpot's published specs
(``sandbox/specs/hubspot/``, with the one deviation ``specs.py`` explains), valid ones and deliberately invalid ones (wrong types,
missing fields), sends them to a running sandbox over its socket and checks every answer:
never a 5xx, a documented status code, the documented content type and a body that fits
the response schema (HubSpot's ``Error`` for every error).

The run is bounded and deterministic: a fixed number of examples per operation, generated
derandomized, against one sandbox per spec that holds a few records, so ids the cases reuse
can resolve. Path parameters naming an object type are mapped onto the two types the
sandbox serves (any other answers a 400, which conforms but tests nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sandbox.hubspot import HubSpotSandbox
from tests.sandbox.hubspot.specs import load_spec

MAX_EXAMPLES = 6  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OBJECT_TYPE_PARAMETERS = ("objectType", "fromObjectType", "toObjectType")
SERVED_TYPES = ("companies", "contacts")


def load(spec_file: str) -> Any:
    schema = schemathesis.openapi.from_dict(load_spec(spec_file))
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
    )
    return schema


SCHEMAS = {
    "companies": load("crm-companies-v3.json"),
    "contacts": load("crm-contacts-v3.json"),
    "properties": load("crm-properties-v3.json"),
    # The associations usage report concerns a portal's users and their association limits,
    # which the sandbox has no notion of: it serves no such endpoint.
    "associations": load("crm-associations-v4.json").exclude(
        path="/crm/v4/associations/usage/high-usage-report/{userId}"
    ),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(limits=None) as started:
        company = started.create("companies", {"name": "Acme", "domain": "acme.test"})
        started.create("contacts", {"email": "ada@acme.test"}, company_id=company["id"])
        yield started


def _served_types(case: schemathesis.Case) -> None:
    """Point object-type path parameters at served types, deterministically per case, so
    the cases reach the sandbox's logic rather than its "unknown type" answer; a pair of
    types always differs (contacts <-> companies)."""
    parameters = case.path_parameters or {}
    present = [name for name in OBJECT_TYPE_PARAMETERS if name in parameters]
    if not present:
        return
    first = SERVED_TYPES[len(str(parameters[present[0]])) % 2]
    for index, name in enumerate(present):
        parameters[name] = first if index == 0 else SERVED_TYPES[1 - SERVED_TYPES.index(first)]


@schemathesis.pytest.parametrize(**SCHEMAS)
@settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_responses_conform_to_the_specs(case: schemathesis.Case, sandbox: HubSpotSandbox) -> None:
    _served_types(case)
    case.call_and_validate(
        base_url=sandbox.url,
        headers={"Authorization": f"Bearer {sandbox.access_token}"},
        checks=CHECKS,
        timeout=10,
    )
