"""HubSpot webhooks: checking a request's signature, and turning its events into
:class:`~connectors.webhooks.Event` values.

Signatures are checked with the SDK's own ``Signature.is_valid``: v3 (HMAC of method, URL,
raw body and timestamp); v1 (hash of secret and raw body, no timestamp: what legacy private
apps send) only when v3 is not required, because a v1 request can be replayed at any age. v3's timestamp must be at most ``max_age_s`` old — and not
more than :data:`MAX_FUTURE_SKEW_S` ahead, which the SDK alone would let through. The URL
is the public one HubSpot called, rebuilt from the configured public base URL when the app
sits behind a proxy, with the characters HubSpot decodes before signing decoded.

Events name records; ``eventId`` is not unique, so an event is recognised again by what it
says (type, object, time, property and value, merge and association ends).

This module must not touch the database, the broker or the network.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hubspot.exceptions import InvalidSignatureTimestampError, InvalidSignatureVersionError
from hubspot.utils.signature import Signature

from connectors.webhooks import Event, Rejected

PROVIDER = "hubspot"
MAX_FUTURE_SKEW_S = 60.0  # clocks differ a little; a timestamp further ahead is forged
MAX_EVENTS = 1000  # HubSpot sends under 100; anything far above is not HubSpot
MAX_DEPTH = 16  # HubSpot events are flat; deep nesting is an attack on the stack
LATEST_MS = 253_402_300_800_000  # 10000-01-01: past it, no datetime can hold occurredAt

# HubSpot decodes these in the URL before signing it (its "validating requests" page).
URI_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}

# Legacy subscription prefixes and generic objectTypeIds -> crmsync object types.
OBJECT_TYPES = {"company": "company", "contact": "contact"}
OBJECT_TYPE_IDS = {"0-1": "contact", "0-2": "company"}
ASSOCIATION_ENDS = {"CONTACT": "contact", "COMPANY": "company"}

SIGNATURE_V3 = "x-hubspot-signature-v3"
TIMESTAMP = "x-hubspot-request-timestamp"
SIGNATURE_V1 = "x-hubspot-signature"
SIGNATURE_VERSION = "x-hubspot-signature-version"


def signed_uri(base_url: str, path_and_query: str) -> str:
    """The URL HubSpot signed: the base it called (``https://host[:port][/prefix]``) and
    the path and query as sent, with the characters HubSpot decodes decoded."""
    uri = base_url.rstrip("/") + path_and_query
    for encoded, plain in URI_DECODED.items():
        uri = uri.replace(encoded, plain).replace(encoded.lower(), plain)
    return uri


def verify(
    headers: Mapping[str, str],
    body: str,
    *,
    uri: str,
    client_secret: str,
    max_age_s: float,
    require_v3: bool = True,
    now_s: float | None = None,
) -> str:
    """Check the request's signature; returns the version checked, raises :class:`Rejected`.
    With ``require_v3`` a request without a v3 signature is refused, whatever else it has."""
    signature_v3 = headers.get(SIGNATURE_V3)
    if signature_v3 is not None:
        _check_ascii(signature_v3)
        timestamp = headers.get(TIMESTAMP, "")
        _check_timestamp(timestamp, max_age_s, time.time() if now_s is None else now_s)
        try:
            valid = Signature.is_valid(
                signature=signature_v3,
                client_secret=client_secret,
                request_body=body,
                http_uri=uri,
                http_method="POST",
                signature_version="v3",
                timestamp=timestamp,
            )
        except InvalidSignatureTimestampError:
            raise Rejected(401, "stale_timestamp", "request timestamp too old") from None
        if not valid:
            raise Rejected(401, "bad_signature", "signature does not match")
        return "v3"
    if require_v3:
        raise Rejected(
            401,
            "missing_signature",
            "no v3 signature (X-HubSpot-Signature-v3); v1 alone is accepted only with "
            "CRMSYNC_HUBSPOT_WEBHOOK_REQUIRE_V3=false",
        )
    signature_v1 = headers.get(SIGNATURE_V1)
    if signature_v1 is None:
        raise Rejected(401, "missing_signature", "no HubSpot signature")
    _check_ascii(signature_v1)
    version = headers.get(SIGNATURE_VERSION, "v1").lower()
    if version not in ("v1", "v2"):
        raise Rejected(401, "bad_signature", "unknown signature version")
    try:
        valid = Signature.is_valid(
            signature=signature_v1,
            client_secret=client_secret,
            request_body=body,
            http_uri=uri,
            http_method="POST",
            signature_version=version,
        )
    except InvalidSignatureVersionError:
        raise Rejected(401, "bad_signature", "unknown signature version") from None
    if not valid:
        raise Rejected(401, "bad_signature", "signature does not match")
    return version


def _check_ascii(signature: str) -> None:
    # A signature is hex or base64; anything else is forged, and the SDK's comparison
    # (hmac.compare_digest) raises on non-ASCII text instead of answering false.
    if not signature.isascii():
        raise Rejected(401, "bad_signature", "malformed signature")


def _check_timestamp(timestamp: str, max_age_s: float, now_s: float) -> None:
    # ASCII digits only: '²' is a digit to str.isdigit but no number to int().
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        raise Rejected(401, "stale_timestamp", "missing or malformed request timestamp")
    age_s = now_s - int(timestamp) / 1000
    if age_s > max_age_s:
        raise Rejected(401, "stale_timestamp", "request timestamp too old")
    if age_s < -MAX_FUTURE_SKEW_S:
        raise Rejected(401, "stale_timestamp", "request timestamp in the future")


def parse(body: str) -> list[Event]:
    """The request's events; raises :class:`Rejected` (400) for anything not HubSpot-shaped."""
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        raise Rejected(400, "malformed", "body is not JSON") from None
    if not isinstance(data, list) or not 0 < len(data) <= MAX_EVENTS:
        raise Rejected(400, "malformed", "body is not a non-empty JSON array of events")
    return [_event(raw) for raw in data]


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError("number out of range")  # 1e999: JSONB cannot hold infinity
    return number


def _event(raw: Any) -> Event:
    if not isinstance(raw, dict):
        raise Rejected(400, "malformed", "an event is not a JSON object")
    raw = storable(raw)
    kind = raw.get("subscriptionType")
    portal = raw.get("portalId")
    occurred = raw.get("occurredAt")
    if not isinstance(kind, str) or "." not in kind:
        raise Rejected(400, "malformed", "an event has no subscriptionType")
    if not _integer(portal):
        raise Rejected(400, "malformed", "an event has no portalId")
    if not isinstance(occurred, int) or isinstance(occurred, bool) or not 0 <= occurred < LATEST_MS:
        raise Rejected(400, "malformed", "an event has no occurredAt")
    return Event(
        account_id=str(portal),
        dedupe_key=dedupe_key(raw),
        occurred_at=datetime.fromtimestamp(occurred / 1000, UTC),
        records=tuple(_records(kind, raw)),
        payload=raw,
    )


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object_type(kind: str, raw: dict[str, Any]) -> str | None:
    prefix = kind.split(".", 1)[0]
    if prefix == "object":
        type_id = raw.get("objectTypeId")
        return OBJECT_TYPE_IDS.get(type_id) if isinstance(type_id, str) else None
    return OBJECT_TYPES.get(prefix)


def _records(kind: str, raw: dict[str, Any]) -> list[tuple[str, str]]:
    """The (object type, id) pairs an event names; none for objects crmsync does not sync."""
    object_type = _object_type(kind, raw)
    action = kind.split(".", 1)[1]
    records: list[tuple[str, str]] = []
    if action == "associationChange":
        # Both ends changed: a contact's company is part of the contact and of the company.
        from_type, _, to_type = str(raw.get("associationType", "")).partition("_TO_")
        ends = (
            (ASSOCIATION_ENDS.get(from_type), raw.get("fromObjectId")),
            (ASSOCIATION_ENDS.get(to_type), raw.get("toObjectId")),
        )
        for end_type, end_id in ends:
            if end_type is not None and _integer(end_id):
                records.append((end_type, str(end_id)))
        return records
    if object_type is None:
        return records
    ids: list[Any] = [raw.get("objectId")]
    if action == "merge":
        # The survivor carries the merged record's data; the losers must be unlinked.
        merged = raw.get("mergedObjectIds")
        ids += [raw.get("primaryObjectId"), raw.get("newObjectId")]
        ids += merged if isinstance(merged, list) else []
    for value in ids:
        if _integer(value) and value > 0:
            records.append((object_type, str(value)))
        elif isinstance(value, str) and value.isascii() and value.isdigit():
            records.append((object_type, value))
    if not records and action != "merge":
        raise Rejected(400, "malformed", "an event has no objectId")
    return list(dict.fromkeys(records))


def storable(value: Any, depth: int = 0) -> Any:
    """The value as the database can keep it: no NUL characters (PostgreSQL's JSONB
    refuses them), no lone surrogates (not UTF-8), nesting no deeper than HubSpot's."""
    if depth > MAX_DEPTH:
        raise Rejected(400, "malformed", "an event is nested too deeply")
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "")
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    if isinstance(value, list):
        return [storable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {storable(key, depth + 1): storable(item, depth + 1) for key, item in value.items()}
    return value


def dedupe_key(raw: Mapping[str, Any]) -> str:
    """Same event, same key — across redeliveries, whatever their eventId or attempt."""
    parts = [
        raw.get(name)
        for name in (
            "subscriptionType",
            "objectTypeId",
            "objectId",
            "occurredAt",
            "propertyName",
            "propertyValue",
            "primaryObjectId",
            "mergedObjectIds",
            "fromObjectId",
            "toObjectId",
            "associationType",
            "associationRemoved",
        )
    ]
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
    return f"hubspot:{digest}"
