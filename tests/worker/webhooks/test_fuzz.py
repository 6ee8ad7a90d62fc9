"""Random bodies and headers through the ASGI app: never a 5xx, and a refused request
leaves nothing enqueued and nothing written. Half the HubSpot bodies are validly signed
so the fuzzing reaches the parser, the routing and the database, not just the signature
check."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from sandbox.salesforce.soap import envelope, notification_xml
from tests.worker.webhooks.conftest import (
    BASE_URL,
    ORG_ID,
    OTHER_PORTAL,
    PAUSED_PORTAL,
    PORTAL,
    SF_TOKEN,
    drain_stub,
    event_rows,
    signed_headers,
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
real_kinds = st.sampled_from([
    f"{obj}.{action}" for obj in ("company", "contact", "object", "deal")
    for action in ("creation", "deletion", "propertyChange", "merge", "restore", "associationChange")
])  # fmt: skip
kinds = st.one_of(real_kinds, real_kinds, real_kinds, st.text(max_size=20))
ids = st.integers(min_value=-5, max_value=10**20) | json_values
optional_fields = {
    "eventId": st.integers(),
    "propertyName": st.text(max_size=10),
    "propertyValue": json_values,
    "objectTypeId": st.sampled_from(["0-1", "0-2", "0-3"]) | json_values,
    "primaryObjectId": ids,
    "mergedObjectIds": st.lists(ids, max_size=3) | json_values,
    "associationType": st.sampled_from(["CONTACT_TO_COMPANY", "COMPANY_TO_CONTACT", "DEAL_TO_CONTACT"]) | st.text(max_size=8),
    "fromObjectId": ids,
    "toObjectId": ids,
}  # fmt: skip
events = st.fixed_dictionaries(
    {
        "subscriptionType": kinds,
        "portalId": st.sampled_from([PORTAL, OTHER_PORTAL, PAUSED_PORTAL, 5]) | json_values,
        "occurredAt": st.integers(min_value=-10, max_value=2**70) | json_values,
        "objectId": ids,
    },
    optional=optional_fields,
)
# Events whose core fields are right, so random extras reach routing and the database.
plausible_events = st.fixed_dictionaries(
    {
        "subscriptionType": kinds,
        "portalId": st.sampled_from([PORTAL, OTHER_PORTAL, PAUSED_PORTAL]),
        "occurredAt": st.integers(min_value=0, max_value=2**45),
        "objectId": st.integers(min_value=1, max_value=10**20),
    },
    optional=optional_fields,
)
bodies = (
    st.lists(events, max_size=4).map(lambda e: json.dumps(e))
    | st.lists(plausible_events, min_size=1, max_size=4).map(lambda e: json.dumps(e))
    | json_values.map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
random_headers = st.dictionaries(
    st.sampled_from([
        "Content-Type", "X-HubSpot-Signature", "X-HubSpot-Signature-Version",
        "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "Content-Length",
    ]),
    header_values | st.sampled_from(["application/json", "text/xml", "v1", "v3", "0", "99999999999999"]),
    max_size=6,
)  # fmt: skip


def check(client: TestClient, sessions: sessionmaker[Session], path: str, body: bytes, headers: dict[str, str]) -> None:  # fmt: skip
    before = event_rows(sessions)
    response = client.post(path, content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text)
    messages = drain_stub()
    if response.status_code != 200:
        assert messages == [] and event_rows(sessions) == before, response.text


@FUZZ
@given(body=bodies, headers=random_headers, sign=st.booleans())
def test_hubspot_fuzz(
    client: TestClient,
    sessions: sessionmaker[Session],
    body: str,
    headers: dict[str, str],
    sign: bool,
) -> None:
    if sign:
        headers.pop("Content-Length", None)
        headers = {**headers, **signed_headers(body, f"{BASE_URL}/webhooks/hubspot")}
    check(client, sessions, "/webhooks/hubspot", body.encode("utf-8", "surrogatepass"), headers)


@FUZZ
@given(events=st.lists(plausible_events, min_size=1, max_size=6))
def test_signed_plausible_events_fuzz(
    client: TestClient, sessions: sessionmaker[Session], events: list[dict[str, Any]]
) -> None:
    body = json.dumps(events)
    headers = signed_headers(body, f"{BASE_URL}/webhooks/hubspot")
    check(client, sessions, "/webhooks/hubspot", body.encode("utf-8", "surrogatepass"), headers)


notifications = st.lists(
    st.tuples(
        st.sampled_from(["04l5J000000AAAAQA4", "04l5J000000AAABQA4"]) | st.text(max_size=20),
        st.sampled_from(["Account", "Contact", "Lead"]) | st.text(alphabet="abcXYZ", min_size=1, max_size=8),
        st.sampled_from(["0015J00000AbCdEAAV", "0035J00000XyZaBAAV"]) | st.text(max_size=20),
    ),
    max_size=3,
)  # fmt: skip
xml_bodies = (
    st.tuples(notifications, st.sampled_from([ORG_ID, "00D5J0000000002AAA"]) | st.text(max_size=20)).map(
        lambda args: envelope(
            organization_id=args[1], action_id="04k", session_id=None, enterprise_url="e", partner_url="p",
            notifications=[notification_xml(n, o, {"Id": r}) for n, o, r in args[0]],
        )
    )
    | st.binary(max_size=300)
)  # fmt: skip


@FUZZ
@given(
    body=xml_bodies,
    token=st.sampled_from([SF_TOKEN]) | st.text(alphabet="abc-_%.", min_size=1, max_size=70),
    content_type=st.sampled_from(["text/xml", "application/soap+xml; charset=utf-8"])
    | header_values,
)
def test_salesforce_fuzz(
    client: TestClient, sessions: sessionmaker[Session], body: bytes, token: str, content_type: str
) -> None:
    headers: dict[str, Any] = {"Content-Type": content_type}
    check(client, sessions, f"/webhooks/salesforce/{token}", body, headers)
